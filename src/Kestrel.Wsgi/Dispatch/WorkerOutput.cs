using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// One log stream: a worker's stdout and stderr (print, wsgi.errors, Python's logging, tracebacks) are read by the
/// front and logged as its own events, tagged with the worker's pid and the request that printed them. The worker
/// writes each record as US + request id + US + text, with RS for the newlines inside it (kwsgi_worker.py,
/// TaggedOutput); a line without the tag (a C extension writing to the fd) is logged as it is.
/// </summary>
internal sealed partial class WorkerOutput
{
    /// <summary>The worker tags its output only when told to, so a worker whose output is not read stays plain.</summary>
    public const string TagVariable = "KWSGI_TAGGED_OUTPUT";

    private const char Unit = '\x1f';
    private const char Record = '\x1e';

    private readonly ILogger _logger;
    private readonly int _pid;
    private readonly bool _splitLines;

    private WorkerOutput(ILogger logger, int pid, bool splitLines)
    {
        _logger = logger;
        _pid = pid;
        _splitLines = splitLines;
    }

    /// <summary>
    /// Reads both of the process's redirected streams until it closes them. <paramref name="splitLines"/>: one entry per
    /// line (the text log, whose one-line format would otherwise run a traceback's lines together), else one per record.
    /// </summary>
    public static void Start(Process process, ILogger logger, bool splitLines)
    {
        var output = new WorkerOutput(logger, process.Id, splitLines);
        _ = Task.Run(() => output.PumpAsync(process.StandardOutput, "stdout"));
        _ = Task.Run(() => output.PumpAsync(process.StandardError, "stderr"));
    }

    private async Task PumpAsync(StreamReader reader, string stream)
    {
        try
        {
            while (await reader.ReadLineAsync().ConfigureAwait(false) is string line)
            {
                Log(stream, line);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The worker is gone.
        }
    }

    /// <summary>One record: stderr at Warning, stdout at Information.</summary>
    internal void Log(string stream, string line)
    {
        string? requestId = null;
        string text = line;
        if (line.Length >= 2 && line[0] == Unit)
        {
            int end = line.IndexOf(Unit, 1);
            if (end > 0)
            {
                requestId = end > 1 ? line[1..end] : null;
                text = line[(end + 1)..].Replace(Record, '\n');
            }
        }
        requestId ??= "-";
        if (_splitLines && text.Contains('\n'))
        {
            foreach (string part in text.Split('\n'))
            {
                Log(stream, requestId, part);
            }
            return;
        }
        Log(stream, requestId, text);
    }

    private void Log(string stream, string requestId, string text)
    {
        if (stream == "stderr")
        {
            LogStderr(_pid, requestId, text);
        }
        else
        {
            LogStdout(_pid, requestId, text);
        }
    }

    [LoggerMessage(60, LogLevel.Information, "Worker {Pid} request {RequestId} stdout: {Text}")]
    private partial void LogStdout(int pid, string requestId, string text);

    [LoggerMessage(61, LogLevel.Warning, "Worker {Pid} request {RequestId} stderr: {Text}")]
    private partial void LogStderr(int pid, string requestId, string text);
}

using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Front.AccessLog;

/// <summary>
/// The access log's one writer: the request path hands it an entry with a non-blocking TryWrite into a bounded
/// queue; a full queue drops the line and counts it (requests run inline on I/O threads, docs/channel.md, The hops,
/// and must never wait for a disk). A background task formats the lines and writes them in batches.
/// </summary>
internal sealed partial class AccessLogWriter : IAsyncDisposable
{
    public const int QueueCapacity = 16 * 1024;

    private static readonly TimeSpan s_dropReportPeriod = TimeSpan.FromSeconds(10);

    private readonly System.Threading.Channels.Channel<AccessLogEntry> _queue;
    private readonly AccessLogFormat _format;
    private readonly Stream _output;
    private readonly bool _ownsOutput;
    private readonly ILogger _logger;
    private readonly Task _writing;
    private long _dropped;
    private long _droppedReported;

    private AccessLogWriter(AccessLogFormat format, Stream output, bool ownsOutput, ILogger logger, int capacity)
    {
        _format = format;
        _output = output;
        _ownsOutput = ownsOutput;
        _logger = logger;
        _queue = System.Threading.Channels.Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(capacity)
        {
            // Wait makes TryWrite say false when full (DropWrite would say true): that is how a drop is counted.
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = true,
            SingleWriter = false,
        });
        _writing = Task.Factory.StartNew(WriteLoopAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public AccessLogFormat Format => _format;

    /// <summary>Lines dropped because the queue was full, since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>A writer to <paramref name="path"/> (appended to), or to stdout for <c>-</c>.</summary>
    public static AccessLogWriter Open(string path, AccessLogFormat format, ILogger logger, int capacity = QueueCapacity)
    {
        if (path == "-")
        {
            return new AccessLogWriter(format, Console.OpenStandardOutput(), ownsOutput: false, logger, capacity);
        }
        try
        {
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (folder is not null && !Directory.Exists(folder))
            {
                throw new DirectoryNotFoundException($"the folder {folder} does not exist");
            }
            var file = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.None);
            return new AccessLogWriter(format, file, ownsOutput: true, logger, capacity);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new Hosting.UsageException($"--access-log {path}: {ex.Message}");
        }
    }

    /// <summary>A writer to any stream, which it does not close (unit tests).</summary>
    internal static AccessLogWriter ForTests(Stream output, AccessLogFormat format, ILogger logger, int capacity) =>
        new(format, output, ownsOutput: false, logger, capacity);

    /// <summary>Queues one line; never blocks. False (and counted) when the queue is full.</summary>
    public bool TryWrite(AccessLogEntry entry)
    {
        if (_queue.Writer.TryWrite(entry))
        {
            return true;
        }
        Interlocked.Increment(ref _dropped);
        return false;
    }

    /// <summary>
    /// How long lines gather before the writer looks again. The writer waking for every line would cost a thread
    /// wake-up per request (docs/channel.md, The hops); this way it is one per batch, and an idle server none.
    /// </summary>
    private static readonly TimeSpan s_batchDelay = TimeSpan.FromMilliseconds(50);

    private async Task WriteLoopAsync()
    {
        var line = new StringBuilder(256);
        var batch = new MemoryStream(64 * 1024);
        char[] chars = new char[1024];
        long nextReport = Environment.TickCount64 + (long)s_dropReportPeriod.TotalMilliseconds;
        ChannelReader<AccessLogEntry> reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out AccessLogEntry? entry))
            {
                line.Clear();
                _format.Write(entry, line);
                if (chars.Length < line.Length)
                {
                    chars = new char[line.Length * 2];
                }
                line.CopyTo(0, chars, 0, line.Length);
                int size = Encoding.UTF8.GetMaxByteCount(line.Length);
                if (batch.Capacity - batch.Length < size)
                {
                    Flush(batch);
                    batch.Capacity = Math.Max(batch.Capacity, size);
                }
                int at = (int)batch.Length;
                batch.SetLength(at + size);
                int written = Encoding.UTF8.GetBytes(chars, 0, line.Length, batch.GetBuffer(), at);
                batch.SetLength(at + written);
            }
            // Whole lines only, so lines never interleave with another writer's on the same stream.
            Flush(batch);
            if (Environment.TickCount64 >= nextReport)
            {
                nextReport = Environment.TickCount64 + (long)s_dropReportPeriod.TotalMilliseconds;
                ReportDrops();
            }
            await Task.Delay(s_batchDelay).ConfigureAwait(false);
        }
        ReportDrops();
    }

    private void Flush(MemoryStream batch)
    {
        if (batch.Length == 0)
        {
            return;
        }
        try
        {
            _output.Write(batch.GetBuffer(), 0, (int)batch.Length);
            _output.Flush();
        }
        catch (IOException ex)
        {
            LogWriteFailed(ex.Message);
        }
        batch.SetLength(0);
    }

    private void ReportDrops()
    {
        long dropped = Dropped;
        if (dropped != _droppedReported)
        {
            LogDropped(dropped - _droppedReported, dropped);
            _droppedReported = dropped;
        }
    }

    /// <summary>Writes what is queued, then closes the file.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _writing.ConfigureAwait(false);
        if (_ownsOutput)
        {
            await _output.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(50, LogLevel.Warning, "The access log dropped {Count} lines ({Total} since start): its queue was full, the disk or stdout too slow.")]
    private partial void LogDropped(long count, long total);

    [LoggerMessage(51, LogLevel.Error, "The access log could not be written: {Reason}")]
    private partial void LogWriteFailed(string reason);
}

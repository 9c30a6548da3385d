using System.Diagnostics;
using System.Net.Sockets;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// A running worker process: its start, its stop, and what the supervisor watches (WorkerProcess.Lifetime.cs).
/// The protocol spoken with it is its <see cref="Connection"/>'s.
/// </summary>
internal sealed partial class WorkerProcess : IAsyncDisposable
{
    private static readonly TimeSpan s_startupTimeout = TimeSpan.FromMinutes(2);

    private readonly Process? _process;

    /// <param name="process">The OS process; null for a worker whose channel is in memory (tests of the front).</param>
    internal WorkerProcess(Process? process, Stream stream)
    {
        _process = process;
        Connection = new WorkerConnection(stream, OnPong);
    }

    /// <summary>The front's end of the channel: frames, requests in flight, credit.</summary>
    public WorkerConnection Connection { get; }

    public int ProcessId => _process?.Id ?? 0;

    /// <summary>Requests dispatched here and not yet released; guarded by the pool's lock.</summary>
    public int InFlight { get; set; }

    /// <summary>False once the channel broke; a lost worker takes no more requests.</summary>
    public bool IsAlive => Connection.IsAlive;

    /// <summary>Starts the process and waits until it has imported the app.</summary>
    public static async Task<WorkerProcess> StartAsync(WorkerLaunch launch, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            WorkerJob.Join(); // before the first worker exists, so every worker is born in the job
        }
        using ChannelListener listener = Listen();
        Process? process = null;
        Stream? stream = null;
        try
        {
            process = Process.Start(launch.CreateStartInfo(listener.Address)) ?? throw new InvalidOperationException("The worker process did not start.");
            listener.Watch(process);
            if (launch.OutputLogger is { } outputLogger)
            {
                WorkerOutput.Start(process, outputLogger, launch.OutputSplitLines);
            }
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_startupTimeout);
            Task<Stream> accept = listener.AcceptAsync(timeout.Token);
            Task exited = process.WaitForExitAsync(timeout.Token);
            if (await Task.WhenAny(accept, exited).ConfigureAwait(false) != accept)
            {
                throw Exited(process);
            }
            stream = await accept.ConfigureAwait(false);
            var worker = new WorkerProcess(process, stream);
            await worker.WaitReadyAsync(timeout.Token).ConfigureAwait(false);
            worker.OnReady();
            return worker;
        }
        catch (Exception) when (process is not null)
        {
            stream?.Dispose();
            Kill(process);
            throw;
        }
    }

    /// <summary>A new channel endpoint; a temp folder where none can be made is the user's to fix, said in one line.</summary>
    private static ChannelListener Listen()
    {
        try
        {
            return ChannelListener.Create();
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            string folder = Path.GetTempPath();
            string why = Directory.Exists(folder) ? ex.Message : "the folder does not exist (TMPDIR or TEMP names it)";
            throw new WorkerStartupException($"cannot create a worker channel in the temp folder {folder}: {why}", "");
        }
    }

    private static WorkerStartupException Exited(Process process)
    {
        process.WaitForExit();
        return new WorkerStartupException($"the worker process exited with code {process.ExitCode} before it loaded the app", "");
    }

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        string? failure;
        try
        {
            failure = await Connection.WaitReadyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw Exited(_process!);
        }
        if (failure is not null)
        {
            int newline = failure.IndexOf('\n');
            throw new WorkerStartupException(newline < 0 ? failure : failure[..newline], newline < 0 ? "" : failure[(newline + 1)..]);
        }
    }

    /// <summary>Registers a new request on this worker, with its --timeout deadline.</summary>
    public Exchange Open() => Connection.Open(RequestDeadline());

    /// <summary>Registers a WebSocket on this worker: no --timeout (a conversation lasts as long as it lasts), and a whole window for client messages.</summary>
    public Exchange OpenWebSocket() => Connection.Open(long.MaxValue, FlowWindow.Size);

    public void Close(Exchange exchange) => Connection.Close(exchange);

    /// <summary>Routes the worker's frames until its channel closes (see <see cref="WorkerConnection.RunAsync"/>).</summary>
    public Task RunAsync() => Connection.RunAsync();

    /// <summary>Asks the worker to finish what it has and exit; waits up to <paramref name="timeout"/>, then kills it.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        try
        {
            await Connection.SendAsync(FrameType.Stop, FrameFlags.None, 0, default).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Already gone.
        }
        if (_process is null)
        {
            return;
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(_process);
        }
    }

    /// <summary>Waits for the process to end after its channel closed, killing it if it lingers.</summary>
    public async Task<int> WaitForExitAsync()
    {
        if (_process is null)
        {
            return 0;
        }
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(_process);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        return _process.ExitCode;
    }

    private static void Kill(Process? process)
    {
        try
        {
            process?.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill(_process);
        await Connection.DisposeAsync().ConfigureAwait(false);
        _process?.Dispose();
    }
}

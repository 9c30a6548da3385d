using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// What the supervisor watches on a worker: its heartbeat, its requests' deadlines, its memory, how many
/// requests it was given, and whether it should be replaced.
/// </summary>
internal sealed partial class WorkerProcess
{
    private readonly Lock _recycleLock = new();
    private TaskCompletionSource<string> _recycle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource<bool> _replaced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastHeartbeat;
    private int _gilWaitMs;

    /// <summary>Time a request may run here before it is answered 504 and the worker killed (0: no limit).</summary>
    public long RequestTimeoutMs { get; set; }

    /// <summary>Requests dispatched here; guarded by the pool's lock.</summary>
    public long Dispatched { get; set; }

    /// <summary>After this many dispatched requests the worker asks to be replaced (<c>--max-requests</c> plus jitter).</summary>
    public long RequestLimit { get; set; } = long.MaxValue;

    /// <summary>Why the supervisor killed this worker; null when it died by itself.</summary>
    public string? KilledBecause { get; private set; }

    /// <summary>A replacement for this worker failed to load the app: only a reload tries again.</summary>
    public bool ReplacementFailed { get; private set; }

    /// <summary>Completes with the reason once someone asked for this worker to be replaced.</summary>
    public Task<string> RecycleRequested
    {
        get
        {
            lock (_recycleLock)
            {
                return _recycle.Task;
            }
        }
    }

    /// <summary>
    /// Asks the supervisor to start a successor and then retire this worker gracefully. The task says whether
    /// the successor took over. Only <paramref name="evenAfterFailure"/> (a reload) retries after a replacement
    /// failed to load the app, so a broken app file is not re-imported on every request or memory check.
    /// </summary>
    public Task<bool> RequestRecycle(string reason, bool evenAfterFailure = false)
    {
        lock (_recycleLock)
        {
            if (ReplacementFailed && !evenAfterFailure)
            {
                return Task.FromResult(false);
            }
            _recycle.TrySetResult(reason);
            return _replaced.Task;
        }
    }

    /// <summary>The supervisor's answer to <see cref="RequestRecycle"/>; a failure re-arms the request.</summary>
    public void RecycleDone(bool replaced)
    {
        TaskCompletionSource<bool> done;
        lock (_recycleLock)
        {
            done = _replaced;
            if (!replaced)
            {
                ReplacementFailed = true;
                _recycle = new(TaskCreationOptions.RunContinuationsAsynchronously);
                _replaced = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        done.TrySetResult(replaced);
    }

    /// <summary>Time since the worker's last heartbeat (it sends one a second from a thread that never needs the GIL).</summary>
    public TimeSpan SinceHeartbeat => TimeSpan.FromMilliseconds(Environment.TickCount64 - Volatile.Read(ref _lastHeartbeat));

    /// <summary>How long the worker's GIL probe had been waiting for the GIL at the last heartbeat.</summary>
    public TimeSpan GilWait => TimeSpan.FromMilliseconds(Volatile.Read(ref _gilWaitMs));

    /// <summary>Resident memory of the process (VmRSS on Linux, the working set on Windows); 0 once it is gone.</summary>
    public long ResidentBytes
    {
        get
        {
            if (_process is null)
            {
                return 0;
            }
            try
            {
                _process.Refresh();
                return _process.WorkingSet64;
            }
            catch (InvalidOperationException)
            {
                return 0;
            }
        }
    }

    private void OnReady() => Volatile.Write(ref _lastHeartbeat, Environment.TickCount64);

    private void OnPong(int waited)
    {
        Volatile.Write(ref _gilWaitMs, waited);
        Volatile.Write(ref _lastHeartbeat, Environment.TickCount64);
    }

    private long RequestDeadline() => RequestTimeoutMs > 0 ? Environment.TickCount64 + RequestTimeoutMs : long.MaxValue;

    /// <summary>
    /// Answers every request past its deadline with 504 and kills the worker: a Python thread cannot be
    /// stopped from outside, so the process goes, and its other requests get 502. True if any was overdue.
    /// </summary>
    public bool TimeOutOverdue(long now)
    {
        bool any = false;
        foreach (Exchange exchange in Connection.Exchanges)
        {
            if (!exchange.Answered && exchange.Deadline <= now)
            {
                // Posted before the kill, so the client sees 504 rather than the 502 of the lost channel.
                exchange.Post(new ResponsePart(ResponsePartKind.TimedOut, null, 0, true));
                any = true;
            }
        }
        if (any)
        {
            Abandon("a request ran past --timeout");
        }
        return any;
    }

    /// <summary>Takes no more requests and kills the process at once; its in-flight requests get 502.</summary>
    public void Abandon(string reason)
    {
        KilledBecause ??= reason;
        Connection.MarkLost();
        Kill(_process);
    }
}

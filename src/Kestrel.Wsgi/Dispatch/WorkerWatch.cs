using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// The supervisor's periodic look at every live worker: requests past <c>--timeout</c> (504, worker killed),
/// a worker whose heartbeat stopped or whose GIL has been held too long (killed), a worker over
/// <c>--max-worker-memory</c> (replaced gracefully).
/// </summary>
internal sealed partial class WorkerWatch(SupervisorSettings settings, ILogger logger)
{
    /// <summary>Often enough that a timed-out request is answered within a quarter second of its deadline.</summary>
    public TimeSpan Period => settings.RequestTimeout > TimeSpan.Zero ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(1);

    private long _lastMemoryCheck;

    public bool IsNeeded => settings.RequestTimeout > TimeSpan.Zero || settings.HeartbeatTimeout > TimeSpan.Zero || settings.MaxWorkerMemory > 0;

    /// <summary>One round over the workers; <paramref name="serving"/> are those in the pool (only they are recycled).</summary>
    public void Check(IEnumerable<WorkerProcess> serving, IEnumerable<WorkerProcess> retiring)
    {
        long now = Environment.TickCount64;
        // Reading a process's memory costs a /proc read; once a second is plenty.
        bool memory = settings.MaxWorkerMemory > 0 && now - _lastMemoryCheck >= 1000;
        if (memory)
        {
            _lastMemoryCheck = now;
        }
        foreach (WorkerProcess worker in serving)
        {
            if (CheckHealth(worker, now) && memory && worker.IsAlive)
            {
                long resident = worker.ResidentBytes;
                if (resident > settings.MaxWorkerMemory && !worker.RecycleRequested.IsCompleted && !worker.ReplacementFailed)
                {
                    LogOverMemory(worker.ProcessId, resident >> 20, settings.MaxWorkerMemory >> 20);
                    worker.RequestRecycle($"it uses {resident >> 20} MiB (--max-worker-memory {settings.MaxWorkerMemory >> 20})");
                }
            }
        }
        foreach (WorkerProcess worker in retiring)
        {
            CheckHealth(worker, now);
        }
    }

    /// <summary>False when the worker was killed.</summary>
    private bool CheckHealth(WorkerProcess worker, long now)
    {
        if (!worker.IsAlive)
        {
            return false;
        }
        if (settings.RequestTimeout > TimeSpan.Zero && worker.TimeOutOverdue(now))
        {
            LogTimedOut(worker.ProcessId, settings.RequestTimeout.TotalSeconds);
            return false;
        }
        if (settings.HeartbeatTimeout > TimeSpan.Zero)
        {
            TimeSpan silent = worker.SinceHeartbeat;
            TimeSpan gil = worker.GilWait;
            if (silent > settings.HeartbeatTimeout || gil > settings.HeartbeatTimeout)
            {
                string what = silent > settings.HeartbeatTimeout
                    ? $"no heartbeat for {silent.TotalSeconds:0.#} s"
                    : $"its GIL has been held for {gil.TotalSeconds:0.#} s without a release";
                LogUnresponsive(worker.ProcessId, what, settings.HeartbeatTimeout.TotalSeconds);
                worker.Abandon($"{what} (--heartbeat-timeout)");
                return false;
            }
        }
        return true;
    }

    [LoggerMessage(20, LogLevel.Error, "Worker {Pid}: a request ran past --timeout {Seconds} s; it gets 504 and the worker is killed (its other requests get 502).")]
    private partial void LogTimedOut(int pid, double seconds);

    [LoggerMessage(21, LogLevel.Error, "Worker {Pid} is unresponsive: {What} (--heartbeat-timeout {Seconds} s); killing it.")]
    private partial void LogUnresponsive(int pid, string what, double seconds);

    [LoggerMessage(22, LogLevel.Warning, "Worker {Pid} uses {Mib} MiB, over --max-worker-memory {Limit}; replacing it gracefully.")]
    private partial void LogOverMemory(int pid, long mib, long limit);
}

namespace Kestrel.Wsgi.Dispatch;

/// <summary>How the supervisor manages its workers (the process-management options of the command line).</summary>
/// <param name="RequestTimeout">A request running longer is answered 504 and its worker killed; zero: no limit (<c>--timeout</c>).</param>
/// <param name="MaxRequests">A worker given this many requests is replaced gracefully; 0: never (<c>--max-requests</c>).</param>
/// <param name="MaxRequestsJitter">Up to this many more, drawn per worker, so workers do not all recycle at once (<c>--max-requests-jitter</c>).</param>
/// <param name="MaxWorkerMemory">A worker whose resident memory exceeds this many bytes is replaced gracefully; 0: no limit (<c>--max-worker-memory</c>).</param>
/// <param name="HeartbeatTimeout">A worker silent or unable to get its GIL for longer is killed and replaced; zero: never (<c>--heartbeat-timeout</c>).</param>
/// <param name="GracefulTimeout">How long a retiring worker may take to finish its requests (<c>--graceful-timeout</c>).</param>
internal sealed record SupervisorSettings(
    TimeSpan RequestTimeout,
    long MaxRequests,
    long MaxRequestsJitter,
    long MaxWorkerMemory,
    TimeSpan HeartbeatTimeout,
    TimeSpan GracefulTimeout)
{
    /// <summary>Nothing but the defaults: no request limits, the default heartbeat timeout.</summary>
    public static SupervisorSettings Default { get; } = new(TimeSpan.Zero, 0, 0, 0, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(30));
}

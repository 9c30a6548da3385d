using System.Diagnostics.Metrics;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front.AccessLog;

namespace Kestrel.Wsgi.Hosting.Metrics;

/// <summary>
/// kwsgi's own meter, beside ASP.NET Core's and Kestrel's (docs/observability.md lists every instrument). A counter
/// nobody listens to costs one branch, so the request path adds to them whether metrics are on or not.
/// </summary>
internal static class KwsgiMetrics
{
    public const string MeterName = "Kwsgi";

    private static readonly Meter s_meter = new(MeterName, typeof(KwsgiMetrics).Assembly.GetName().Version?.ToString());

    /// <summary>Workers replaced, by why: crash, timeout, max-requests, memory, reload, heartbeat.</summary>
    public static readonly Counter<long> WorkerRestarts = s_meter.CreateCounter<long>(
        "kwsgi.worker.restarts", "{restart}", "Workers replaced, by reason (crash, timeout, max-requests, memory, reload, heartbeat).");

    /// <summary>Request bodies the front spooled to a temp file before a worker took them.</summary>
    public static readonly Counter<long> BodiesSpooled = s_meter.CreateCounter<long>(
        "kwsgi.request.bodies_spooled", "{request}", "Request bodies larger than the in-memory buffer, spooled to a temp file.");

    /// <summary>Requests refused with 503 because every worker was busy and the queue full.</summary>
    public static readonly Counter<long> Refused = s_meter.CreateCounter<long>(
        "kwsgi.requests.refused", "{request}", "Requests answered 503 because every worker was busy and the queue was full.");

    private static int s_observed;

    /// <summary>The observable instruments: read at each scrape from the pool, the supervisor and the access log.</summary>
    public static void Observe(WorkerPool pool, Supervisor supervisor, AccessLogWriter? accessLog)
    {
        if (Interlocked.Exchange(ref s_observed, 1) == 1)
        {
            return;
        }
        s_meter.CreateObservableUpDownCounter("kwsgi.workers", () => supervisor.WorkerStates(), "{worker}",
            "Worker processes by state: ready (in the pool), starting, retiring (finishing their requests before they stop).");
        s_meter.CreateObservableUpDownCounter("kwsgi.requests.queued", () => pool.Queued, "{request}",
            "Requests waiting in the front for a free worker thread.");
        s_meter.CreateObservableUpDownCounter("kwsgi.worker.requests.in_flight", () => pool.InFlightByWorker(), "{request}",
            "Requests dispatched to each worker and not yet done.");
        s_meter.CreateObservableUpDownCounter("kwsgi.worker.memory.rss", () => ResidentMemory(pool), "By",
            "Resident memory of each worker process.");
        if (accessLog is not null)
        {
            s_meter.CreateObservableCounter("kwsgi.access_log.dropped", () => accessLog.Dropped, "{line}",
                "Access log lines dropped because the writer's queue was full.");
        }
    }

    private static IEnumerable<Measurement<long>> ResidentMemory(WorkerPool pool)
    {
        foreach (WorkerProcess worker in pool.Workers)
        {
            yield return new Measurement<long>(worker.ResidentBytes, new KeyValuePair<string, object?>("process.pid", worker.ProcessId));
        }
    }

    /// <summary>The reason label of a restart, from the reason text the supervisor logs.</summary>
    public static string ReasonOf(string? killedOrRecycledBecause) => killedOrRecycledBecause switch
    {
        null => "crash",
        _ when killedOrRecycledBecause.Contains("--heartbeat-timeout", StringComparison.Ordinal) => "heartbeat",
        _ when killedOrRecycledBecause.Contains("--timeout", StringComparison.Ordinal) => "timeout",
        _ when killedOrRecycledBecause.Contains("--max-requests", StringComparison.Ordinal) => "max-requests",
        _ when killedOrRecycledBecause.Contains("--max-worker-memory", StringComparison.Ordinal) => "memory",
        _ when killedOrRecycledBecause.StartsWith("reload", StringComparison.Ordinal) => "reload",
        _ => "crash",
    };

    public static void CountRestart(string? because) =>
        WorkerRestarts.Add(1, new KeyValuePair<string, object?>("reason", ReasonOf(because)));
}

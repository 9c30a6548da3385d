using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// Keeps the pool's worker processes running: starts them all (the server starts only when every one has
/// loaded the app), replaces one that dies, and stops them at shutdown.
/// </summary>
internal sealed partial class Supervisor(WorkerLaunch launch, WorkerPool pool, ILogger<Supervisor> logger)
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _slots = new();

    /// <summary>Starts every worker; throws <see cref="WorkerStartupException"/> when the app cannot be loaded.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var starts = Enumerable.Range(0, launch.Workers).Select(_ => WorkerProcess.StartAsync(launch, cancellationToken)).ToArray();
        try
        {
            await Task.WhenAll(starts).ConfigureAwait(false);
        }
        catch
        {
            foreach (Task<WorkerProcess> start in starts.Where(s => s.IsCompletedSuccessfully))
            {
                await start.Result.DisposeAsync().ConfigureAwait(false);
            }
            // The first failure in start order explains itself best.
            throw starts.First(s => s.IsFaulted).Exception!.InnerException!;
        }
        for (int slot = 0; slot < starts.Length; slot++)
        {
            WorkerProcess worker = starts[slot].Result;
            pool.Add(slot, worker);
            LogWorkerReady(worker.ProcessId, slot + 1);
            int index = slot;
            _slots.Add(Task.Run(() => SuperviseAsync(index, worker)));
        }
    }

    private async Task SuperviseAsync(int slot, WorkerProcess worker)
    {
        var backoff = TimeSpan.Zero;
        while (true)
        {
            DateTime started = DateTime.UtcNow;
            int pid = worker.ProcessId;
            await worker.RunAsync().ConfigureAwait(false);
            pool.Remove(slot, worker);
            int code = await worker.WaitForExitAsync().ConfigureAwait(false);
            await worker.DisposeAsync().ConfigureAwait(false);
            if (_stopping.IsCancellationRequested)
            {
                return;
            }
            LogWorkerExited(pid, code);

            // A worker that ran a while is replaced at once; one that keeps dying young, with growing pauses.
            backoff = DateTime.UtcNow - started > TimeSpan.FromSeconds(10) ? TimeSpan.Zero
                : TimeSpan.FromMilliseconds(Math.Min(5000, Math.Max(100, backoff.TotalMilliseconds * 2)));
            while (true)
            {
                try
                {
                    if (backoff > TimeSpan.Zero)
                    {
                        await Task.Delay(backoff, _stopping.Token).ConfigureAwait(false);
                    }
                    worker = await WorkerProcess.StartAsync(launch, _stopping.Token).ConfigureAwait(false);
                    break;
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (Exception ex)
                {
                    LogRespawnFailed(ex.Message);
                    backoff = TimeSpan.FromMilliseconds(Math.Min(5000, Math.Max(100, backoff.TotalMilliseconds * 2)));
                }
            }
            if (_stopping.IsCancellationRequested)
            {
                await worker.DisposeAsync().ConfigureAwait(false);
                return;
            }
            pool.Add(slot, worker);
            LogWorkerReady(worker.ProcessId, slot + 1);
        }
    }

    /// <summary>Asks every worker to finish its requests and exit, killing those that outlast <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _stopping.Cancel();
        await Task.WhenAll(pool.Workers.Select(worker => worker.StopAsync(timeout))).ConfigureAwait(false);
        await Task.WhenAll(_slots).WaitAsync(timeout + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "Worker {Pid} ready ({Slot} of the pool).")]
    private partial void LogWorkerReady(int pid, int slot);

    [LoggerMessage(2, LogLevel.Warning, "Worker {Pid} exited with code {Code}; starting a new one.")]
    private partial void LogWorkerExited(int pid, int code);

    [LoggerMessage(3, LogLevel.Error, "A new worker failed to start: {Reason}")]
    private partial void LogRespawnFailed(string reason);
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// Keeps the pool's worker processes running: starts them all (the server starts only when every one has
/// loaded the app), replaces one that dies, replaces one that asked to be recycled or every one on a reload
/// (successor ready first, then the old one finishes its requests), and stops them at shutdown. A worker that
/// cannot load the app after start-up ends the server (<see cref="Failed"/>) instead of being retried forever.
/// </summary>
internal sealed partial class Supervisor(WorkerLaunch launch, WorkerPool pool, SupervisorSettings settings, ILogger<Supervisor> logger)
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<Task> _slots = new();
    private readonly WorkerProcess?[] _current = new WorkerProcess?[launch.Workers];
    private readonly ConcurrentDictionary<WorkerProcess, Task> _retiring = new();
    private readonly TaskCompletionSource _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly SemaphoreSlim _reloading = new(1, 1);
    private readonly WorkerWatch _watch = new(settings, logger);
    private Task _watching = Task.CompletedTask;

    /// <summary>Faults with a <see cref="WorkerStartupException"/> when a restarted worker could not load the app.</summary>
    public Task Failed => _failed.Task;

    /// <summary>
    /// Starts every worker; completes when all of them have loaded the app, or with <paramref name="oneIsEnough"/>
    /// as soon as the first has (the others join the pool as they become ready). Throws
    /// <see cref="WorkerStartupException"/> when the app cannot be loaded.
    /// </summary>
    public Task StartAsync(bool oneIsEnough, CancellationToken cancellationToken) =>
        oneIsEnough ? StartFirstAsync(cancellationToken) : StartAllAsync(cancellationToken);

    private async Task StartAllAsync(CancellationToken cancellationToken)
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
            Enlist(slot, worker);
            int index = slot;
            lock (_slots)
            {
                _slots.Add(Task.Run(() => SuperviseAsync(index, worker)));
            }
        }
        if (_watch.IsNeeded)
        {
            _watching = Task.Run(WatchAsync);
        }
    }

    /// <summary>
    /// --ready-when one: each worker joins the pool as soon as it has loaded the app, and start-up goes on after
    /// the first. A worker that cannot load the app fails start-up if none is ready yet, and ends the server
    /// (<see cref="Failed"/>) otherwise, as a restarted worker would.
    /// </summary>
    private async Task StartFirstAsync(CancellationToken cancellationToken)
    {
        var first = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        cancellationToken.Register(_stopping.Cancel);
        var starts = Enumerable.Range(0, launch.Workers).Select(_ => WorkerProcess.StartAsync(launch, _stopping.Token)).ToArray();
        lock (_slots)
        {
            for (int slot = 0; slot < starts.Length; slot++)
            {
                _slots.Add(EnlistWhenReadyAsync(slot, starts[slot], first));
            }
        }
        try
        {
            await first.Task.ConfigureAwait(false);
        }
        catch
        {
            // No worker ready and one failed: the others are killed before start-up reports it, so none outlives it.
            _stopping.Cancel();
            Task[] slots;
            lock (_slots)
            {
                slots = _slots.ToArray();
            }
            await Task.WhenAll(slots).ConfigureAwait(false);
            throw;
        }
        if (_watch.IsNeeded)
        {
            _watching = Task.Run(WatchAsync);
        }
    }

    private async Task EnlistWhenReadyAsync(int slot, Task<WorkerProcess> start, TaskCompletionSource first)
    {
        WorkerProcess worker;
        try
        {
            worker = await start.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            if (!first.TrySetException(ex))
            {
                _failed.TrySetException(ex is WorkerStartupException startup
                    ? new WorkerStartupException($"a worker could not load the app, so kwsgi stops: {startup.Message}", startup.Details)
                    : ex);
            }
            return;
        }
        if (_stopping.IsCancellationRequested || first.Task.IsFaulted)
        {
            await worker.DisposeAsync().ConfigureAwait(false);
            return;
        }
        Enlist(slot, worker);
        first.TrySetResult();
        await SuperviseAsync(slot, worker).ConfigureAwait(false);
    }

    private void Enlist(int slot, WorkerProcess worker)
    {
        Arm(worker);
        _current[slot] = worker;
        pool.Add(slot, worker);
        LogWorkerReady(worker.ProcessId, slot + 1);
    }

    /// <summary>Gives a worker its request deadline and its own request limit (the jitter spreads recycles out).</summary>
    private void Arm(WorkerProcess worker)
    {
        worker.RequestTimeoutMs = (long)settings.RequestTimeout.TotalMilliseconds;
        if (settings.MaxRequests > 0)
        {
            worker.RequestLimit = settings.MaxRequests + Random.Shared.NextInt64(0, settings.MaxRequestsJitter + 1);
        }
    }

    private async Task SuperviseAsync(int slot, WorkerProcess worker)
    {
        var backoff = TimeSpan.Zero;
        DateTime started = DateTime.UtcNow;
        Task running = worker.RunAsync();
        Task stopping = Task.Delay(Timeout.Infinite, _stopping.Token).ContinueWith(_ => { }, TaskScheduler.Default);
        while (true)
        {
            Task<string> recycle = worker.RecycleRequested;
            Task first = await Task.WhenAny(running, recycle, stopping).ConfigureAwait(false);
            if (first == recycle && !_stopping.IsCancellationRequested && !running.IsCompleted)
            {
                WorkerProcess? successor = await StartSuccessorAsync(worker, recycle.Result).ConfigureAwait(false);
                if (successor is null)
                {
                    worker.RecycleDone(replaced: false);
                    continue;
                }
                if (_stopping.IsCancellationRequested)
                {
                    await successor.DisposeAsync().ConfigureAwait(false);
                    worker.RecycleDone(replaced: false);
                    continue;
                }
                // The successor takes new requests before the old worker stops taking them: no request waits for a start-up.
                Arm(successor);
                _current[slot] = successor;
                pool.Replace(slot, worker, successor);
                LogRecycled(worker.ProcessId, successor.ProcessId, slot + 1, recycle.Result);
                Hosting.Metrics.KwsgiMetrics.CountRestart(recycle.Result);
                _retiring[worker] = RetireAsync(worker, running);
                worker.RecycleDone(replaced: true);
                worker = successor;
                running = worker.RunAsync();
                started = DateTime.UtcNow;
                backoff = TimeSpan.Zero;
                continue;
            }
            if (first != running)
            {
                // Stopping: StopAsync has sent the worker Stop; its reader ends when it exits.
                await running.ConfigureAwait(false);
            }

            int pid = worker.ProcessId;
            pool.Remove(slot, worker);
            _current[slot] = null;
            int code = await worker.WaitForExitAsync().ConfigureAwait(false);
            await worker.DisposeAsync().ConfigureAwait(false);
            // Its replacement below loads the app afresh, which is what a pending reload wants.
            worker.RecycleDone(replaced: !_stopping.IsCancellationRequested);
            if (_stopping.IsCancellationRequested)
            {
                return;
            }
            if (worker.KilledBecause is string reason)
            {
                LogWorkerKilled(pid, reason);
                Hosting.Metrics.KwsgiMetrics.CountRestart(reason);
                backoff = TimeSpan.Zero; // it was made to die; nothing says a new one would
            }
            else
            {
                LogWorkerExited(pid, code);
                Hosting.Metrics.KwsgiMetrics.CountRestart(null);
                // A worker that ran a while is replaced at once; one that keeps dying young, with growing pauses.
                backoff = DateTime.UtcNow - started > TimeSpan.FromSeconds(10) ? TimeSpan.Zero : Longer(backoff);
            }

            WorkerProcess? respawned = await RespawnAsync(backoff).ConfigureAwait(false);
            if (respawned is null)
            {
                return;
            }
            worker = respawned;
            started = DateTime.UtcNow;
            Enlist(slot, worker);
            running = worker.RunAsync();
        }
    }

    /// <summary>Workers by state (a metric): ready in the pool, starting (a slot waiting for its worker), retiring.</summary>
    public System.Diagnostics.Metrics.Measurement<int>[] WorkerStates()
    {
        int ready = _current.Count(w => w is not null);
        return
        [
            new(ready, new KeyValuePair<string, object?>("state", "ready")),
            new(_current.Length - ready, new KeyValuePair<string, object?>("state", "starting")),
            new(_retiring.Count, new KeyValuePair<string, object?>("state", "retiring")),
        ];
    }

    private static TimeSpan Longer(TimeSpan backoff) => TimeSpan.FromMilliseconds(Math.Min(5000, Math.Max(100, backoff.TotalMilliseconds * 2)));

    /// <summary>A new worker after <paramref name="backoff"/>; null when stopping or when the app no longer loads (the server then ends).</summary>
    private async Task<WorkerProcess?> RespawnAsync(TimeSpan backoff)
    {
        while (true)
        {
            try
            {
                if (backoff > TimeSpan.Zero)
                {
                    await Task.Delay(backoff, _stopping.Token).ConfigureAwait(false);
                }
                WorkerProcess worker = await WorkerProcess.StartAsync(launch, _stopping.Token).ConfigureAwait(false);
                if (_stopping.IsCancellationRequested)
                {
                    await worker.DisposeAsync().ConfigureAwait(false);
                    return null;
                }
                return worker;
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                return null;
            }
            catch (WorkerStartupException ex)
            {
                // The app itself no longer loads (edited into a syntax error, a dependency removed): every
                // further try would fail the same way, so report it once and end the server.
                _failed.TrySetException(new WorkerStartupException($"a restarted worker could not load the app, so kwsgi stops: {ex.Message}", ex.Details));
                return null;
            }
            catch (Exception ex)
            {
                LogRespawnFailed(ex.Message);
                backoff = Longer(backoff);
            }
        }
    }

    /// <summary>A started successor for <paramref name="worker"/>; null (after saying why) if it could not load the app.</summary>
    private async Task<WorkerProcess?> StartSuccessorAsync(WorkerProcess worker, string reason)
    {
        try
        {
            return await WorkerProcess.StartAsync(launch, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return null;
        }
        catch (WorkerStartupException ex)
        {
            if (ex.Details.Length > 0)
            {
                Console.Error.Write(ex.Details.EndsWith('\n') ? ex.Details : ex.Details + "\n");
            }
            LogNotReplaced(worker.ProcessId, reason, ex.Message);
            return null;
        }
        catch (Exception ex)
        {
            LogNotReplaced(worker.ProcessId, reason, ex.Message);
            return null;
        }
    }

    /// <summary>
    /// Lets a worker that is out of the pool finish every request it was given (requests already pipelined to
    /// it included), then stops it. It has <c>--graceful-timeout</c> for its requests and as long again to exit.
    /// </summary>
    private async Task RetireAsync(WorkerProcess worker, Task running)
    {
        int pid = worker.ProcessId;
        DateTime deadline = DateTime.UtcNow + settings.GracefulTimeout;
        while (pool.InFlightOf(worker) > 0 && !running.IsCompleted && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }
        await worker.StopAsync(settings.GracefulTimeout).ConfigureAwait(false);
        await running.ConfigureAwait(false);
        await worker.WaitForExitAsync().ConfigureAwait(false);
        await worker.DisposeAsync().ConfigureAwait(false);
        _retiring.TryRemove(worker, out _);
        LogRetired(pid);
    }

    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(_watch.Period);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                _watch.Check(pool.Workers, _retiring.Keys);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    /// <summary>
    /// Replaces every worker, one slot after another, with one that imports the app afresh; each successor
    /// takes requests before its predecessor stops taking them. If a successor cannot load the app, the
    /// reload stops there and the remaining workers keep serving what they loaded. <paramref name="why"/> is
    /// for the log. A source change (<paramref name="sourceChanged"/>, <c>--reload</c>) waits for a reload under
    /// way instead of being ignored, since that one may have started too early to see it, and replaces the
    /// workers after the first all at once: a developer should not wait for N starts one after another, nor see
    /// old and new code answer in turn meanwhile; the first alone still keeps a broken app to one failed start.
    /// </summary>
    public async Task ReloadAsync(string why, bool sourceChanged = false)
    {
        if (!await _reloading.WaitAsync(0).ConfigureAwait(false))
        {
            if (!sourceChanged)
            {
                LogReloadBusy();
                return;
            }
            try
            {
                await _reloading.WaitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
        try
        {
            LogReloading(why);
            bool first = true;
            var together = new List<Task<bool>>();
            for (int slot = 0; slot < _current.Length; slot++)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }
                if (_current[slot] is not WorkerProcess worker)
                {
                    continue; // being respawned: the new worker loads the app afresh anyway
                }
                Task<bool> replaced = worker.RequestRecycle("reload", evenAfterFailure: true);
                if (sourceChanged && !first)
                {
                    together.Add(replaced);
                    continue;
                }
                first = false;
                if (!await replaced.ConfigureAwait(false))
                {
                    if (!_stopping.IsCancellationRequested)
                    {
                        LogReloadFailed();
                    }
                    return;
                }
            }
            if (!(await Task.WhenAll(together).ConfigureAwait(false)).All(replaced => replaced))
            {
                if (!_stopping.IsCancellationRequested)
                {
                    LogReloadFailed();
                }
                return;
            }
            LogReloaded();
        }
        finally
        {
            _reloading.Release();
        }
    }

    /// <summary>Asks every worker to finish its requests and exit, killing those that outlast <paramref name="timeout"/>.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        _stopping.Cancel();
        await Task.WhenAll(pool.Workers.Select(worker => worker.StopAsync(timeout))).ConfigureAwait(false);
        Task[] slots;
        lock (_slots)
        {
            slots = _slots.ToArray();
        }
        await Task.WhenAll(slots.Concat(_retiring.Values).Append(_watching)).WaitAsync(timeout + TimeSpan.FromSeconds(5)).ConfigureAwait(false);
    }

    [LoggerMessage(1, LogLevel.Information, "Worker {Pid} ready ({Slot} of the pool).")]
    private partial void LogWorkerReady(int pid, int slot);

    [LoggerMessage(2, LogLevel.Warning, "Worker {Pid} exited with code {Code}; starting a new one.")]
    private partial void LogWorkerExited(int pid, int code);

    [LoggerMessage(3, LogLevel.Error, "A new worker failed to start: {Reason}")]
    private partial void LogRespawnFailed(string reason);

    [LoggerMessage(4, LogLevel.Warning, "Worker {Pid} was killed: {Reason}; starting a new one.")]
    private partial void LogWorkerKilled(int pid, string reason);

    [LoggerMessage(5, LogLevel.Information, "Worker {Pid} replaced by worker {Successor} ({Slot} of the pool) because {Reason}; it finishes its requests and stops.")]
    private partial void LogRecycled(int pid, int successor, int slot, string reason);

    [LoggerMessage(6, LogLevel.Information, "Worker {Pid} finished its requests and stopped.")]
    private partial void LogRetired(int pid);

    [LoggerMessage(7, LogLevel.Error, "Worker {Pid} was not replaced ({Reason}): the new worker could not load the app: {Error}. It keeps serving the app it loaded.")]
    private partial void LogNotReplaced(int pid, string reason, string error);

    [LoggerMessage(8, LogLevel.Information, "Reloading: {Why}; replacing every worker with one that imports the app afresh.")]
    private partial void LogReloading(string why);

    [LoggerMessage(9, LogLevel.Information, "Reload done: every worker imported the app afresh.")]
    private partial void LogReloaded();

    [LoggerMessage(10, LogLevel.Error, "Reload stopped: a new worker could not load the app; the remaining workers keep serving what they loaded.")]
    private partial void LogReloadFailed();

    [LoggerMessage(11, LogLevel.Warning, "A reload is already under way; this one is ignored.")]
    private partial void LogReloadBusy();
}

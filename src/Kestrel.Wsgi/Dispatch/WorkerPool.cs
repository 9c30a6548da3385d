namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// Per-request, least-loaded dispatch: a request goes to the live worker with the fewest requests in
/// flight, as long as one has room (a WSGI worker: its threads plus a short pipeline; an ASGI worker:
/// <c>--max-concurrency</c>, unlimited by default); otherwise it waits in a bounded FIFO queue, and past that
/// bound it is refused (503).
/// </summary>
internal sealed class WorkerPool(int workerCount, int requestsPerWorker, int maxQueue, int asgiRequestsPerWorker = int.MaxValue)
{
    [ThreadStatic]
    private static bool t_draining;

    private readonly WorkerProcess?[] _workers = new WorkerProcess?[workerCount];
    private readonly Queue<TaskCompletionSource<WorkerProcess>> _waiting = new();
    private readonly Lock _lock = new();
    private int _rotation;

    /// <summary>A worker with a free thread, reserved for one request; null when the queue is full.</summary>
    public ValueTask<WorkerProcess?> AcquireAsync(CancellationToken cancellationToken)
    {
        TaskCompletionSource<WorkerProcess> waiter;
        lock (_lock)
        {
            WorkerProcess? worker = PickLocked();
            if (worker is not null)
            {
                TakeLocked(worker);
                return new ValueTask<WorkerProcess?>(worker);
            }
            if (_waiting.Count >= maxQueue)
            {
                return new ValueTask<WorkerProcess?>((WorkerProcess?)null);
            }
            // Completed outside the lock by the thread that frees a place, which then runs the queued request on
            // (no hop to the thread pool between one request's end and the next one's start).
            waiter = new TaskCompletionSource<WorkerProcess>();
            _waiting.Enqueue(waiter);
        }
        return WaitAsync(waiter, cancellationToken);
    }

    private static async ValueTask<WorkerProcess?> WaitAsync(TaskCompletionSource<WorkerProcess> waiter, CancellationToken cancellationToken)
    {
        using (cancellationToken.Register(() => waiter.TrySetCanceled(cancellationToken)))
        {
            return await waiter.Task.ConfigureAwait(false);
        }
    }

    /// <summary>The request dispatched to <paramref name="worker"/> is done; its thread goes to the next waiter.</summary>
    public void Release(WorkerProcess worker)
    {
        lock (_lock)
        {
            worker.InFlight--;
        }
        Drain();
    }

    public void Add(int slot, WorkerProcess worker)
    {
        lock (_lock)
        {
            _workers[slot] = worker;
        }
        Drain();
    }

    /// <summary>
    /// Puts <paramref name="successor"/> in <paramref name="worker"/>'s place: new requests go to the successor
    /// from now on, while requests already given to <paramref name="worker"/> finish there.
    /// </summary>
    public void Replace(int slot, WorkerProcess worker, WorkerProcess successor)
    {
        lock (_lock)
        {
            if (_workers[slot] == worker)
            {
                _workers[slot] = successor;
            }
        }
        Drain();
    }

    /// <summary>Requests <paramref name="worker"/> still has (0 once a retiring worker has finished its work).</summary>
    public int InFlightOf(WorkerProcess worker)
    {
        lock (_lock)
        {
            return worker.InFlight;
        }
    }

    public void Remove(int slot, WorkerProcess worker)
    {
        lock (_lock)
        {
            if (_workers[slot] == worker)
            {
                _workers[slot] = null;
            }
        }
    }

    /// <summary>The pool's size: one slot per worker (<c>--workers</c>).</summary>
    public int Size => _workers.Length;

    /// <summary>Slots holding a live worker that has loaded the app (a worker enters the pool only once it has).</summary>
    public int ReadyCount
    {
        get
        {
            lock (_lock)
            {
                int ready = 0;
                foreach (WorkerProcess? worker in _workers)
                {
                    if (worker is { IsAlive: true })
                    {
                        ready++;
                    }
                }
                return ready;
            }
        }
    }

    public IReadOnlyList<WorkerProcess> Workers
    {
        get
        {
            lock (_lock)
            {
                return _workers.OfType<WorkerProcess>().ToArray();
            }
        }
    }

    /// <summary>The app is an ASGI app (every worker loads the same one): WebSocket handshakes go to it.</summary>
    public bool SpeaksAsgi
    {
        get
        {
            lock (_lock)
            {
                foreach (WorkerProcess? worker in _workers)
                {
                    if (worker is not null)
                    {
                        return worker.Connection.IsAsgi;
                    }
                }
                return false;
            }
        }
    }

    /// <summary>Requests waiting for a place (a metric).</summary>
    public int Queued
    {
        get
        {
            lock (_lock)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>Requests in flight on each worker in the pool, labelled with its process id (a metric).</summary>
    public System.Diagnostics.Metrics.Measurement<int>[] InFlightByWorker()
    {
        lock (_lock)
        {
            return _workers.OfType<WorkerProcess>()
                .Select(w => new System.Diagnostics.Metrics.Measurement<int>(w.InFlight, new KeyValuePair<string, object?>("process.pid", w.ProcessId)))
                .ToArray();
        }
    }

    private WorkerProcess? PickLocked()
    {
        WorkerProcess? best = null;
        int count = _workers.Length;
        // Ties rotate, so an idle pool spreads requests instead of always waking the first worker.
        int start = _rotation = (_rotation + 1) % count;
        for (int i = 0; i < count; i++)
        {
            WorkerProcess? candidate = _workers[(start + i) % count];
            if (candidate is not null && candidate.IsAlive && candidate.InFlight < (candidate.Connection.IsAsgi ? asgiRequestsPerWorker : requestsPerWorker)
                && (best is null || candidate.InFlight < best.InFlight))
            {
                best = candidate;
            }
        }
        return best;
    }

    private static void TakeLocked(WorkerProcess worker)
    {
        worker.InFlight++;
        // It keeps taking requests until its successor is ready, so the pool never loses capacity to a recycle.
        if (++worker.Dispatched == worker.RequestLimit)
        {
            worker.RequestRecycle($"it was given {worker.Dispatched} requests (--max-requests)");
        }
    }

    /// <summary>Gives free places to queued requests, in order; each waiter's continuation runs on this thread.</summary>
    private void Drain()
    {
        if (t_draining)
        {
            // A queued request run inline finished at once and released its place: the outer loop takes the next one,
            // so a long queue is drained iteratively, not by recursion.
            return;
        }
        t_draining = true;
        try
        {
            while (true)
            {
                TaskCompletionSource<WorkerProcess> waiter;
                WorkerProcess? worker;
                lock (_lock)
                {
                    if (_waiting.Count == 0 || (worker = PickLocked()) is null)
                    {
                        return;
                    }
                    waiter = _waiting.Dequeue();
                    TakeLocked(worker);
                }
                if (!waiter.TrySetResult(worker))
                {
                    // That client gave up while queued: the place goes to the next one.
                    lock (_lock)
                    {
                        worker.InFlight--;
                        worker.Dispatched--;
                    }
                }
            }
        }
        finally
        {
            t_draining = false;
        }
    }
}

namespace Kestrel.Wsgi.Worker;

/// <summary>Requests the channel delivered and no Python thread has taken yet.</summary>
internal sealed class RequestQueue
{
    private readonly Queue<WorkerRequest> _pending = new();
    private bool _closed;

    public void Add(WorkerRequest request)
    {
        lock (_pending)
        {
            _pending.Enqueue(request);
            Monitor.Pulse(_pending);
        }
    }

    /// <summary>No more requests will come: threads waiting in <see cref="Take"/> get null once the queue is empty.</summary>
    public void Close()
    {
        lock (_pending)
        {
            _closed = true;
            Monitor.PulseAll(_pending);
        }
    }

    /// <summary>A queued request without waiting, or null.</summary>
    public WorkerRequest? TryTake(out bool closed)
    {
        lock (_pending)
        {
            closed = _closed;
            return _pending.Count > 0 ? _pending.Dequeue() : null;
        }
    }

    /// <summary>Waits for the next request; null once the queue is closed and empty.</summary>
    public WorkerRequest? Take()
    {
        lock (_pending)
        {
            while (_pending.Count == 0 && !_closed)
            {
                Monitor.Wait(_pending);
            }
            return _pending.Count > 0 ? _pending.Dequeue() : null;
        }
    }
}

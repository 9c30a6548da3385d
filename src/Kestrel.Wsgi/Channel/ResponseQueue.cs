using System.Buffers;
using System.Threading.Tasks.Sources;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The response parts of one exchange, from the channel reader to the request's handler. The handler's
/// continuation runs inline on the reader's thread when a part arrives (no thread-pool hop between a
/// worker's answer and the client's socket); it only copies to Kestrel's output and returns.
/// </summary>
internal sealed class ResponseQueue : IValueTaskSource<bool>
{
    private readonly Queue<ResponsePart> _parts = new();
    private readonly Lock _lock = new();
    private ManualResetValueTaskSourceCore<bool> _signal = new() { RunContinuationsAsynchronously = false };
    private bool _waiting;
    private bool _completed;
    private uint _id;

    /// <summary>Opens the queue for the request with stream id <paramref name="id"/>; it is new, or was emptied by <see cref="Close"/>.</summary>
    public void Reset(uint id)
    {
        lock (_lock)
        {
            _completed = false;
            _id = id;
        }
    }

    /// <summary>Adds a part of request <paramref name="id"/>; parts after the last one, or of another request, are recycled.</summary>
    public void Post(uint id, ResponsePart part, bool last)
    {
        bool wake;
        lock (_lock)
        {
            if (_completed || id != _id)
            {
                Recycle(part);
                return;
            }
            _parts.Enqueue(part);
            _completed = last;
            wake = _waiting;
            _waiting = false;
        }
        if (wake)
        {
            _signal.SetResult(true);
        }
    }

    public bool TryRead(out ResponsePart part)
    {
        lock (_lock)
        {
            return _parts.TryDequeue(out part);
        }
    }

    /// <summary>True when a part can be read; false when none is left and none will come.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_lock)
        {
            if (_parts.Count > 0)
            {
                return new ValueTask<bool>(true);
            }
            if (_completed)
            {
                return new ValueTask<bool>(false);
            }
            _signal.Reset();
            _waiting = true;
        }
        return new ValueTask<bool>(this, _signal.Version);
    }

    /// <summary>Nothing more will be read: recycle what is queued and drop what comes later.</summary>
    public void Close()
    {
        bool wake;
        lock (_lock)
        {
            _completed = true;
            while (_parts.TryDequeue(out ResponsePart part))
            {
                Recycle(part);
            }
            wake = _waiting;
            _waiting = false;
        }
        if (wake)
        {
            _signal.SetResult(false);
        }
    }

    private static void Recycle(ResponsePart part)
    {
        if (part.Buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(part.Buffer);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _signal.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _signal.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _signal.OnCompleted(continuation, state, token, flags);
}

using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// One request as the worker sees it: its environ head, the body pieces the channel has delivered and
/// not yet read by <c>wsgi.input</c>, and the response credit left. The channel's reader thread fills it;
/// the Python thread running the app drains it. Both synchronize on the object itself.
/// </summary>
internal sealed class WorkerRequest(uint id, byte[] head, bool bodyComplete)
{
    private readonly Queue<byte[]> _body = new();
    private bool _bodyComplete = bodyComplete;
    private bool _cancelled;
    private int _responseCredit = FlowWindow.Size;
    private int _unacknowledged;

    public uint Id { get; } = id;

    public byte[] Head { get; } = head;

    /// <summary>The request came without a body (so <c>wsgi.input</c> need not ask the channel at all).</summary>
    public bool HasNoBody { get; } = bodyComplete;

    public bool Cancelled => Volatile.Read(ref _cancelled);

    public void AddBody(byte[] piece)
    {
        lock (this)
        {
            _body.Enqueue(piece);
            Monitor.PulseAll(this);
        }
    }

    public void CompleteBody()
    {
        lock (this)
        {
            _bodyComplete = true;
            Monitor.PulseAll(this);
        }
    }

    public void Cancel()
    {
        lock (this)
        {
            _cancelled = true;
            Monitor.PulseAll(this);
        }
    }

    public void AddResponseCredit(int bytes)
    {
        lock (this)
        {
            _responseCredit += bytes;
            Monitor.PulseAll(this);
        }
    }

    /// <summary>The next body piece without waiting: null when none is buffered yet; an empty array at the end.</summary>
    public byte[]? TryTakeBody()
    {
        lock (this)
        {
            if (_body.Count > 0)
            {
                return _body.Dequeue();
            }
            return _bodyComplete || _cancelled ? [] : null;
        }
    }

    /// <summary>Waits for the next body piece; empty at the end of the body or when the request is cancelled.</summary>
    public byte[] TakeBody()
    {
        lock (this)
        {
            while (_body.Count == 0 && !_bodyComplete && !_cancelled)
            {
                Monitor.Wait(this);
            }
            return _body.Count > 0 ? _body.Dequeue() : [];
        }
    }

    /// <summary>Counts consumed body bytes; returns how many to acknowledge to the front now (0 if not yet worth a frame).</summary>
    public int Consume(int bytes)
    {
        _unacknowledged += bytes;
        if (_unacknowledged < FlowWindow.AckThreshold)
        {
            return 0;
        }
        int ack = _unacknowledged;
        _unacknowledged = 0;
        return ack;
    }

    /// <summary>True when <paramref name="bytes"/> can be sent now without waiting for credit.</summary>
    public bool TryReserveCredit(int bytes)
    {
        lock (this)
        {
            if (_responseCredit < bytes)
            {
                return false;
            }
            _responseCredit -= bytes;
            return true;
        }
    }

    /// <summary>Waits until <paramref name="bytes"/> of credit are there (or the request is cancelled: false).</summary>
    public bool ReserveCredit(int bytes)
    {
        lock (this)
        {
            while (_responseCredit < bytes && !_cancelled)
            {
                Monitor.Wait(this);
            }
            if (_cancelled)
            {
                return false;
            }
            _responseCredit -= bytes;
            return true;
        }
    }
}

using System.Buffers.Binary;
using System.Net.Sockets;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The worker's end of its channel. There is no reader thread: a Python thread that must wait for
/// something from the front (a request, a body piece, response credit) reads the channel itself when no
/// other thread is reading, routes every frame it gets, and hands the reading role on when its own wait
/// is over (leader/follower). So a request wakes exactly one thread, the one that runs it, and a worker
/// whose threads are all busy in the app reads nothing — nothing there needs reading.
/// Responses are written synchronously under a lock by the thread that produced them.
/// </summary>
internal sealed class WorkerChannel(ChannelConnection connection, Action frontGone) : IFrameSender
{
    private readonly ChannelConnection _connection = connection;
    private readonly Action _frontGone = frontGone;
    private readonly Lock _sendLock = new();
    private readonly byte[] _sendBuffer = new byte[FlowWindow.MaxChunk + 2 * FrameHeader.Size + 16 * 1024];

    // Guarded by _sync.
    private readonly object _sync = new();
    private readonly Dictionary<uint, WorkerRequest> _requests = new();
    private readonly Queue<WorkerRequest> _pending = new();
    private bool _closed;
    private bool _reading;
    private int _waiters;

    // Owned by the thread holding the reading role.
    private byte[] _buffer = new byte[256 * 1024];
    private int _start, _end;
    private bool _requestEvent;

    public WorkerRequest? Find(uint id)
    {
        lock (_sync)
        {
            return _requests.GetValueOrDefault(id);
        }
    }

    /// <summary>The request is answered: forget it (later frames for its id are dropped).</summary>
    public void Complete(WorkerRequest request)
    {
        lock (_sync)
        {
            _requests.Remove(request.Id);
        }
    }

    // The four waits below are called by Python threads holding the GIL; they give it up only if they
    // must wait (Await), so a request or body piece already there costs no GIL hand-off.

    /// <summary>The next request; null once the worker stops taking requests.</summary>
    public WorkerRequest? NextRequest()
    {
        var wait = new RequestWait();
        Await(ref wait);
        return wait.Result;
    }

    /// <summary>The next body piece; empty at the end of the body or when the request was cancelled.</summary>
    public byte[] NextBody(WorkerRequest request)
    {
        var wait = new BodyWait(request);
        Await(ref wait);
        return wait.Result!;
    }

    /// <summary>Takes <paramref name="bytes"/> of response credit; false when the request was cancelled.</summary>
    public bool ReserveCredit(WorkerRequest request, int bytes)
    {
        var wait = new CreditWait(request, bytes);
        Await(ref wait);
        return wait.Granted;
    }

    /// <summary>The front's answer to a file reference: false if it cannot send the file.</summary>
    public bool WaitFileOpened(WorkerRequest request)
    {
        var wait = new FileWait(request);
        Await(ref wait);
        return wait.Opened;
    }

    /// <summary>Finishes <paramref name="wait"/> at once if it can; otherwise waits for it without the GIL.</summary>
    private unsafe void Await<T>(ref T wait) where T : struct, IWait
    {
        lock (_sync)
        {
            if (wait.TryFinish(this))
            {
                return;
            }
        }
        // Let go of the lock before taking the GIL back: a thread holding the GIL may be waiting for the lock.
        nint state = CPython.PyEval_SaveThread();
        try
        {
            WaitFor(ref wait);
        }
        finally
        {
            CPython.PyEval_RestoreThread(state);
        }
    }

    /// <summary>
    /// Waits until <paramref name="wait"/> is satisfied, reading the socket whenever nobody else is. The
    /// reading role and the pending requests are passed on to one sleeping thread at a time; an event for a
    /// particular request (body, credit, cancel) wakes them all, since only its own thread can use it.
    /// </summary>
    private void WaitFor<T>(ref T wait) where T : struct, IWait
    {
        while (true)
        {
            lock (_sync)
            {
                while (!wait.TryFinish(this))
                {
                    if (!_reading)
                    {
                        _reading = true;
                        goto Read;
                    }
                    _waiters++;
                    Monitor.Wait(_sync);
                    _waiters--;
                }
                if (_waiters > 0 && (!_reading || _pending.Count > 0))
                {
                    Monitor.Pulse(_sync); // someone else must read, or take the next request
                }
                return;
            }

        Read:
            bool alive = ReadOnce();
            lock (_sync)
            {
                _reading = false;
                if (_waiters > 0)
                {
                    if (_requestEvent || !alive)
                    {
                        Monitor.PulseAll(_sync);
                    }
                    else
                    {
                        Monitor.Pulse(_sync);
                    }
                }
                _requestEvent = false;
            }
            if (!alive)
            {
                _frontGone();
            }
        }
    }

    /// <summary>One blocking read, then every complete frame routed. False when the front has gone.</summary>
    private bool ReadOnce()
    {
        try
        {
            if (_end == _buffer.Length)
            {
                // Make room: move the partial frame to the front, or grow for a frame larger than the buffer.
                int pending = _end - _start;
                byte[] target = pending > _buffer.Length / 2 ? new byte[_buffer.Length * 2] : _buffer;
                Buffer.BlockCopy(_buffer, _start, target, 0, pending);
                _buffer = target;
                _start = 0;
                _end = pending;
            }
            int received = _connection.Receive(_buffer, _end, _buffer.Length - _end);
            if (received == 0)
            {
                return Gone();
            }
            _end += received;
            lock (_sync)
            {
                while (_end - _start >= FrameHeader.Size)
                {
                    FrameHeader header = FrameHeader.Read(_buffer.AsSpan(_start));
                    int total = FrameHeader.Size + header.Length;
                    if (_end - _start < total)
                    {
                        break;
                    }
                    Route(header, _buffer.AsSpan(_start + FrameHeader.Size, header.Length));
                    _start += total;
                }
            }
            if (_start == _end)
            {
                _start = _end = 0;
            }
            return true;
        }
        catch (Exception ex) when (ex is SocketException or IOException or ObjectDisposedException or InvalidDataException)
        {
            return Gone();
        }
    }

    private bool Gone()
    {
        lock (_sync)
        {
            _closed = true;
            foreach (WorkerRequest request in _requests.Values)
            {
                request.Cancelled = true;
            }
        }
        return false;
    }

    /// <summary>Applies one frame to the shared state; called under the lock.</summary>
    private void Route(FrameHeader header, ReadOnlySpan<byte> payload)
    {
        WorkerRequest? request;
        switch (header.Type)
        {
            case FrameType.RequestHead:
                request = new WorkerRequest(header.StreamId, payload.ToArray(), (header.Flags & FrameFlags.End) != 0);
                _requests[header.StreamId] = request;
                _pending.Enqueue(request);
                break;
            case FrameType.RequestBody:
                if (_requests.TryGetValue(header.StreamId, out request))
                {
                    request.Body.Enqueue(payload.ToArray());
                    _requestEvent = true;
                }
                break;
            case FrameType.RequestEnd:
                if (_requests.TryGetValue(header.StreamId, out request))
                {
                    request.BodyComplete = true;
                    _requestEvent = true;
                }
                break;
            case FrameType.Cancel:
                if (_requests.TryGetValue(header.StreamId, out request))
                {
                    request.Cancelled = true;
                    _requestEvent = true;
                }
                break;
            case FrameType.ResponseCredit:
                if (_requests.TryGetValue(header.StreamId, out request))
                {
                    request.ResponseCredit += BinaryPrimitives.ReadInt32LittleEndian(payload);
                    _requestEvent = true;
                }
                break;
            case FrameType.FileOpened:
                if (_requests.TryGetValue(header.StreamId, out request))
                {
                    request.FileOpened = payload.Length > 0 && payload[0] == 1;
                    _requestEvent = true;
                }
                break;
            case FrameType.Ping:
                // Answered by whichever thread reads, without the GIL. The front relies on the heartbeat
                // thread's unasked Pongs instead: nobody reads while every thread is busy in the app.
                Send(FrameType.Pong, FrameFlags.None, 0, default);
                break;
            case FrameType.Stop:
                _closed = true;
                _requestEvent = true;
                break;
            default:
                throw new InvalidDataException($"Unexpected channel frame {header.Type}.");
        }
    }

    public void Send(FrameType type, FrameFlags flags, uint streamId, ReadOnlySpan<byte> payload)
    {
        lock (_sendLock)
        {
            int size = FrameHeader.Size + payload.Length;
            if (size <= _sendBuffer.Length)
            {
                new FrameHeader(payload.Length, type, flags, streamId).Write(_sendBuffer);
                payload.CopyTo(_sendBuffer.AsSpan(FrameHeader.Size));
                SendAll(_sendBuffer.AsSpan(0, size));
            }
            else
            {
                Span<byte> header = stackalloc byte[FrameHeader.Size];
                new FrameHeader(payload.Length, type, flags, streamId).Write(header);
                SendAll(header);
                SendAll(payload);
            }
        }
    }

    /// <summary>A response head and its whole body in one write: the common case of a small response.</summary>
    public void SendHeadAndBody(uint streamId, ReadOnlySpan<byte> head, ReadOnlySpan<byte> body, bool end)
    {
        lock (_sendLock)
        {
            int size = 2 * FrameHeader.Size + head.Length + body.Length;
            if (size > _sendBuffer.Length)
            {
                Send(FrameType.ResponseHead, FrameFlags.None, streamId, head);
                Send(FrameType.ResponseBody, end ? FrameFlags.End : FrameFlags.None, streamId, body);
                return;
            }
            Span<byte> buffer = _sendBuffer;
            new FrameHeader(head.Length, FrameType.ResponseHead, FrameFlags.None, streamId).Write(buffer);
            head.CopyTo(buffer[FrameHeader.Size..]);
            int offset = FrameHeader.Size + head.Length;
            new FrameHeader(body.Length, FrameType.ResponseBody, end ? FrameFlags.End : FrameFlags.None, streamId).Write(buffer[offset..]);
            body.CopyTo(buffer[(offset + FrameHeader.Size)..]);
            SendAll(buffer[..size]);
        }
    }

    public void SendCredit(FrameType type, uint streamId, int bytes)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(payload, bytes);
        Send(type, FrameFlags.None, streamId, payload);
    }

    private void SendAll(ReadOnlySpan<byte> data) => _connection.SendAll(data);

    /// <summary>Something a thread waits for; <see cref="TryFinish"/> runs under the channel's lock.</summary>
    private interface IWait
    {
        bool TryFinish(WorkerChannel channel);
    }

    private struct RequestWait : IWait
    {
        public WorkerRequest? Result;

        public bool TryFinish(WorkerChannel channel)
        {
            while (channel._pending.Count > 0)
            {
                WorkerRequest request = channel._pending.Dequeue();
                if (!request.Cancelled)
                {
                    Result = request;
                    return true;
                }
                // The client left while it was queued: the front still waits for an answer to end the exchange.
                channel._requests.Remove(request.Id);
                channel.Send(FrameType.ResponseAbort, FrameFlags.None, request.Id, default);
            }
            return channel._closed;
        }
    }

    private struct BodyWait(WorkerRequest request) : IWait
    {
        public byte[]? Result;

        public bool TryFinish(WorkerChannel channel)
        {
            if (request.Body.Count > 0)
            {
                Result = request.Body.Dequeue();
                return true;
            }
            if (request.BodyComplete || request.Cancelled)
            {
                Result = [];
                return true;
            }
            return false;
        }
    }

    private struct FileWait(WorkerRequest request) : IWait
    {
        public bool Opened;

        public bool TryFinish(WorkerChannel channel)
        {
            if (request.Cancelled)
            {
                return true;
            }
            if (request.FileOpened is not bool opened)
            {
                return false;
            }
            Opened = opened;
            return true;
        }
    }

    private struct CreditWait(WorkerRequest request, int bytes) : IWait
    {
        public bool Granted;

        public bool TryFinish(WorkerChannel channel)
        {
            if (request.Cancelled)
            {
                return true;
            }
            if (request.ResponseCredit < bytes)
            {
                return false;
            }
            request.ResponseCredit -= bytes;
            Granted = true;
            return true;
        }
    }
}

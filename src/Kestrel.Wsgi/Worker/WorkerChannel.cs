using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The worker's end of its channel. One thread reads frames and routes them to requests; the Python
/// threads write response frames synchronously under a lock (a write to a local socket with room in its
/// buffer costs less than handing it to another thread).
/// </summary>
internal sealed class WorkerChannel(Socket socket, RequestQueue queue)
{
    private readonly Socket _socket = socket;
    private readonly RequestQueue _queue = queue;
    private readonly Lock _sendLock = new();
    private readonly byte[] _sendBuffer = new byte[FlowWindow.MaxChunk + 2 * FrameHeader.Size + 16 * 1024];
    private readonly Dictionary<uint, WorkerRequest> _requests = new();
    private int _inFlight;

    /// <summary>Requests taken from the channel and not yet finished.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public WorkerRequest? Find(uint id)
    {
        lock (_requests)
        {
            return _requests.GetValueOrDefault(id);
        }
    }

    /// <summary>The request is answered: forget it (later frames for its id are dropped).</summary>
    public void Complete(WorkerRequest request)
    {
        lock (_requests)
        {
            if (_requests.Remove(request.Id))
            {
                _inFlight--;
                Monitor.PulseAll(_requests);
            }
        }
    }

    /// <summary>Waits until every request taken from the channel is answered, or the timeout passes.</summary>
    public void WaitIdle(TimeSpan timeout)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        lock (_requests)
        {
            while (_inFlight > 0)
            {
                TimeSpan left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_requests, left))
                {
                    return;
                }
            }
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

    private void SendAll(ReadOnlySpan<byte> data)
    {
        while (!data.IsEmpty)
        {
            int sent = _socket.Send(data, SocketFlags.None);
            data = data[sent..];
        }
    }

    /// <summary>
    /// Reads frames until the front closes the channel. A Stop frame closes the request queue but reading
    /// goes on, since the requests in flight still receive body and credit frames.
    /// </summary>
    public async Task RunReaderAsync()
    {
        PipeReader reader = PipeReader.Create(new NetworkStream(_socket, ownsSocket: false), new StreamPipeReaderOptions(bufferSize: 128 * 1024));
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                while (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
                {
                    Route(header, payload);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    return;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException)
        {
            // The front is gone or broke the protocol: nobody is left to answer.
        }
        finally
        {
            CancelAll();
            _queue.Close();
        }
    }

    private void Route(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        switch (header.Type)
        {
            case FrameType.RequestHead:
                var request = new WorkerRequest(header.StreamId, payload.ToArray(), (header.Flags & FrameFlags.End) != 0);
                lock (_requests)
                {
                    _requests[header.StreamId] = request;
                    _inFlight++;
                }
                _queue.Add(request);
                break;
            case FrameType.RequestBody:
                Find(header.StreamId)?.AddBody(payload.ToArray());
                break;
            case FrameType.RequestEnd:
                Find(header.StreamId)?.CompleteBody();
                break;
            case FrameType.Cancel:
                Find(header.StreamId)?.Cancel();
                break;
            case FrameType.ResponseCredit:
                Find(header.StreamId)?.AddResponseCredit(ReadInt(payload));
                break;
            case FrameType.Ping:
                Send(FrameType.Pong, FrameFlags.None, 0, default);
                break;
            case FrameType.Stop:
                _queue.Close();
                break;
            default:
                throw new InvalidDataException($"Unexpected channel frame {header.Type}.");
        }
    }

    private static int ReadInt(ReadOnlySequence<byte> payload)
    {
        Span<byte> bytes = stackalloc byte[4];
        payload.Slice(0, 4).CopyTo(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }

    private void CancelAll()
    {
        lock (_requests)
        {
            foreach (WorkerRequest request in _requests.Values)
            {
                request.Cancel();
            }
        }
    }
}

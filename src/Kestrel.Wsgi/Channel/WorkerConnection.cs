using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The front's end of one worker's channel: frames out under a write lock, one reader loop routing the
/// worker's frames to the <see cref="Exchange"/> (request) they belong to, and flow-control credit. It knows
/// nothing of the worker's process: the transport under it is a <see cref="Stream"/> (the Unix socket, the
/// named pipe, or an in-memory pair in tests), and the process's lifetime is <c>Dispatch/WorkerProcess</c>'s.
/// </summary>
internal sealed class WorkerConnection : IAsyncDisposable
{
    private static readonly byte[] s_opened = [1];
    private static readonly byte[] s_notOpened = [0];

    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _headBuffer = new(4096); // guarded by _writeLock
    private readonly ConcurrentDictionary<uint, Exchange> _exchanges = new();
    private readonly Action<int> _pong;
    private readonly Stack<Exchange> _idle = new(); // exchanges kept for reuse, at most MaxIdle; locked
    private const int MaxIdle = 64;
    private uint _nextId;
    private volatile bool _lost;

    /// <param name="stream">The channel's byte stream.</param>
    /// <param name="pong">Called with the worker's GIL wait (ms) for each heartbeat.</param>
    public WorkerConnection(Stream stream, Action<int> pong)
    {
        _stream = stream;
        _pong = pong;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 128 * 1024));
        _writer = PipeWriter.Create(stream);
    }

    /// <summary>The worker runs an ASGI app (its Ready frame said so): requests go to it as <see cref="FrameType.ScopeHead"/> frames.</summary>
    public bool IsAsgi { get; private set; }

    /// <summary>False once the channel broke or the worker was abandoned; a lost worker takes no more requests.</summary>
    public bool IsAlive => !_lost;

    /// <summary>The requests in flight here.</summary>
    public ICollection<Exchange> Exchanges => _exchanges.Values;

    /// <summary>Takes no more requests; those in flight are answered when the channel closes.</summary>
    public void MarkLost() => _lost = true;

    /// <summary>
    /// Waits for the worker's first frame: null when it is Ready (the app is imported), else the text of its
    /// StartupFailed frame. Throws <see cref="EndOfStreamException"/> if the channel closes first.
    /// </summary>
    public async Task<string?> WaitReadyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
            {
                string text = header.Type == FrameType.StartupFailed ? System.Text.Encoding.UTF8.GetString(payload.ToArray()) : "";
                IsAsgi = header.Type == FrameType.Ready && payload.Length > 0 && payload.FirstSpan[0] == ReadyInterface.Asgi;
                _reader.AdvanceTo(buffer.Start);
                return header.Type switch
                {
                    FrameType.Ready => null,
                    FrameType.StartupFailed => text,
                    _ => throw new InvalidDataException($"The worker sent {header.Type} before it was ready."),
                };
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The worker closed its channel before it was ready.");
            }
        }
    }

    /// <summary>Registers a new request; on a lost worker it is answered WorkerLost at once.</summary>
    /// <param name="requestWindow">
    /// Body bytes the front may send before the worker's first credit: one frame for a request (the app opens the
    /// window when it first reads), the whole window for a WebSocket (its messages come whether the app reads or not).
    /// </param>
    public Exchange Open(long deadline, int requestWindow = FlowWindow.InitialRequestWindow)
    {
        Exchange? exchange;
        lock (_idle)
        {
            _idle.TryPop(out exchange);
        }
        exchange ??= new Exchange(this);
        exchange.Reset(Interlocked.Increment(ref _nextId), deadline, requestWindow);
        _exchanges[exchange.Id] = exchange;
        if (_lost)
        {
            exchange.Post(new ResponsePart(ResponsePartKind.WorkerLost, null, 0, true));
        }
        return exchange;
    }

    /// <summary>The request is over on the front: later frames for it are dropped, and its exchange is kept for another.</summary>
    public void Close(Exchange exchange)
    {
        _exchanges.TryRemove(exchange.Id, out _);
        exchange.Close();
        lock (_idle)
        {
            if (_idle.Count < MaxIdle)
            {
                _idle.Push(exchange);
            }
        }
    }

    public async ValueTask SendAsync(FrameType type, FrameFlags flags, uint streamId, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Span<byte> header = _writer.GetSpan(FrameHeader.Size);
            new FrameHeader(payload.Length, type, flags, streamId).Write(header);
            _writer.Advance(FrameHeader.Size);
            if (!payload.IsEmpty)
            {
                _writer.Write(payload.Span);
            }
            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Sends one frame whose payload is a (possibly multi-segment) sequence.</summary>
    public async ValueTask SendAsync(FrameType type, uint streamId, ReadOnlySequence<byte> payload, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            Span<byte> header = _writer.GetSpan(FrameHeader.Size);
            new FrameHeader((int)payload.Length, type, FrameFlags.None, streamId).Write(header);
            _writer.Advance(FrameHeader.Size);
            foreach (ReadOnlyMemory<byte> segment in payload)
            {
                _writer.Write(segment.Span);
            }
            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Encodes and sends a request head frame (the environ pairs, see <see cref="RequestHeadWriter"/>) without allocating.</summary>
    public async ValueTask SendRequestHeadAsync(uint streamId, FrameFlags flags, HttpContext context, string scriptName, ReadOnlyMemory<byte> pathInfo, string rawTarget, string query, long? decodedBodyLength)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _headBuffer.ResetWrittenCount();
            RequestHeadWriter.Write(_headBuffer, context, scriptName, pathInfo.Span, rawTarget, query, decodedBodyLength);
            await FlushHeadAsync(FrameType.RequestHead, flags, streamId).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Encodes and sends an ASGI worker's request head (<see cref="ScopeHeadWriter"/>).</summary>
    /// <param name="scopeType"><c>http</c>, or <c>websocket</c> for a WebSocket handshake the app accepts or refuses.</param>
    public async ValueTask SendScopeHeadAsync(uint streamId, FrameFlags flags, HttpContext context, string rootPath, ReadOnlyMemory<byte> path, string rawTarget, string query, string scopeType = "http")
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _headBuffer.ResetWrittenCount();
            ScopeHeadWriter.Write(_headBuffer, scopeType, context, rootPath, path.Span, rawTarget, query);
            await FlushHeadAsync(FrameType.ScopeHead, flags, streamId).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Frames and sends the head just encoded into the head buffer; the caller holds the write lock.</summary>
    private ValueTask<FlushResult> FlushHeadAsync(FrameType type, FrameFlags flags, uint streamId)
    {
        Span<byte> header = _writer.GetSpan(FrameHeader.Size);
        new FrameHeader(_headBuffer.WrittenCount, type, flags, streamId).Write(header);
        _writer.Advance(FrameHeader.Size);
        _writer.Write(_headBuffer.WrittenSpan);
        return _writer.FlushAsync(CancellationToken.None);
    }

    public ValueTask SendFileOpenedAsync(uint streamId, bool opened) =>
        SendAsync(FrameType.FileOpened, FrameFlags.None, streamId, opened ? s_opened : s_notOpened);

    public async ValueTask SendCreditAsync(FrameType type, uint streamId, int bytes)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            Span<byte> frame = _writer.GetSpan(FrameHeader.Size + 4);
            new FrameHeader(4, type, FrameFlags.None, streamId).Write(frame);
            BinaryPrimitives.WriteInt32LittleEndian(frame[FrameHeader.Size..], bytes);
            _writer.Advance(FrameHeader.Size + 4);
            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Routes the worker's frames until the channel closes; then every request still in flight is told the worker
    /// is lost. A response part is handed to its request's handler inline (<see cref="ResponseQueue"/>), so the
    /// thread that read it also writes it to the client: one wake-up per batch of frames, no hop between threads.
    /// </summary>
    public async Task RunAsync()
    {
        try
        {
            while (true)
            {
                ReadResult result = await _reader.ReadAsync().ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                while (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
                {
                    Route(header, payload);
                }
                _reader.AdvanceTo(buffer.Start, buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidDataException or ObjectDisposedException)
        {
            // The worker died or broke the protocol; either way it is lost.
        }
        finally
        {
            _lost = true;
            foreach (Exchange exchange in _exchanges.Values)
            {
                exchange.Post(new ResponsePart(ResponsePartKind.WorkerLost, null, 0, true));
            }
        }
    }

    private void Route(FrameHeader header, ReadOnlySequence<byte> payload)
    {
        if (header.Type == FrameType.Pong)
        {
            _pong(ReadInt32(payload));
            return;
        }
        if (!_exchanges.TryGetValue(header.StreamId, out Exchange? exchange))
        {
            return; // a late frame of a request that ended on the front (client gone)
        }
        bool end = (header.Flags & FrameFlags.End) != 0;
        if (end || header.Type is FrameType.ResponseAbort or FrameType.WebSocketAccept or FrameType.WebSocketClose)
        {
            exchange.Answered = true;
        }
        switch (header.Type)
        {
            case FrameType.ResponseHead:
            case FrameType.ResponseBody:
            case FrameType.ResponseFile:
            case FrameType.ResponseTrailers:
                byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(header.Length, 1));
                payload.CopyTo(buffer);
                ResponsePartKind kind = header.Type switch
                {
                    FrameType.ResponseHead => ResponsePartKind.Head,
                    FrameType.ResponseBody => ResponsePartKind.Body,
                    FrameType.ResponseTrailers => ResponsePartKind.Trailers,
                    _ => ResponsePartKind.File,
                };
                exchange.Post(header.StreamId, new ResponsePart(kind, buffer, header.Length, end));
                break;
            case FrameType.WebSocketAccept:
            case FrameType.WebSocketSend:
            case FrameType.WebSocketClose:
                byte[] message = ArrayPool<byte>.Shared.Rent(Math.Max(header.Length, 1));
                payload.CopyTo(message);
                ResponsePartKind messageKind = header.Type switch
                {
                    FrameType.WebSocketAccept => ResponsePartKind.WebSocketAccept,
                    FrameType.WebSocketClose => ResponsePartKind.WebSocketClose,
                    _ => (header.Flags & FrameFlags.Text) != 0 ? ResponsePartKind.WebSocketText : ResponsePartKind.WebSocketBinary,
                };
                exchange.Post(header.StreamId, new ResponsePart(messageKind, message, header.Length, end));
                break;
            case FrameType.ResponseAbort:
                exchange.Post(header.StreamId, new ResponsePart(ResponsePartKind.Abort, null, 0, true));
                break;
            case FrameType.RequestCredit:
                exchange.AddRequestCredit(header.StreamId, ReadInt32(payload));
                break;
            default:
                throw new InvalidDataException($"Unexpected frame {header.Type} from a worker.");
        }
    }

    private static int ReadInt32(ReadOnlySequence<byte> payload)
    {
        if (payload.Length < 4)
        {
            return 0;
        }
        Span<byte> bytes = stackalloc byte[4];
        payload.Slice(0, 4).CopyTo(bytes);
        return BinaryPrimitives.ReadInt32LittleEndian(bytes);
    }

    public async ValueTask DisposeAsync()
    {
        _lost = true;
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _writer.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}

using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Sockets;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>
/// A running worker process and the front's end of its channel: frames out under a write lock, one reader
/// loop routing response frames to the <see cref="Exchange"/> they belong to.
/// </summary>
internal sealed partial class WorkerProcess : IAsyncDisposable
{
    private static readonly TimeSpan s_startupTimeout = TimeSpan.FromMinutes(2);
    private static readonly byte[] s_opened = [1];
    private static readonly byte[] s_notOpened = [0];

    private readonly Process _process;
    private readonly Stream _stream;
    private readonly PipeReader _reader;
    private readonly PipeWriter _writer;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _headBuffer = new(4096); // guarded by _writeLock
    private readonly ConcurrentDictionary<uint, Exchange> _exchanges = new();
    private uint _nextId;
    private volatile bool _lost;

    /// <param name="stream">The channel: a NetworkStream over the socket, or the named pipe (see <see cref="ChannelListener"/>).</param>
    private WorkerProcess(Process process, Stream stream)
    {
        _process = process;
        _stream = stream;
        _reader = PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 128 * 1024));
        _writer = PipeWriter.Create(stream);
    }

    public int ProcessId => _process.Id;

    /// <summary>Requests dispatched here and not yet released; guarded by the pool's lock.</summary>
    public int InFlight { get; set; }

    /// <summary>False once the channel broke; a lost worker takes no more requests.</summary>
    public bool IsAlive => !_lost;

    /// <summary>Starts the process and waits until it has imported the app.</summary>
    public static async Task<WorkerProcess> StartAsync(WorkerLaunch launch, CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            WorkerJob.Join(); // before the first worker exists, so every worker is born in the job
        }
        using ChannelListener listener = Listen();
        Process? process = null;
        Stream? stream = null;
        try
        {
            process = Process.Start(launch.CreateStartInfo(listener.Address)) ?? throw new InvalidOperationException("The worker process did not start.");
            listener.Watch(process);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(s_startupTimeout);
            Task<Stream> accept = listener.AcceptAsync(timeout.Token);
            Task exited = process.WaitForExitAsync(timeout.Token);
            if (await Task.WhenAny(accept, exited).ConfigureAwait(false) != accept)
            {
                throw Exited(process);
            }
            stream = await accept.ConfigureAwait(false);
            var worker = new WorkerProcess(process, stream);
            await worker.WaitReadyAsync(timeout.Token).ConfigureAwait(false);
            worker.OnReady();
            return worker;
        }
        catch (Exception) when (process is not null)
        {
            stream?.Dispose();
            Kill(process);
            throw;
        }
    }

    /// <summary>A new channel endpoint; a temp folder where none can be made is the user's to fix, said in one line.</summary>
    private static ChannelListener Listen()
    {
        try
        {
            return ChannelListener.Create();
        }
        catch (Exception ex) when (ex is SocketException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            string folder = Path.GetTempPath();
            string why = Directory.Exists(folder) ? ex.Message : "the folder does not exist (TMPDIR or TEMP names it)";
            throw new WorkerStartupException($"cannot create a worker channel in the temp folder {folder}: {why}", "");
        }
    }

    private static WorkerStartupException Exited(Process process)
    {
        process.WaitForExit();
        return new WorkerStartupException($"the worker process exited with code {process.ExitCode} before it loaded the app", "");
    }

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult result = await _reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
            {
                string text = header.Type == FrameType.StartupFailed ? System.Text.Encoding.UTF8.GetString(payload.ToArray()) : "";
                _reader.AdvanceTo(buffer.Start);
                switch (header.Type)
                {
                    case FrameType.Ready:
                        return;
                    case FrameType.StartupFailed:
                        int newline = text.IndexOf('\n');
                        throw new WorkerStartupException(newline < 0 ? text : text[..newline], newline < 0 ? "" : text[(newline + 1)..]);
                    default:
                        throw new InvalidDataException($"The worker sent {header.Type} before it was ready.");
                }
            }
            _reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw Exited(_process);
            }
        }
    }

    /// <summary>Registers a new request on this worker.</summary>
    public Exchange Open()
    {
        var exchange = new Exchange(Interlocked.Increment(ref _nextId), this) { Deadline = RequestDeadline() };
        _exchanges[exchange.Id] = exchange;
        if (_lost)
        {
            exchange.Post(new ResponsePart(ResponsePartKind.WorkerLost, null, 0, true));
        }
        return exchange;
    }

    public void Close(Exchange exchange)
    {
        _exchanges.TryRemove(exchange.Id, out _);
        exchange.Close();
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
    public async ValueTask SendRequestHeadAsync(uint streamId, FrameFlags flags, Microsoft.AspNetCore.Http.HttpContext context, string scriptName, ReadOnlyMemory<byte> pathInfo, string rawTarget, string query, long? decodedBodyLength)
    {
        await _writeLock.WaitAsync().ConfigureAwait(false);
        try
        {
            _headBuffer.ResetWrittenCount();
            RequestHeadWriter.Write(_headBuffer, context, scriptName, pathInfo.Span, rawTarget, query, decodedBodyLength);
            Span<byte> header = _writer.GetSpan(FrameHeader.Size);
            new FrameHeader(_headBuffer.WrittenCount, FrameType.RequestHead, flags, streamId).Write(header);
            _writer.Advance(FrameHeader.Size);
            _writer.Write(_headBuffer.WrittenSpan);
            await _writer.FlushAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            _writeLock.Release();
        }
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

    /// <summary>Routes response frames until the channel closes; then every request still in flight is told the worker is lost.</summary>
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
            OnPong(payload);
            return;
        }
        if (!_exchanges.TryGetValue(header.StreamId, out Exchange? exchange))
        {
            return; // a late frame of a request that ended on the front (client gone)
        }
        bool end = (header.Flags & FrameFlags.End) != 0;
        if (end || header.Type == FrameType.ResponseAbort)
        {
            exchange.Answered = true;
        }
        switch (header.Type)
        {
            case FrameType.ResponseHead:
            case FrameType.ResponseBody:
            case FrameType.ResponseFile:
                byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(header.Length, 1));
                payload.CopyTo(buffer);
                ResponsePartKind kind = header.Type switch
                {
                    FrameType.ResponseHead => ResponsePartKind.Head,
                    FrameType.ResponseBody => ResponsePartKind.Body,
                    _ => ResponsePartKind.File,
                };
                exchange.Post(new ResponsePart(kind, buffer, header.Length, end));
                break;
            case FrameType.ResponseAbort:
                exchange.Post(new ResponsePart(ResponsePartKind.Abort, null, 0, true));
                break;
            case FrameType.RequestCredit:
                Span<byte> bytes = stackalloc byte[4];
                payload.Slice(0, 4).CopyTo(bytes);
                exchange.AddRequestCredit(BinaryPrimitives.ReadInt32LittleEndian(bytes));
                break;
            default:
                throw new InvalidDataException($"Unexpected frame {header.Type} from a worker.");
        }
    }

    /// <summary>Asks the worker to finish what it has and exit; waits up to <paramref name="timeout"/>, then kills it.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        try
        {
            await SendAsync(FrameType.Stop, FrameFlags.None, 0, default).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // Already gone.
        }
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(_process);
        }
    }

    /// <summary>Waits for the process to end after its channel closed, killing it if it lingers.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(_process);
            await _process.WaitForExitAsync().ConfigureAwait(false);
        }
        return _process.ExitCode;
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill(_process);
        await _reader.CompleteAsync().ConfigureAwait(false);
        await _writer.CompleteAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _process.Dispose();
    }
}

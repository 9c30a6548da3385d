using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Dispatch;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// A worker's end of a channel held in memory, for tests of the front's forwarder and WorkerConnection without
/// processes or sockets (as Kestrel's in-memory transport tests do). The front gets a real
/// <see cref="WorkerProcess"/> (no OS process) over a <see cref="Stream"/> made of two pipes; the test plays the
/// worker's side frame by frame.
/// </summary>
internal sealed class InMemoryWorker : IAsyncDisposable
{
    private readonly Pipe _toWorker = new();
    private readonly Pipe _toFront = new();

    /// <param name="asgi">The worker says in its Ready frame that its app is an ASGI app (the front then sends scope heads).</param>
    public InMemoryWorker(bool asgi = false)
    {
        Process = new WorkerProcess(null, new DuplexStream(_toFront.Reader, _toWorker.Writer));
        if (asgi)
        {
            SendAsync(FrameType.Ready, 0, [1]).GetAwaiter().GetResult();
            Process.Connection.WaitReadyAsync(CancellationToken.None).GetAwaiter().GetResult();
        }
        Running = Process.RunAsync();
    }

    public WorkerProcess Process { get; }

    /// <summary>The front's reader loop: completes when the channel closes.</summary>
    public Task Running { get; }

    /// <summary>The next frame the front sent, with its payload copied out.</summary>
    public Task<(FrameHeader Header, byte[] Payload)> ReadFrameAsync() => ReadFrameAsync(TimeSpan.FromSeconds(10));

    /// <summary>The next frame the front sent within <paramref name="wait"/>; OperationCanceledException when none came.</summary>
    public async Task<(FrameHeader Header, byte[] Payload)> ReadFrameAsync(TimeSpan wait)
    {
        using var timeout = new CancellationTokenSource(wait);
        while (true)
        {
            ReadResult result = await _toWorker.Reader.ReadAsync(timeout.Token);
            ReadOnlySequence<byte> buffer = result.Buffer;
            if (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
            {
                byte[] bytes = payload.ToArray();
                _toWorker.Reader.AdvanceTo(buffer.Start);
                return (header, bytes);
            }
            _toWorker.Reader.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException("the front closed the channel");
            }
        }
    }

    /// <summary>The environ pairs of a request head frame.</summary>
    public static Dictionary<string, string> Environ(byte[] head)
    {
        string[] parts = Encoding.Latin1.GetString(head, 2, head.Length - 2).Split('\0');
        var environ = new Dictionary<string, string>();
        for (int i = 0; i + 1 < parts.Length; i += 2)
        {
            environ[parts[i]] = parts[i + 1];
        }
        return environ;
    }

    public async Task SendAsync(FrameType type, uint stream, byte[] payload, bool end = false)
    {
        byte[] frame = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(payload.Length, type, end ? FrameFlags.End : FrameFlags.None, stream).Write(frame);
        payload.CopyTo(frame, FrameHeader.Size);
        await _toFront.Writer.WriteAsync(frame);
    }

    /// <summary>A response head: <c>status NUL name NUL value …</c>.</summary>
    public Task SendHeadAsync(uint stream, string status, params (string Name, string Value)[] headers) =>
        SendAsync(FrameType.ResponseHead, stream, Encoding.Latin1.GetBytes(string.Join('\0', [status, .. headers.SelectMany(h => new[] { h.Name, h.Value })])));

    /// <summary>The worker dies: its end of the channel closes.</summary>
    public async Task DieAsync()
    {
        await _toFront.Writer.CompleteAsync();
        await _toWorker.Reader.CompleteAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await DieAsync();
        await Process.DisposeAsync();
    }
}

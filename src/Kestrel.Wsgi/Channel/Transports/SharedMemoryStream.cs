using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace Kestrel.Wsgi.Channel.Transports;

/// <summary>
/// The front's end of a shared-memory channel as a <see cref="Stream"/>, for the same PipeReader/PipeWriter (or
/// blocking reader thread) as a socket. Synchronous calls block on the ring's futex. Asynchronous calls complete
/// synchronously whenever the ring allows (bytes to read, room to write); otherwise a dedicated thread of this
/// stream does the waiting — never a thread-pool thread — and completes the call when the worker has sent bytes
/// or freed room.
/// </summary>
internal sealed class SharedMemoryStream : Stream
{
    private readonly SharedMemoryChannel _channel;
    private readonly object _startLock = new();
    private PendingRead? _pendingRead;
    private PendingWrite? _pendingWrite;

    public SharedMemoryStream(SharedMemoryChannel channel) => _channel = channel;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => _channel.Receive(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int received = _channel.TryReceive(buffer.Span);
        if (received >= 0)
        {
            return new ValueTask<int>(received);
        }
        PendingRead pending = _pendingRead ?? Start(ref _pendingRead, () => new PendingRead(_channel));
        return pending.Begin(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer) => _channel.Send(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int sent = _channel.TrySend(buffer.Span);
        if (sent == buffer.Length)
        {
            return ValueTask.CompletedTask;
        }
        PendingWrite pending = _pendingWrite ?? Start(ref _pendingWrite, () => new PendingWrite(_channel));
        return pending.Begin(buffer[sent..]);
    }

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _channel.Dispose(); // closes first: a waiting thread wakes, sees end of stream and ends
            _pendingRead?.Stop();
            _pendingWrite?.Stop();
        }
        base.Dispose(disposing);
    }

    private T Start<T>(ref T? slot, Func<T> create) where T : class
    {
        lock (_startLock)
        {
            return slot ??= create();
        }
    }

    /// <summary>
    /// A read that found the ring empty. Its thread sleeps on the ring; once there are bytes and a read is
    /// pending, it reads them and completes the read. Bytes that arrive while no read is pending wait for the next
    /// ReadAsync, which takes them synchronously.
    /// </summary>
    private sealed class PendingRead : IValueTaskSource<int>
    {
        private readonly SharedMemoryChannel _channel;
        private readonly ManualResetEventSlim _requested = new(false, spinCount: 0);
        // The reader's continuation (the WorkerConnection's reader loop, which writes responses to clients) runs on
        // this thread, as it runs on the I/O thread for a socket: one wake-up per batch, not a second hop to the
        // thread pool. Safe because that loop never blocks (docs/channel.md, The hops).
        private ManualResetValueTaskSourceCore<int> _completion = new() { RunContinuationsAsynchronously = false };
        private Memory<byte> _buffer;
        private volatile bool _stopped;

        public PendingRead(SharedMemoryChannel channel)
        {
            _channel = channel;
            new Thread(Run) { Name = "kwsgi shm read wait", IsBackground = true }.Start();
        }

        public ValueTask<int> Begin(Memory<byte> buffer)
        {
            _completion.Reset();
            _buffer = buffer;
            _requested.Set();
            return new ValueTask<int>(this, _completion.Version);
        }

        public void Stop()
        {
            _stopped = true;
            _requested.Set();
        }

        private void Run()
        {
            while (true)
            {
                try
                {
                    _channel.WaitToReceive();
                    _requested.Wait();
                    if (_stopped)
                    {
                        // Disposed with a read pending: it ends like the stream, at end of stream.
                        _requested.Reset();
                        if (_buffer.Length > 0)
                        {
                            _buffer = default;
                            _completion.SetException(new ObjectDisposedException(nameof(SharedMemoryStream)));
                        }
                        return;
                    }
                    int received = _channel.TryReceive(_buffer.Span);
                    if (received < 0)
                    {
                        continue; // a synchronous ReadAsync took those bytes; this read waits for more
                    }
                    _requested.Reset();
                    _buffer = default;
                    _completion.SetResult(received);
                }
                catch (ObjectDisposedException ex)
                {
                    if (_requested.IsSet && !_buffer.IsEmpty)
                    {
                        _requested.Reset();
                        _buffer = default;
                        _completion.SetException(ex);
                    }
                    return;
                }
            }
        }

        public int GetResult(short token) => _completion.GetResult(token);
        public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);
        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }

    /// <summary>A write that found the ring full: its thread waits for room as often as needed, then completes it.</summary>
    private sealed class PendingWrite : IValueTaskSource
    {
        private readonly SharedMemoryChannel _channel;
        private readonly ManualResetEventSlim _requested = new(false, spinCount: 0);
        private ManualResetValueTaskSourceCore<bool> _completion = new() { RunContinuationsAsynchronously = true };
        private ReadOnlyMemory<byte> _data;
        private volatile bool _stopped;

        public PendingWrite(SharedMemoryChannel channel)
        {
            _channel = channel;
            new Thread(Run) { Name = "kwsgi shm write wait", IsBackground = true }.Start();
        }

        public ValueTask Begin(ReadOnlyMemory<byte> data)
        {
            _completion.Reset();
            _data = data;
            _requested.Set();
            return new ValueTask(this, _completion.Version);
        }

        public void Stop()
        {
            _stopped = true;
            _requested.Set();
        }

        private void Run()
        {
            while (true)
            {
                _requested.Wait();
                _requested.Reset();
                if (_stopped)
                {
                    if (!_data.IsEmpty)
                    {
                        _data = default;
                        _completion.SetException(new ObjectDisposedException(nameof(SharedMemoryStream)));
                    }
                    return;
                }
                try
                {
                    _channel.Send(_data.Span);
                    _data = default;
                    _completion.SetResult(true);
                }
                catch (Exception ex) when (ex is IOException or ObjectDisposedException)
                {
                    _data = default;
                    _completion.SetException(ex);
                }
            }
        }

        public void GetResult(short token) => _completion.GetResult(token);
        public ValueTaskSourceStatus GetStatus(short token) => _completion.GetStatus(token);
        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _completion.OnCompleted(continuation, state, token, flags);
    }
}

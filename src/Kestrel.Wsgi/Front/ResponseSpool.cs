using System.IO.Pipelines;
using Kestrel.Wsgi.Front.StaticFiles;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// The part of a response its client has not taken yet, held by the front so that the worker thread writing it
/// can finish: a client's reading speed must never hold a Python thread. It exists only once Kestrel's output
/// for the response is full (a write did not complete at once); until then body bytes go straight to Kestrel.
/// Up to <see cref="MemoryPerResponse"/> bytes (and while the server-wide budget lasts) stay in memory as the
/// pooled buffers they arrived in, not copied; the rest goes to a temp file with no name on disk
/// (<see cref="RequestBodyBuffer.CreateSpoolFile"/>). A drain task feeds it to Kestrel as the client reads.
/// </summary>
internal sealed class ResponseSpool : IDisposable
{
    /// <summary>
    /// Memory one stalled response may hold before the rest goes to disk: a quarter of a flow window. Most pages
    /// fit, so a slow client on a small response costs no file; a large download to a stalled client costs
    /// this much memory, whatever its size.
    /// </summary>
    public const int MemoryPerResponse = 256 * 1024;

    /// <summary>Memory every stalled response together may hold (256 responses at their full share); past it, to disk.</summary>
    public const long MemoryTotal = 64L * 1024 * 1024;

    /// <summary>Largest piece read from the file and handed to Kestrel at once.</summary>
    private const int FilePiece = 64 * 1024;

    private readonly Lock _lock = new();
    private readonly Queue<(byte[] Buffer, int Length)> _memory = new();
    private readonly MemoryBudget _budget;
    private readonly string _folder;
    private int _headOffset;          // bytes of the first memory buffer already taken
    private long _memoryHeld;         // pooled bytes held here (whole buffers), reserved from _budget
    private FileStream? _file;
    private long _fileRead;           // the file holds [_fileRead, _fileWritten); both reset to 0 when it is drained
    private long _fileWritten;
    private bool _completed;          // nothing more will be appended
    private bool _disposed;
    private TaskCompletionSource<bool>? _waiter;

    private Task _drain = Task.CompletedTask; // begun by Start

    /// <summary>The memory every response's spool shares (<see cref="MemoryTotal"/>).</summary>
    public static MemoryBudget SharedMemory { get; } = new(MemoryTotal);

    public ResponseSpool(MemoryBudget budget, string folder)
    {
        _budget = budget;
        _folder = folder;
    }

    /// <summary>Bytes held and not yet taken.</summary>
    public long Length
    {
        get
        {
            lock (_lock)
            {
                long memory = 0;
                foreach ((_, int length) in _memory)
                {
                    memory += length;
                }
                return memory - _headOffset + _fileWritten - _fileRead;
            }
        }
    }

    /// <summary>True once some of the response went to the temp file.</summary>
    public bool UsedFile => _file is not null;

    /// <summary>
    /// A spool for a response whose write to <paramref name="output"/> is still <paramref name="pending"/>
    /// (Kestrel's buffer is full), with its drain begun: it waits for that write, then hands Kestrel what is
    /// appended, as fast as the client takes it.
    /// </summary>
    public static ResponseSpool Start(PipeWriter output, ValueTask<FlushResult> pending, string folder, CancellationToken aborted) =>
        Start(output, pending, SharedMemory, folder, aborted);

    public static ResponseSpool Start(PipeWriter output, ValueTask<FlushResult> pending, MemoryBudget budget, string folder, CancellationToken aborted)
    {
        var spool = new ResponseSpool(budget, folder);
        spool._drain = spool.DrainAsync(output, pending, aborted);
        return spool;
    }

    /// <summary>
    /// Adds body bytes; takes <paramref name="buffer"/>, a pooled array, and returns it to the pool once written
    /// out. Called by the one task that reads the worker's response, never concurrently with itself.
    /// </summary>
    public void Append(byte[] buffer, int length)
    {
        TaskCompletionSource<bool>? wake;
        lock (_lock)
        {
            if (_completed || _disposed)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                return;
            }
            // Memory only while the file is empty, so everything in memory is older than everything in the file.
            if (_fileWritten == 0 && _memoryHeld + buffer.Length <= MemoryPerResponse && _budget.TryReserve(buffer.Length))
            {
                _memory.Enqueue((buffer, length));
                _memoryHeld += buffer.Length;
            }
            else
            {
                try
                {
                    _file ??= RequestBodyBuffer.CreateSpoolFile(_folder);
                    // Synchronous: a write to the page cache, on the thread that routes this worker's frames.
                    RandomAccess.Write(_file.SafeFileHandle, buffer.AsSpan(0, length), _fileWritten);
                    _fileWritten += length;
                }
                finally
                {
                    System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
                }
            }
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetResult(true);
    }

    /// <summary>Nothing more will be appended: the drain ends once it has handed over what is held.</summary>
    public void Complete()
    {
        TaskCompletionSource<bool>? wake;
        lock (_lock)
        {
            _completed = true;
            wake = _waiter;
            _waiter = null;
        }
        wake?.TrySetResult(false);
    }

    /// <summary>True when bytes can be taken; false when none is left and none will come.</summary>
    public ValueTask<bool> WaitAsync()
    {
        TaskCompletionSource<bool> waiter;
        lock (_lock)
        {
            if (_memory.Count > 0 || _fileWritten > _fileRead)
            {
                return new ValueTask<bool>(true);
            }
            if (_completed || _disposed)
            {
                return new ValueTask<bool>(false);
            }
            // Woken by the reader of the worker's response: run the drain elsewhere, not inside Append.
            waiter = _waiter ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        return WaitSlowAsync(waiter);

        async ValueTask<bool> WaitSlowAsync(TaskCompletionSource<bool> signal)
        {
            await signal.Task.ConfigureAwait(false);
            return await WaitAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Copies the oldest held bytes into <paramref name="destination"/>; returns how many (0 when nothing is held).
    /// Only the drain calls it. The file is read outside the lock: appends only write past what it reads.
    /// </summary>
    public int Read(Span<byte> destination)
    {
        long offset;
        int count;
        lock (_lock)
        {
            if (_memory.TryPeek(out (byte[] Buffer, int Length) head))
            {
                int n = Math.Min(destination.Length, head.Length - _headOffset);
                head.Buffer.AsSpan(_headOffset, n).CopyTo(destination);
                _headOffset += n;
                if (_headOffset == head.Length)
                {
                    _memory.Dequeue();
                    _headOffset = 0;
                    _memoryHeld -= head.Buffer.Length;
                    _budget.Release(head.Buffer.Length);
                    System.Buffers.ArrayPool<byte>.Shared.Return(head.Buffer);
                }
                return n;
            }
            if (_disposed)
            {
                return 0;
            }
            offset = _fileRead;
            count = (int)Math.Min(destination.Length, _fileWritten - _fileRead);
        }
        if (count == 0)
        {
            return 0;
        }
        int read = RandomAccess.Read(_file!.SafeFileHandle, destination[..count], offset);
        if (read == 0)
        {
            throw new IOException("the response spool file is shorter than what was written");
        }
        lock (_lock)
        {
            _fileRead += read;
            if (_fileRead == _fileWritten)
            {
                // Drained: new bytes may go to memory again, and the file is rewritten from its start.
                _fileRead = _fileWritten = 0;
            }
        }
        return read;
    }

    /// <summary>
    /// Feeds Kestrel: waits for the write that found its buffer full, then writes what is held, a piece at a
    /// time, each flush waiting for the client. Ends when everything is out, or the client is gone (Kestrel's
    /// <c>MinResponseDataRate</c> aborts a client that reads too slowly, which ends a pending flush).
    /// </summary>
    private async Task DrainAsync(PipeWriter output, ValueTask<FlushResult> pending, CancellationToken aborted)
    {
        try
        {
            FlushResult flushed = await pending.ConfigureAwait(false);
            while (!flushed.IsCanceled && !flushed.IsCompleted && await WaitAsync().ConfigureAwait(false))
            {
                Memory<byte> memory = output.GetMemory(FilePiece);
                int n = Read(memory.Span);
                output.Advance(n);
                flushed = await output.FlushAsync(aborted).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
            // The client is gone (or the server is stopping and Kestrel aborted it): nothing left to deliver.
        }
        finally
        {
            Complete();
        }
    }

    /// <summary>
    /// Waits until the drain has handed everything to Kestrel (or the client is gone), then frees what is held.
    /// Call after <see cref="Complete"/>, or with the connection aborted.
    /// </summary>
    public async Task FinishAsync()
    {
        Complete();
        await _drain.ConfigureAwait(false);
        Dispose();
    }

    /// <summary>Returns the held buffers to the pool and the memory to the budget, and closes (so frees) the file.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            while (_memory.TryDequeue(out (byte[] Buffer, int Length) entry))
            {
                _budget.Release(entry.Buffer.Length);
                System.Buffers.ArrayPool<byte>.Shared.Return(entry.Buffer);
            }
            _memoryHeld = 0;
            _headOffset = 0;
            _fileRead = _fileWritten = 0;
            _file?.Dispose();
        }
    }
}

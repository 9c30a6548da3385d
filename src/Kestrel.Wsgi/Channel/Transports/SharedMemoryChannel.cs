using System.Diagnostics;
using System.IO.MemoryMappedFiles;
using static Kestrel.Wsgi.Channel.Transports.SharedMemoryLayout;

namespace Kestrel.Wsgi.Channel.Transports;

/// <summary>
/// One worker's shared-memory channel: a file both processes map (named maps do not exist on Unix), holding a ring
/// each way (see <see cref="SharedMemoryLayout"/>). The front creates it (0600, sized first), the worker opens it
/// and says so, and the front then deletes the name: from then on only the two mappings exist, and nothing is
/// left on disk whichever side dies. Each end reads one ring and writes the other.
/// </summary>
internal sealed unsafe class SharedMemoryChannel : IDisposable
{
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _base;
    private readonly SharedMemoryRing _incoming;
    private readonly SharedMemoryRing _outgoing;
    private int _disposed;

    private SharedMemoryChannel(MemoryMappedFile file, MemoryMappedViewAccessor view, bool front)
    {
        _file = file;
        _view = view;
        byte* pointer = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
        _base = pointer + view.PointerOffset;
        int capacity = (int)*(uint*)(_base + CapacityOffset);
        int* closed = (int*)(_base + ClosedOffset);
        var toWorker = new SharedMemoryRing(_base + ToWorkerRingOffset, closed, _base + DataOffset, capacity);
        var toFront = new SharedMemoryRing(_base + ToFrontRingOffset, closed, _base + DataOffset + capacity, capacity);
        (_incoming, _outgoing) = front ? (toFront, toWorker) : (toWorker, toFront);
    }

    /// <summary>The front's end: a new file at <paramref name="path"/> (which must not exist), readable by this user only.</summary>
    public static SharedMemoryChannel Create(string path, int ringCapacity = DefaultRingCapacity)
    {
        long size = FileSize(ringCapacity);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew, // O_EXCL: never a file someone else put there
            Access = FileAccess.ReadWrite,
            Share = FileShare.ReadWrite | FileShare.Delete,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // before anyone can open it
        }
        var stream = new FileStream(path, options);
        try
        {
            stream.SetLength(size); // a mapping cannot grow its file on Unix
            var file = MemoryMappedFile.CreateFromFile(stream, null, size, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
            var view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
            byte* pointer = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref pointer);
            try
            {
                pointer += view.PointerOffset;
                // The file is new, so every counter and flag is already 0.
                *(uint*)(pointer + MagicOffset) = Magic;
                *(uint*)(pointer + VersionOffset) = LayoutVersion;
                *(uint*)(pointer + CapacityOffset) = (uint)ringCapacity;
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
            return new SharedMemoryChannel(file, view, front: true);
        }
        catch
        {
            stream.Dispose();
            File.Delete(path);
            throw;
        }
    }

    /// <summary>The worker's end: maps the file the front made, checks it, and tells the front it may delete the name.</summary>
    public static SharedMemoryChannel Open(string path)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        MemoryMappedFile file;
        try
        {
            file = MemoryMappedFile.CreateFromFile(stream, null, 0, MemoryMappedFileAccess.ReadWrite, HandleInheritability.None, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
        MemoryMappedViewAccessor? view = null;
        try
        {
            long size = stream.Length;
            view = file.CreateViewAccessor(0, size, MemoryMappedFileAccess.ReadWrite);
            uint magic = view.ReadUInt32(MagicOffset);
            uint version = view.ReadUInt32(VersionOffset);
            uint capacity = view.ReadUInt32(CapacityOffset);
            if (magic != Magic || version != LayoutVersion || capacity == 0 || (capacity & (capacity - 1)) != 0 || size < FileSize((int)capacity))
            {
                throw new InvalidDataException($"{path} is not a kwsgi shared-memory channel (version {LayoutVersion}).");
            }
            var channel = new SharedMemoryChannel(file, view, front: false);
            Volatile.Write(ref *(int*)(channel._base + AttachedOffset), 1);
            return channel;
        }
        catch
        {
            view?.Dispose();
            file.Dispose();
            throw;
        }
    }

    /// <summary>True once the worker has the file mapped.</summary>
    public bool IsAttached => Volatile.Read(ref *(int*)(_base + AttachedOffset)) != 0;

    /// <summary>True once either end closed (or the front saw the worker's process end).</summary>
    public bool IsClosed => _incoming.IsClosed;

    /// <summary>Blocks until at least one byte arrives; 0 once the other end is gone and everything it sent was read.</summary>
    public int Receive(Span<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return 0;
        }
        using (UseMapping())
        {
            while (true)
            {
                int received = _incoming.TryRead(buffer);
                if (received > 0 || _incoming.IsFinished)
                {
                    return received;
                }
                _incoming.WaitForData();
            }
        }
    }

    /// <summary>Reads what is there without waiting: -1 when nothing is (yet), 0 at end of stream.</summary>
    public int TryReceive(Span<byte> buffer)
    {
        using (UseMapping())
        {
            int received = _incoming.TryRead(buffer);
            return received > 0 || buffer.IsEmpty ? received : _incoming.IsFinished ? 0 : -1;
        }
    }

    /// <summary>Blocks until there is something to read or the channel closed.</summary>
    public void WaitToReceive()
    {
        using (UseMapping())
        {
            _incoming.WaitForData();
        }
    }

    /// <summary>Writes all of <paramref name="data"/>, waiting for room as often as needed; callers serialize.</summary>
    /// <exception cref="IOException">The other end is gone.</exception>
    public void Send(ReadOnlySpan<byte> data)
    {
        using (UseMapping())
        {
            while (true)
            {
                data = data[_outgoing.TryWrite(data)..];
                if (data.IsEmpty)
                {
                    return;
                }
                _outgoing.WaitForSpace();
            }
        }
    }

    /// <summary>Writes what fits without waiting; returns how much that was.</summary>
    /// <exception cref="IOException">The other end is gone.</exception>
    public int TrySend(ReadOnlySpan<byte> data)
    {
        using (UseMapping())
        {
            return _outgoing.TryWrite(data);
        }
    }

    /// <summary>
    /// Marks the channel closed for both ends and wakes every sleeper on either ring: the reader returns what is
    /// left and then end of stream, a writer fails. Safe to call from any thread, any number of times.
    /// </summary>
    public void Close()
    {
        MappingUse use;
        try
        {
            use = UseMapping();
        }
        catch (ObjectDisposedException)
        {
            return; // disposed: already closed
        }
        using (use)
        {
            Volatile.Write(ref *(int*)(_base + ClosedOffset), 1);
            Interlocked.MemoryBarrier(); // closed before the waiter words: see SharedMemoryRing's remarks
            _incoming.WakeAll();
            _outgoing.WakeAll();
        }
    }

    /// <summary>Closes the channel when <paramref name="process"/> (the worker) exits, however it exits.</summary>
    public void CloseWhenExited(Process process) =>
        process.WaitForExitAsync().ContinueWith(static (_, state) => ((SharedMemoryChannel)state!).Close(), this,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    /// <summary>
    /// A reference on the mapping for the length of one call: the mapping outlives a Dispose that races a call
    /// blocked on the ring (throws <see cref="ObjectDisposedException"/> once disposed).
    /// </summary>
    private MappingUse UseMapping() => new(_view.SafeMemoryMappedViewHandle);

    private readonly ref struct MappingUse
    {
        private readonly System.Runtime.InteropServices.SafeHandle _handle;

        public MappingUse(System.Runtime.InteropServices.SafeHandle handle)
        {
            bool added = false;
            handle.DangerousAddRef(ref added);
            _handle = handle;
        }

        public void Dispose() => _handle.DangerousRelease();
    }

    /// <summary>Closes the channel; the mapping goes once no thread is inside a call any more.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        Close();
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _file.Dispose();
    }
}

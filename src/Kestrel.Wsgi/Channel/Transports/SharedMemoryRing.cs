using System.Runtime.CompilerServices;

namespace Kestrel.Wsgi.Channel.Transports;

/// <summary>
/// One direction of a shared-memory channel: a single-producer/single-consumer byte ring in a mapping both
/// processes share. Head and tail only grow (64-bit: they never wrap); the byte at position p sits at
/// <c>p &amp; (capacity - 1)</c>. A side that finds nothing to do says so in a waiter word and sleeps on that word
/// (futex); the other side wakes it only when that word says it sleeps, so a busy channel makes no system call.
/// </summary>
/// <remarks>
/// The wake-up cannot be lost. The sleeper stores 1 in its waiter word with an interlocked exchange (a full
/// fence), then looks at the ring again, and only then waits, and only while the word still holds 1. The other
/// side stores its new head (or tail), issues a full fence, then reads the waiter word. Both store before they
/// load, with a full fence between (Dekker): at least one sees the other's store. Either the sleeper sees the
/// new bytes and does not sleep, or the other side sees 1, sets the word to 0 and wakes it; a wake that comes
/// between the sleeper's look and its wait finds the word already 0, and the kernel does not put it to sleep.
/// Closing works the same way: store closed, fence, clear each waiter word and wake it.
/// </remarks>
internal sealed unsafe class SharedMemoryRing
{
    private readonly long* _head;
    private readonly long* _tail;
    private readonly int* _dataWaiter;
    private readonly int* _spaceWaiter;
    private readonly int* _closed;
    private readonly byte* _data;
    private readonly int _capacity;

    /// <param name="control">This ring's control block (head, tail, the two waiter words).</param>
    /// <param name="closed">The channel's closed word, shared by both rings.</param>
    /// <param name="data">This ring's bytes.</param>
    /// <param name="capacity">A power of two.</param>
    public SharedMemoryRing(byte* control, int* closed, byte* data, int capacity)
    {
        if (capacity <= 0 || (capacity & (capacity - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "A ring's capacity is a power of two.");
        }
        _head = (long*)(control + SharedMemoryLayout.HeadOffset);
        _tail = (long*)(control + SharedMemoryLayout.TailOffset);
        _dataWaiter = (int*)(control + SharedMemoryLayout.DataWaiterOffset);
        _spaceWaiter = (int*)(control + SharedMemoryLayout.SpaceWaiterOffset);
        _closed = closed;
        _data = data;
        _capacity = capacity;
    }

    public int Capacity => _capacity;

    public bool IsClosed => Volatile.Read(ref *_closed) != 0;

    /// <summary>Bytes written and not yet read.</summary>
    public int Available => (int)(Volatile.Read(ref *_head) - Volatile.Read(ref *_tail));

    /// <summary>Closed and nothing left to read: the consumer's end of stream.</summary>
    // Closed first: the producer published its last bytes before it closed, so a head read after seeing closed
    // includes them.
    public bool IsFinished => IsClosed && Available == 0;

    // ---- producer ----

    /// <summary>Copies as much of <paramref name="source"/> as fits and publishes it; 0 when the ring is full.</summary>
    /// <exception cref="IOException">The channel is closed: the reader is gone.</exception>
    public int TryWrite(ReadOnlySpan<byte> source)
    {
        if (IsClosed)
        {
            throw Closed();
        }
        long head = *_head; // only this side writes it
        int free = _capacity - (int)(head - Volatile.Read(ref *_tail));
        int count = Math.Min(free, source.Length);
        if (count == 0)
        {
            return 0;
        }
        int start = (int)head & (_capacity - 1);
        int first = Math.Min(count, _capacity - start);
        source[..first].CopyTo(new Span<byte>(_data + start, first));
        source[first..count].CopyTo(new Span<byte>(_data, count - first));
        Volatile.Write(ref *_head, head + count);
        Interlocked.MemoryBarrier(); // the head before the waiter word: see the remarks
        WakeIfWaiting(_dataWaiter);
        return count;
    }

    /// <summary>Sleeps until the ring has room or the channel closes.</summary>
    public void WaitForSpace()
    {
        if (HasSpaceOrClosed())
        {
            return;
        }
        while (true)
        {
            Interlocked.Exchange(ref *_spaceWaiter, 1);
            if (HasSpaceOrClosed())
            {
                break;
            }
            Futex.Wait(_spaceWaiter, 1);
            if (HasSpaceOrClosed())
            {
                break;
            }
        }
        Volatile.Write(ref *_spaceWaiter, 0);
    }

    private bool HasSpaceOrClosed() =>
        Volatile.Read(ref *_head) - Volatile.Read(ref *_tail) < _capacity || IsClosed;

    // ---- consumer ----

    /// <summary>Copies what is there, up to <paramref name="destination"/>'s length, and frees its room; 0 when empty.</summary>
    public int TryRead(Span<byte> destination)
    {
        long tail = *_tail; // only this side writes it
        int available = (int)(Volatile.Read(ref *_head) - tail);
        int count = Math.Min(available, destination.Length);
        if (count == 0)
        {
            return 0;
        }
        int start = (int)tail & (_capacity - 1);
        int first = Math.Min(count, _capacity - start);
        new ReadOnlySpan<byte>(_data + start, first).CopyTo(destination);
        new ReadOnlySpan<byte>(_data, count - first).CopyTo(destination[first..]);
        Volatile.Write(ref *_tail, tail + count);
        Interlocked.MemoryBarrier(); // the tail before the waiter word: see the remarks
        WakeIfWaiting(_spaceWaiter);
        return count;
    }

    /// <summary>Sleeps until there are bytes to read or the channel closes.</summary>
    public void WaitForData()
    {
        if (HasDataOrClosed())
        {
            return;
        }
        while (true)
        {
            Interlocked.Exchange(ref *_dataWaiter, 1);
            if (HasDataOrClosed())
            {
                break;
            }
            Futex.Wait(_dataWaiter, 1);
            if (HasDataOrClosed())
            {
                break;
            }
        }
        Volatile.Write(ref *_dataWaiter, 0);
    }

    private bool HasDataOrClosed() => Volatile.Read(ref *_head) != Volatile.Read(ref *_tail) || IsClosed;

    // ---- both ----

    /// <summary>Wakes whoever sleeps on this ring, unconditionally; the caller has just set the closed word.</summary>
    public void WakeAll()
    {
        Interlocked.Exchange(ref *_dataWaiter, 0);
        Futex.WakeAll(_dataWaiter);
        Interlocked.Exchange(ref *_spaceWaiter, 0);
        Futex.WakeAll(_spaceWaiter);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WakeIfWaiting(int* waiter)
    {
        // A plain read first: on a busy channel nobody sleeps, and the line stays shared instead of bouncing.
        if (Volatile.Read(ref *waiter) != 0 && Interlocked.Exchange(ref *waiter, 0) != 0)
        {
            Futex.WakeAll(waiter);
        }
    }

    private static IOException Closed() => new("The shared-memory channel is closed: the other side has gone.");
}

namespace Kestrel.Wsgi.Channel.Transports;

/// <summary>
/// Where everything sits in a shared-memory channel's mapping. Each word one side writes often sits on a 128-byte
/// slot of its own (two cache lines: Intel's adjacent-line prefetcher pairs them), so the producer's head and the
/// consumer's tail never share a line. Little-endian, both ends are the same executable on the same machine.
/// </summary>
/// <remarks>
/// <code>
///    0  u32 magic "KWSG", u32 version, u32 ring capacity
///   16  i32 attached   the worker has mapped the file (the front then deletes its name)
///   20  i32 closed     either side is gone or closing; never cleared
///  512  ring 0, front → worker: i64 head | i64 tail | i32 data waiter | i32 space waiter  (128 bytes each)
/// 1024  ring 1, worker → front: the same
/// 4096  ring 0's bytes, then ring 1's bytes (capacity each, a power of two)
/// </code>
/// </remarks>
internal static class SharedMemoryLayout
{
    public const uint Magic = 0x4753574B; // "KWSG" little-endian
    public const uint LayoutVersion = 1;

    /// <summary>1 MiB each way: a 64 KiB body frame and its header fit many times over; larger frames pass in pieces.</summary>
    public const int DefaultRingCapacity = 1 << 20;

    public const int MagicOffset = 0;
    public const int VersionOffset = 4;
    public const int CapacityOffset = 8;
    public const int AttachedOffset = 16;
    public const int ClosedOffset = 20;

    public const int Slot = 128;
    public const int ToWorkerRingOffset = 512;
    public const int ToFrontRingOffset = 1024;

    // Within a ring's control block.
    public const int HeadOffset = 0;
    public const int TailOffset = Slot;
    public const int DataWaiterOffset = 2 * Slot;
    public const int SpaceWaiterOffset = 3 * Slot;

    public const int DataOffset = 4096;

    public static long FileSize(int ringCapacity) => DataOffset + 2L * ringCapacity;
}

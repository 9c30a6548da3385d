namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>The bytes the static-file cache may hold in memory, shared by every mount.</summary>
internal sealed class MemoryBudget(long limit)
{
    private long _used;

    public long Used => Volatile.Read(ref _used);

    public bool TryReserve(long bytes)
    {
        if (Interlocked.Add(ref _used, bytes) <= limit)
        {
            return true;
        }
        Interlocked.Add(ref _used, -bytes);
        return false;
    }

    public void Release(long bytes) => Interlocked.Add(ref _used, -bytes);
}

using System.Collections.Concurrent;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// Static files by decoded URL path, looked up without allocating. A held file is compared with the disk (length
/// and last-write time of it and its siblings, and where its links lead) at most once per
/// <see cref="StaticFileSettings.CheckInterval"/>, by one request while the others keep being served; a change
/// reloads it, a removal forgets it. Polling a stat per interval per requested file is cheaper and surer than a
/// FileSystemWatcher: watchers miss changes on network shares and bind mounts, overflow under bulk deploys, need an
/// inotify watch per folder, and would have to watch every link target too.
/// </summary>
internal sealed class StaticFileCache
{
    private readonly ConcurrentDictionary<string, StaticFile> _files = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, StaticFile>.AlternateLookup<ReadOnlySpan<char>> _bySpan;
    private readonly StaticFileLoader _loader;
    private readonly MemoryBudget _budget = new(StaticFileSettings.MemoryBudget);
    private readonly long _interval = (long)StaticFileSettings.CheckInterval.TotalMilliseconds;

    public StaticFileCache(StaticFileLoader loader)
    {
        _loader = loader;
        _bySpan = _files.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <summary>Bytes of file bodies held in memory (for tests and diagnostics).</summary>
    public long HeldBytes => _budget.Used;

    /// <summary>The file for <paramref name="urlPath"/> (decoded, under <paramref name="root"/>); null when none may be served.</summary>
    public StaticFile? Find(StaticRoot root, ReadOnlySpan<char> urlPath)
    {
        long now = Environment.TickCount64;
        if (_bySpan.TryGetValue(urlPath, out StaticFile? held))
        {
            return held.ClaimCheck(now, _interval) ? Recheck(root, held, now) : held;
        }
        // The key is checked before anything touches the disk; what is held was checked the same way.
        if (StaticPathMapper.Map(urlPath[root.UrlPath.Length..]) is not string relative || FileStamps.Probe(root, relative) is not FileStamps stamps)
        {
            return null;
        }
        bool keep = _files.Count < StaticFileSettings.MaxCachedFiles;
        StaticFile file = _loader.Load(root, urlPath.ToString(), relative, stamps, keep ? _budget : null, now + _interval);
        if (keep && !_files.TryAdd(file.UrlPath, file))
        {
            _budget.Release(file.HeldBytes); // another request loaded it first
            return _files.TryGetValue(file.UrlPath, out StaticFile? winner) ? winner : file;
        }
        return file;
    }

    private StaticFile? Recheck(StaticRoot root, StaticFile held, long now)
    {
        FileStamps? stamps = FileStamps.Probe(root, held.RelativePath);
        if (stamps == held.Stamps)
        {
            return held;
        }
        _budget.Release(held.HeldBytes);
        if (stamps is not FileStamps current)
        {
            _files.TryRemove(new KeyValuePair<string, StaticFile>(held.UrlPath, held));
            return null;
        }
        StaticFile fresh = _loader.Load(root, held.UrlPath, held.RelativePath, current, _budget, now + _interval);
        _files[held.UrlPath] = fresh;
        return fresh;
    }
}

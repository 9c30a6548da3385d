using Kestrel.Wsgi.Hosting;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>The static mounts, checked and resolved at start-up, and the caching policy for what they serve.</summary>
internal sealed class StaticFileSettings
{
    /// <summary>Files up to this size are held in memory with their headers; larger ones are sent from disk.</summary>
    public const int SmallFileLimit = 64 * 1024;

    /// <summary>Memory all held bodies may take together; past it, small files are sent from disk too.</summary>
    public const long MemoryBudget = 64L * 1024 * 1024;

    /// <summary>Distinct paths the cache remembers; past it, files are looked up on every request.</summary>
    public const int MaxCachedFiles = 10_000;

    /// <summary>How often a cached file is compared with the disk (its length and last-write time).</summary>
    public static readonly TimeSpan CheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>RFC 9111 5.2.2.1 and RFC 8246: a year, the conventional "forever", for content-hashed names.</summary>
    public static readonly StringValues ImmutableCacheControl = "public, max-age=31536000, immutable";

    /// <summary>Longest URL path first, so a nested mount wins over its parent.</summary>
    public StaticRoot[] Roots { get; }

    public StringValues CacheControl { get; }

    private StaticFileSettings(StaticRoot[] roots, StringValues cacheControl)
    {
        Roots = roots;
        CacheControl = cacheControl;
    }

    /// <summary>Resolves each mount's folder against the current directory; throws <see cref="UsageException"/> for a missing one.</summary>
    public static StaticFileSettings Resolve(IReadOnlyList<StaticMount> mounts, TimeSpan maxAge)
    {
        var roots = new List<StaticRoot>(mounts.Count);
        foreach (StaticMount mount in mounts)
        {
            string full = Path.GetFullPath(mount.Folder);
            if (!Directory.Exists(full))
            {
                throw new UsageException($"--static {mount.UrlPath}={mount.Folder}: the folder {full} does not exist");
            }
            string real = RealPath.Resolve(full) ?? throw new UsageException($"--static {mount.UrlPath}={mount.Folder}: the folder's symbolic links loop");
            foreach (StaticRoot other in roots)
            {
                if (other.UrlPath == mount.UrlPath)
                {
                    throw new UsageException($"--static {mount.UrlPath} is given twice");
                }
            }
            roots.Add(new StaticRoot(mount.UrlPath, real.Length > 1 ? Path.TrimEndingDirectorySeparator(real) : real));
        }
        roots.Sort((a, b) => b.UrlPath.Length.CompareTo(a.UrlPath.Length));
        long seconds = (long)maxAge.TotalSeconds;
        // max-age=0 alone lets a cache serve stale copies when disconnected; no-cache means "ask every time".
        StringValues cacheControl = seconds > 0 ? $"public, max-age={seconds}" : "no-cache";
        return new StaticFileSettings([.. roots], cacheControl);
    }
}

using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>A file under a static mount as the cache holds it: its representations and the headers they share.</summary>
internal sealed class StaticFile
{
    private long _nextCheck;

    public StaticFile(string urlPath, string relativePath, FileStamps stamps, StringValues contentType, StringValues cacheControl,
        StaticRepresentation identity, StaticRepresentation? brotli, StaticRepresentation? gzip, long nextCheck)
    {
        UrlPath = urlPath;
        RelativePath = relativePath;
        Stamps = stamps;
        ContentType = contentType;
        CacheControl = cacheControl;
        Identity = identity;
        Brotli = brotli;
        Gzip = gzip;
        // The response depends on Accept-Encoding only when there is something to choose between (RFC 9110 12.5.5).
        Vary = brotli is not null || gzip is not null ? "Accept-Encoding" : StringValues.Empty;
        _nextCheck = nextCheck;
    }

    /// <summary>The decoded URL path: the cache key.</summary>
    public string UrlPath { get; }

    /// <summary>The path below the mount's folder, with the OS's separators.</summary>
    public string RelativePath { get; }

    public FileStamps Stamps { get; }

    public StringValues ContentType { get; }

    public StringValues CacheControl { get; }

    public StringValues Vary { get; }

    public StaticRepresentation Identity { get; }

    public StaticRepresentation? Brotli { get; }

    public StaticRepresentation? Gzip { get; }

    public bool HasSiblings => Brotli is not null || Gzip is not null;

    /// <summary>Bytes held in memory by this file's representations.</summary>
    public long HeldBytes => (Identity.Body?.Length ?? 0) + (Brotli?.Body?.Length ?? 0) + (Gzip?.Body?.Length ?? 0);

    public StaticRepresentation Select(ContentCoding coding) => coding switch
    {
        ContentCoding.Brotli => Brotli ?? Identity,
        ContentCoding.Gzip => Gzip ?? Identity,
        _ => Identity,
    };

    /// <summary>
    /// True for the one caller that should compare the file with the disk now (at most one per interval: the
    /// others keep serving what is held meanwhile).
    /// </summary>
    public bool ClaimCheck(long now, long interval)
    {
        long due = Volatile.Read(ref _nextCheck);
        return now >= due && Interlocked.CompareExchange(ref _nextCheck, now + interval, due) == due;
    }
}

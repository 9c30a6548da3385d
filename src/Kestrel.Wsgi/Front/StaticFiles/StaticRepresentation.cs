using System.Globalization;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// One form of a static file — the file itself or a precompressed sibling — with its validators formatted once:
/// the hot path copies these values into the response and never formats a string.
/// </summary>
internal sealed class StaticRepresentation
{
    public StaticRepresentation(ContentCoding coding, string physicalPath, FileStamp stamp, byte[]? body)
    {
        Coding = coding;
        PhysicalPath = physicalPath;
        Body = body;
        Length = body?.Length ?? stamp.Length;
        LastModified = TruncateToSeconds(stamp.LastWrite);
        // Like nginx's "mtime-length", at full precision, plus the coding: each representation has its own (RFC 9110 8.8.3).
        string suffix = coding switch { ContentCoding.Brotli => "-br", ContentCoding.Gzip => "-gz", _ => "" };
        ETagValue = string.Create(CultureInfo.InvariantCulture, $"\"{stamp.LastWriteTicks:x}-{Length:x}{suffix}\"");
        ETag = ETagValue;
        LastModifiedHeader = HeaderUtilities.FormatDate(LastModified);
        ContentEncoding = coding switch { ContentCoding.Brotli => "br", ContentCoding.Gzip => "gzip", _ => StringValues.Empty };
    }

    public ContentCoding Coding { get; }

    public string PhysicalPath { get; }

    /// <summary>The bytes, when the file is small enough to be held; null to send from disk.</summary>
    public byte[]? Body { get; }

    public long Length { get; }

    /// <summary>Whole seconds, as HTTP dates carry them.</summary>
    public DateTimeOffset LastModified { get; }

    /// <summary>The strong entity tag, quotes included.</summary>
    public string ETagValue { get; }

    public StringValues ETag { get; }

    public StringValues LastModifiedHeader { get; }

    /// <summary>Empty for the file itself.</summary>
    public StringValues ContentEncoding { get; }

    private static DateTimeOffset TruncateToSeconds(DateTimeOffset time) =>
        new(time.Ticks - time.Ticks % TimeSpan.TicksPerSecond, TimeSpan.Zero);
}

using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>What a Range header asks of a representation (RFC 9110 14.2).</summary>
internal enum RangeRequest
{
    /// <summary>No Range, or one the server ignores (malformed, another unit, several ranges): send it all.</summary>
    Whole,

    /// <summary>One satisfiable range: 206.</summary>
    Partial,

    /// <summary>Every range starts past the end: 416 with <c>Content-Range: bytes */LENGTH</c>.</summary>
    Unsatisfiable,
}

/// <summary>
/// Parses a single <c>bytes=</c> range: <c>first-last</c>, <c>first-</c> or the suffix <c>-count</c>. Several ranges
/// in one request are answered with the whole file (allowed by RFC 9110 14.2; multipart/byteranges buys little
/// for static files and is a known amplification vector).
/// </summary>
internal static class ByteRange
{
    public static RangeRequest Parse(StringValues header, long length, out long first, out long last)
    {
        first = 0;
        last = length - 1;
        if (header.Count != 1 || header[0] is not string value)
        {
            return RangeRequest.Whole;
        }
        ReadOnlySpan<char> spec = value.AsSpan().Trim(" \t");
        if (!spec.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            return RangeRequest.Whole;
        }
        spec = spec["bytes=".Length..].Trim(" \t");
        int dash = spec.IndexOf('-');
        if (dash < 0 || spec.Contains(','))
        {
            return RangeRequest.Whole;
        }
        ReadOnlySpan<char> from = spec[..dash].Trim(" \t");
        ReadOnlySpan<char> to = spec[(dash + 1)..].Trim(" \t");
        if (from.IsEmpty)
        {
            // Suffix range: the last N bytes.
            if (!TryParseDigits(to, out long count))
            {
                return RangeRequest.Whole;
            }
            if (count == 0 || length == 0)
            {
                return RangeRequest.Unsatisfiable;
            }
            first = Math.Max(0, length - count);
            return RangeRequest.Partial;
        }
        if (!TryParseDigits(from, out first))
        {
            return RangeRequest.Whole;
        }
        if (!to.IsEmpty)
        {
            if (!TryParseDigits(to, out long end) || end < first)
            {
                first = 0;
                return RangeRequest.Whole; // last < first makes the header invalid, so it is ignored
            }
            last = Math.Min(end, length - 1);
        }
        if (first >= length)
        {
            return RangeRequest.Unsatisfiable;
        }
        return RangeRequest.Partial;
    }

    /// <summary>1*DIGIT; values too large for a long saturate (they are past any file's end anyway).</summary>
    private static bool TryParseDigits(ReadOnlySpan<char> digits, out long value)
    {
        value = 0;
        if (digits.IsEmpty)
        {
            return false;
        }
        foreach (char c in digits)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
            value = value > (long.MaxValue - 9) / 10 ? long.MaxValue : value * 10 + (c - '0');
        }
        return true;
    }
}

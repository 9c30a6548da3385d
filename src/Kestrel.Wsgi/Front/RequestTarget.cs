using System.Buffers;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// Splits a raw request target into the percent-decoded path (PEP 3333 PATH_INFO is decoded, %2F included,
/// as latin-1 bytes) and the raw query (QUERY_STRING stays encoded). A fragment never reaches either.
/// </summary>
internal static class RequestTarget
{
    /// <summary>Decodes the path of <paramref name="rawTarget"/> into <paramref name="path"/>; returns the query string.</summary>
    public static string Split(string rawTarget, ArrayBufferWriter<byte> path)
    {
        Span<byte> destination = path.GetSpan(MaxPathBytes(rawTarget));
        string query = Split(rawTarget, destination, out int length);
        path.Advance(length);
        return query;
    }

    /// <summary>The most bytes a decoded path of <paramref name="rawTarget"/> can take.</summary>
    public static int MaxPathBytes(string rawTarget) => Math.Max(1, rawTarget.Length * 3);

    /// <summary>
    /// Decodes the path of <paramref name="rawTarget"/> into <paramref name="destination"/> (at least
    /// <see cref="MaxPathBytes"/> long); returns the query string.
    /// </summary>
    public static string Split(string rawTarget, Span<byte> destination, out int pathLength)
    {
        ReadOnlySpan<char> rawPath = PathOf(rawTarget, out ReadOnlySpan<char> rest);
        string query = "";
        if (rest.Length > 0 && rest[0] == '?')
        {
            int fragment = rest.IndexOf('#');
            query = (fragment < 0 ? rest[1..] : rest[1..fragment]).ToString();
        }
        pathLength = Decode(rawPath, destination);
        return query;
    }

    /// <summary>
    /// The still-encoded path of <paramref name="rawTarget"/>: after the authority of an absolute-form
    /// target (RFC 9112 3.2.2), up to the query or fragment; <paramref name="rest"/> is what follows it.
    /// </summary>
    public static ReadOnlySpan<char> PathOf(string rawTarget, out ReadOnlySpan<char> rest)
    {
        ReadOnlySpan<char> target = rawTarget;
        if (target.Length > 0 && target[0] != '/' && target.IndexOf("://") is int scheme and >= 0)
        {
            int slash = target[(scheme + 3)..].IndexOf('/');
            target = slash < 0 ? "/" : target[(scheme + 3 + slash)..];
        }
        int end = target.IndexOfAny('?', '#');
        rest = end < 0 ? default : target[end..];
        return end < 0 ? target : target[..end];
    }

    /// <summary>Percent-decodes <paramref name="raw"/> into <paramref name="span"/> (3 bytes per char at most); returns the length.</summary>
    public static int Decode(ReadOnlySpan<char> raw, Span<byte> span)
    {
        int written = 0;
        for (int i = 0; i < raw.Length; i++)
        {
            char c = raw[i];
            if (c == '%' && i + 2 < raw.Length && IsHex(raw[i + 1]) && IsHex(raw[i + 2]))
            {
                span[written++] = (byte)((Hex(raw[i + 1]) << 4) | Hex(raw[i + 2]));
                i += 2;
            }
            else if (c < 0x100)
            {
                span[written++] = (byte)c;
            }
            else
            {
                written += System.Text.Encoding.UTF8.GetBytes(raw.Slice(i, 1), span[written..]);
            }
        }
        return written;
    }

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int Hex(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

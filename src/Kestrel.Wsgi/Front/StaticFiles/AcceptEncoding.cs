using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// Chooses between a file and its precompressed siblings from the request's Accept-Encoding (RFC 9110 12.5.3):
/// the highest q wins, ties go to Brotli, then gzip, then the file as it is; q=0 refuses a coding, and a coding
/// not named takes the q of "*" when there is one. Identity not named loses to any coding the client accepts,
/// and is the fallback even when refused (no 406).
/// Parses in place, without allocating.
/// </summary>
internal static class AcceptEncoding
{
    private const int Unnamed = -1;

    public static ContentCoding Choose(StringValues acceptEncoding, bool hasBrotli, bool hasGzip)
    {
        int brotli = Unnamed, gzip = Unnamed, identity = Unnamed, any = Unnamed;
        foreach (string? value in acceptEncoding)
        {
            ReadOnlySpan<char> rest = value;
            foreach (Range range in rest.Split(','))
            {
                ReadOnlySpan<char> element = rest[range];
                int semicolon = element.IndexOf(';');
                ReadOnlySpan<char> coding = (semicolon < 0 ? element : element[..semicolon]).Trim(" \t");
                int q = semicolon < 0 ? 1000 : Quality(element[(semicolon + 1)..]);
                if (q < 0 || coding.IsEmpty)
                {
                    continue; // malformed: ignore the element
                }
                if (coding.Equals("br", StringComparison.OrdinalIgnoreCase))
                {
                    brotli = Math.Max(brotli, q);
                }
                else if (coding.Equals("gzip", StringComparison.OrdinalIgnoreCase) || coding.Equals("x-gzip", StringComparison.OrdinalIgnoreCase))
                {
                    gzip = Math.Max(gzip, q);
                }
                else if (coding.Equals("identity", StringComparison.OrdinalIgnoreCase))
                {
                    identity = Math.Max(identity, q);
                }
                else if (coding.SequenceEqual("*"))
                {
                    any = Math.Max(any, q);
                }
            }
        }
        int qBrotli = hasBrotli ? (brotli != Unnamed ? brotli : Math.Max(any, 0)) : 0;
        int qGzip = hasGzip ? (gzip != Unnamed ? gzip : Math.Max(any, 0)) : 0;
        // Not named, identity is still acceptable (unless "*;q=0") but preferred least: any coding the client
        // names with q > 0 beats it, as with nginx and every other server with precompressed files.
        int qIdentity = identity != Unnamed ? identity : any == 0 ? 0 : 1;
        if (qBrotli > 0 && qBrotli >= qGzip && qBrotli >= qIdentity)
        {
            return ContentCoding.Brotli;
        }
        if (qGzip > 0 && qGzip >= qIdentity)
        {
            return ContentCoding.Gzip;
        }
        return ContentCoding.Identity;
    }

    /// <summary>The q parameter in thousandths (RFC 9110 12.4.2); 1000 without one; -1 when malformed.</summary>
    private static int Quality(ReadOnlySpan<char> parameters)
    {
        foreach (Range range in parameters.Split(';'))
        {
            ReadOnlySpan<char> parameter = parameters[range].Trim(" \t");
            if (parameter.Length < 2 || (parameter[0] | 0x20) != 'q' || parameter[1] != '=')
            {
                continue;
            }
            ReadOnlySpan<char> number = parameter[2..];
            if (number.IsEmpty || number[0] is not ('0' or '1'))
            {
                return -1;
            }
            int thousandths = (number[0] - '0') * 1000;
            if (number.Length == 1)
            {
                return thousandths;
            }
            if (number[1] != '.' || number.Length > 5)
            {
                return -1;
            }
            int scale = 100;
            for (int i = 2; i < number.Length; i++, scale /= 10)
            {
                if (!char.IsAsciiDigit(number[i]))
                {
                    return -1;
                }
                thousandths += (number[i] - '0') * scale;
            }
            return thousandths > 1000 ? -1 : thousandths;
        }
        return 1000;
    }
}

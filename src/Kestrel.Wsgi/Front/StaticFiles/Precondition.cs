using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>The outcome of a request's conditional headers against the representation it would get.</summary>
internal enum PreconditionResult
{
    /// <summary>No condition, or every condition holds: send the representation.</summary>
    Proceed,

    /// <summary>304: the client's copy is current.</summary>
    NotModified,

    /// <summary>412: If-Match or If-Unmodified-Since failed.</summary>
    Failed,
}

/// <summary>
/// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order RFC 9110 13.2.2
/// prescribes (so If-None-Match decides when it is present and If-Modified-Since is then ignored), and If-Range.
/// </summary>
internal static class Precondition
{
    public static PreconditionResult Evaluate(IHeaderDictionary headers, StaticRepresentation representation)
    {
        StringValues ifMatch = headers.IfMatch;
        if (!StringValues.IsNullOrEmpty(ifMatch))
        {
            if (!AnyTagMatches(ifMatch, representation.ETagValue, strong: true))
            {
                return PreconditionResult.Failed;
            }
        }
        else if (TryParseSingleDate(headers.IfUnmodifiedSince, out DateTimeOffset unmodifiedSince) && representation.LastModified > unmodifiedSince)
        {
            return PreconditionResult.Failed;
        }

        StringValues ifNoneMatch = headers.IfNoneMatch;
        if (!StringValues.IsNullOrEmpty(ifNoneMatch))
        {
            // Only GET and HEAD reach here, for which a match means 304 (RFC 9110 13.1.2).
            return AnyTagMatches(ifNoneMatch, representation.ETagValue, strong: false) ? PreconditionResult.NotModified : PreconditionResult.Proceed;
        }
        if (TryParseSingleDate(headers.IfModifiedSince, out DateTimeOffset modifiedSince) && representation.LastModified <= modifiedSince)
        {
            return PreconditionResult.NotModified;
        }
        return PreconditionResult.Proceed;
    }

    /// <summary>RFC 9110 13.1.5: a Range applies only while If-Range (a strong tag or the exact date) still holds.</summary>
    public static bool RangeStillValid(IHeaderDictionary headers, StaticRepresentation representation)
    {
        StringValues ifRange = headers.IfRange;
        if (StringValues.IsNullOrEmpty(ifRange))
        {
            return true;
        }
        if (ifRange.Count != 1 || ifRange[0] is not string value)
        {
            return false;
        }
        ReadOnlySpan<char> trimmed = value.AsSpan().Trim(" \t");
        if (trimmed.StartsWith('"') || trimmed.StartsWith("W/"))
        {
            return trimmed.SequenceEqual(representation.ETagValue); // a weak tag never matches here
        }
        return HeaderUtilities.TryParseDate(value, out DateTimeOffset date) && date == representation.LastModified;
    }

    /// <summary>
    /// Whether the entity-tag list (one or several header lines) names <paramref name="etag"/>, or is "*" (the
    /// file exists). Weak comparison ignores a W/ prefix; strong comparison never matches a weak tag.
    /// </summary>
    private static bool AnyTagMatches(StringValues list, string etag, bool strong)
    {
        foreach (string? line in list)
        {
            ReadOnlySpan<char> rest = line;
            foreach (Range range in rest.Split(','))
            {
                ReadOnlySpan<char> tag = rest[range].Trim(" \t");
                if (tag.SequenceEqual("*"))
                {
                    return true;
                }
                if (tag.StartsWith("W/"))
                {
                    if (strong)
                    {
                        continue;
                    }
                    tag = tag[2..];
                }
                if (tag.SequenceEqual(etag))
                {
                    return true;
                }
            }
        }
        return false;
    }

    /// <summary>A valid HTTP-date in a field with exactly one member (otherwise the field is ignored, RFC 9110 13.1.3).</summary>
    private static bool TryParseSingleDate(StringValues field, out DateTimeOffset date)
    {
        date = default;
        return field.Count == 1 && field[0] is string value && HeaderUtilities.TryParseDate(value, out date);
    }
}

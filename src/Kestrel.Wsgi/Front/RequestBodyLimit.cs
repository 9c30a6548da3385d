using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// <c>--max-request-body-size</c>, counted in body bytes as the app reads them. Kestrel's own limit is off:
/// it counts a chunked body's framing (chunk sizes, CRLFs) too, so it refuses chunked bodies under the limit.
/// </summary>
internal static class RequestBodyLimit
{
    /// <summary>Throws what Kestrel would, a 413 <see cref="BadHttpRequestException"/>, once <paramref name="length"/> passes the limit.</summary>
    public static void Check(long length, long? maxLength)
    {
        if (length > maxLength)
        {
            throw new BadHttpRequestException("The request body is too large.", StatusCodes.Status413PayloadTooLarge);
        }
    }
}

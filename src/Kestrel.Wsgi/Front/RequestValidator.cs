using System.Buffers;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// The HTTP checks Kestrel leaves out and a WSGI app must be able to rely on (RFC 9110/9112); run on every
/// request before it is dispatched.
/// </summary>
internal static class RequestValidator
{
    // CTL = %x00-1F / %x7F, HTAB excepted (RFC 5234 B.1, RFC 9110 5.5).
    private static readonly SearchValues<char> s_controls = SearchValues.Create(
        "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u000a\u000b\u000c\u000d\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f");

    // tchar (RFC 9110 5.6.2): a field name is a token.
    private static readonly SearchValues<char> s_tchar = SearchValues.Create(
        "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

    /// <param name="maxFieldSize">Largest header field (name, ": ", value) accepted; null for no limit of its own.</param>
    /// <param name="webSocket">The request is a WebSocket handshake for an ASGI app: over HTTP/2 that is a CONNECT (RFC 8441).</param>
    public static RequestRejection Check(HttpRequest request, int? maxFieldSize = null, bool webSocket = false)
    {
        int fieldLimit = maxFieldSize ?? int.MaxValue;
        IHeaderDictionary headers = request.Headers;
        if (HttpMethods.IsConnect(request.Method) && !webSocket)
        {
            return RequestRejection.Connect;
        }
        if (request.Protocol == "HTTP/1.1")
        {
            if (headers.Host is { Count: 1 } host && string.IsNullOrEmpty(host[0]))
            {
                return RequestRejection.EmptyHost;
            }
        }
        else if (request.Protocol == "HTTP/1.0" && headers.TransferEncoding.Count > 0)
        {
            return RequestRejection.TransferEncodingInHttp10;
        }
        foreach (KeyValuePair<string, StringValues> header in headers)
        {
            if (header.Key.AsSpan().ContainsAnyExcept(s_tchar))
            {
                return RequestRejection.BadHeaderName;
            }
            foreach (string? value in header.Value)
            {
                if (value is not null && value.AsSpan().ContainsAny(s_controls))
                {
                    return RequestRejection.ControlCharacterInHeader;
                }
                if (value is not null && header.Key.Length + 2 + value.Length > fieldLimit)
                {
                    return RequestRejection.HeaderFieldTooLarge;
                }
            }
        }
        return RequestRejection.None;
    }

    public static string Describe(RequestRejection rejection) => rejection switch
    {
        RequestRejection.ControlCharacterInHeader => "a header value contains a control character",
        RequestRejection.EmptyHost => "the Host header is empty",
        RequestRejection.HeaderFieldTooLarge => "a header field is larger than --limit-request-field-size",
        RequestRejection.BadHeaderName => "a header name contains a character a token cannot hold",
        RequestRejection.TransferEncodingInHttp10 => "an HTTP/1.0 request cannot use Transfer-Encoding",
        RequestRejection.Connect => "a WSGI server does not tunnel: CONNECT is not supported",
        _ => "bad request",
    };

    /// <summary>RFC 6585 4: 431 for header fields too large; RFC 9110 15.6.2: 501 for a method no app here can serve; 400 for the rest.</summary>
    public static int StatusOf(RequestRejection rejection) => rejection switch
    {
        RequestRejection.HeaderFieldTooLarge => StatusCodes.Status431RequestHeaderFieldsTooLarge,
        RequestRejection.Connect => StatusCodes.Status501NotImplemented,
        _ => StatusCodes.Status400BadRequest,
    };
}

namespace Kestrel.Wsgi.Front;

/// <summary>Why the front refused a request that Kestrel let through (400; 431 for a header field too large; 501 for CONNECT).</summary>
internal enum RequestRejection
{
    None,
    /// <summary>RFC 9110 5.5: a field value holds no control characters but HTAB.</summary>
    ControlCharacterInHeader,
    /// <summary>RFC 9112 3.2: an http(s) request target has an authority, so Host cannot be empty.</summary>
    EmptyHost,
    /// <summary>RFC 6585 4: one header field is larger than <c>--limit-request-field-size</c> (431).</summary>
    HeaderFieldTooLarge,
    /// <summary>RFC 9110 5.1: a field name is a token; Kestrel lets other characters through (<c>Bad[Name</c>).</summary>
    BadHeaderName,
    /// <summary>RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing; answer and close.</summary>
    TransferEncodingInHttp10,
    /// <summary>RFC 9110 9.3.6: CONNECT asks for a tunnel, which a WSGI app cannot be (501).</summary>
    Connect,
}

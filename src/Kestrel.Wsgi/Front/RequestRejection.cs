namespace Kestrel.Wsgi.Front;

/// <summary>Why the front refused a request that Kestrel let through (400, or 431 for a header field too large).</summary>
internal enum RequestRejection
{
    None,
    /// <summary>RFC 9110 5.5: a field value holds no control characters but HTAB.</summary>
    ControlCharacterInHeader,
    /// <summary>RFC 9112 3.2: an http(s) request target has an authority, so Host cannot be empty.</summary>
    EmptyHost,
    /// <summary>RFC 6585 4: one header field is larger than <c>--limit-request-field-size</c> (431).</summary>
    HeaderFieldTooLarge,
}

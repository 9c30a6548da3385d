namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>The forms a static file may be sent in: as it is, or a precompressed sibling next to it.</summary>
internal enum ContentCoding
{
    Identity,

    /// <summary>From <c>NAME.br</c>.</summary>
    Brotli,

    /// <summary>From <c>NAME.gz</c>.</summary>
    Gzip,
}

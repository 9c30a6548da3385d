namespace Kestrel.Wsgi.Front;

/// <summary>
/// What the front needs to map a request onto a WSGI environ. <paramref name="PrefixIgnoresCase"/>: the prefix is
/// an IIS application path, which IIS matches without regard to ASCII case before it forwards the request.
/// </summary>
internal sealed record FrontOptions(string UrlPrefix, bool PrefixIgnoresCase = false);

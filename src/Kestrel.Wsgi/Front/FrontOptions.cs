namespace Kestrel.Wsgi.Front;

/// <summary>What the front needs to map a request onto a WSGI environ.</summary>
internal sealed record FrontOptions(string UrlPrefix);

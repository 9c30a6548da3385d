namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>How IIS is to start kwsgi: what a handler section (httpPlatform or aspNetCore) describes.</summary>
internal sealed record KwsgiLaunch(
    string ProcessPath,
    IReadOnlyList<string> Arguments,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    IReadOnlyList<KeyValuePair<string, string>> Attributes);

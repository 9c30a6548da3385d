using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Kestrel.Wsgi.Hosting;

/// <summary>What a listener speaks.</summary>
public enum ListenScheme
{
    /// <summary>Not said: HTTPS when a certificate is given (as gunicorn's <c>--certfile</c> makes every bind TLS), else HTTP.</summary>
    Default,

    /// <summary>Cleartext HTTP/1.1.</summary>
    Http,

    /// <summary>TLS; HTTP/2 or HTTP/1.1 by ALPN.</summary>
    Https,

    /// <summary>Cleartext HTTP/2 only, by prior knowledge (RFC 9113 3.3): Kestrel 10 cannot offer both on one cleartext port (docs/https.md).</summary>
    H2c,
}

/// <summary>
/// One <c>--listen</c> entry: <c>[SCHEME://]HOST:PORT</c> where SCHEME is http, https or h2c and HOST is an IP address,
/// <c>[IPv6]</c>, <c>localhost</c> or <c>*</c> (every interface, IPv4 and IPv6, as waitress's <c>*:8080</c>); or
/// <c>unix:PATH</c>, a Unix domain socket (gunicorn's <c>--bind unix:PATH</c>, waitress's <c>--unix-socket</c>).
/// Every listen form kwsgi accepts is parsed here.
/// </summary>
public sealed record ListenAddress(ListenScheme Scheme, string Host, int Port)
{
    /// <summary>The host that means every interface.</summary>
    public const string AnyHost = "*";

    /// <summary>How gunicorn's --bind names a Unix domain socket: <c>unix:/run/app.sock</c>.</summary>
    public const string UnixPrefix = "unix:";

    /// <summary>The Unix domain socket's path, when this listener is one (then <see cref="Port"/> is 0).</summary>
    public string? UnixPath { get; init; }

    /// <summary>The address to bind; null for <c>*</c> and <c>localhost</c>, which Kestrel binds on both IPv4 and IPv6, and for a Unix socket.</summary>
    public IPAddress? Address => Host is AnyHost or "localhost" || UnixPath is not null ? null : IPAddress.Parse(Host);

    /// <summary>Parses one entry, or throws <see cref="UsageException"/> naming <paramref name="option"/>.</summary>
    public static ListenAddress Parse(string value, string option = "--listen")
    {
        string rest = value.Trim();
        var scheme = ListenScheme.Default;
        if (rest.StartsWith("fd://", StringComparison.Ordinal))
        {
            throw new UsageException($"{option} {value}: kwsgi does not take an inherited socket; give an address (HOST:PORT) or unix:PATH");
        }
        int separator = rest.IndexOf("://", StringComparison.Ordinal);
        if (separator >= 0)
        {
            scheme = rest[..separator].ToLowerInvariant() switch
            {
                "http" => ListenScheme.Http,
                "https" => ListenScheme.Https,
                "h2c" => ListenScheme.H2c,
                _ => throw new UsageException($"{option} {value}: the scheme must be http, https or h2c"),
            };
            rest = rest[(separator + 3)..];
        }
        if (rest.StartsWith(UnixPrefix, StringComparison.Ordinal))
        {
            string path = rest[UnixPrefix.Length..];
            return path.Length == 0 ? throw new UsageException($"{option} {value} needs a path: unix:PATH")
                : new ListenAddress(scheme, UnixPrefix + path, 0) { UnixPath = path };
        }
        rest = rest.TrimEnd('/');
        int colon = rest.LastIndexOf(':');
        if (colon < 0 || (rest.StartsWith('[') && rest.IndexOf(']') > colon))
        {
            throw new UsageException($"{option} {value} needs a port: HOST:PORT, *:PORT or [IPv6]:PORT");
        }
        string host = rest[..colon];
        if (host.Contains(':') && !host.StartsWith('['))
        {
            throw new UsageException($"{option} {value}: an IPv6 address goes in brackets, as [::1]:8080");
        }
        string portText = rest[(colon + 1)..];
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
        {
            throw new UsageException($"{option} {value}: '{portText}' is not a port number (1 to 65535)");
        }
        return new ListenAddress(scheme, ParseHost(host, value, option), port);
    }

    /// <summary>Several entries in one value, separated by spaces, as waitress's <c>listen</c> setting takes them; a unix:PATH is one entry.</summary>
    public static IEnumerable<ListenAddress> ParseList(string value, string option = "--listen") =>
        value.Contains(UnixPrefix, StringComparison.Ordinal)
            ? [Parse(value, option)] // a socket's path may hold spaces
            : value.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(one => Parse(one, option));

    /// <summary>The <c>--host</c> form: an IP address, <c>localhost</c> or <c>*</c>; normalized for <see cref="Host"/>.</summary>
    public static string ParseHost(string host, string value, string option)
    {
        if (host is "" or AnyHost)
        {
            return AnyHost;
        }
        if (host.Equals("localhost", StringComparison.OrdinalIgnoreCase))
        {
            return "localhost";
        }
        bool bracketed = host.StartsWith('[') && host.EndsWith(']');
        string literal = bracketed ? host[1..^1] : host;
        // IPAddress.TryParse also takes "1" and "10.1" (inet_aton's short forms); a listen address is written in full.
        bool isV6 = bracketed || literal.Contains(':');
        if (!IPAddress.TryParse(literal, out IPAddress? address) || (address.AddressFamily == AddressFamily.InterNetworkV6) != isV6
            || (!isV6 && literal.Count(c => c == '.') != 3))
        {
            throw new UsageException($"{option} {value}: '{host}' is not an IP address, [IPv6 address], localhost or *");
        }
        return address.ToString();
    }

    /// <summary>The scheme this listener speaks once <see cref="ListenScheme.Default"/> is decided.</summary>
    public ListenScheme Resolve(bool hasCertificate) => Scheme == ListenScheme.Default ? (hasCertificate ? ListenScheme.Https : ListenScheme.Http) : Scheme;

    /// <summary><c>https://[::1]:8443</c>, for the startup log.</summary>
    public string Display(bool hasCertificate)
    {
        string scheme = Resolve(hasCertificate).ToString().ToLowerInvariant();
        if (UnixPath is not null)
        {
            return $"{scheme}://{Host}";
        }
        string host = Host.Contains(':') ? $"[{Host}]" : Host;
        return $"{scheme}://{host}:{Port.ToString(CultureInfo.InvariantCulture)}";
    }
}

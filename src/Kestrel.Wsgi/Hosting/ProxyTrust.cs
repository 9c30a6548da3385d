using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using IPNetwork = System.Net.IPNetwork;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// Whose forwarded headers the front believes (waitress's trusted_proxy, trusted_proxy_headers and
/// trusted_proxy_count): a request whose peer is in <see cref="Proxies"/> gets its REMOTE_ADDR and
/// wsgi.url_scheme from the <see cref="Headers"/> it carries, <see cref="Count"/> values from the right.
/// Everyone else's forwarded headers are only headers. See docs/environ.md, "Behind a proxy".
/// </summary>
public sealed record ProxyTrust
{
    /// <summary>Peers whose forwarded headers are honoured; empty: nobody's.</summary>
    public IReadOnlyList<IPNetwork> Proxies { get; init; } = [];

    /// <summary>The forwarded headers honoured from those peers.</summary>
    public ForwardedHeaders Headers { get; init; } = DefaultHeaders;

    /// <summary>How many proxies stand in front of kwsgi: the value this many places from the right is the client's.</summary>
    public int Count { get; init; } = 1;

    /// <summary>Why these proxies are trusted, for the startup log (<c>--trusted-proxy</c>, or the IIS default).</summary>
    public string Reason { get; init; } = "--trusted-proxy";

    /// <summary>Remove the forwarded headers an untrusted peer sent before the app sees them (waitress's <c>clear_untrusted_proxy_headers</c>).</summary>
    public bool ClearUntrusted { get; init; }

    /// <summary>The waitress default: the client address and the scheme.</summary>
    public const ForwardedHeaders DefaultHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;

    /// <summary>Nobody is trusted: forwarded headers never change the environ.</summary>
    public static readonly ProxyTrust None = new();

    /// <summary>IIS's handlers connect from the same machine: 127.0.0.1 and ::1.</summary>
    public static IReadOnlyList<IPNetwork> Loopback { get; } = [new IPNetwork(IPAddress.Loopback, 32), new IPNetwork(IPAddress.IPv6Loopback, 128)];

    public bool IsEnabled => Proxies.Count > 0 && Headers != ForwardedHeaders.None;

    /// <summary>Whether the connection's peer is one of <see cref="Proxies"/>.</summary>
    public bool Trusts(IPAddress? peer)
    {
        if (peer is null)
        {
            return false;
        }
        if (peer.IsIPv4MappedToIPv6)
        {
            peer = peer.MapToIPv4(); // a dual-stack listener reports IPv4 peers this way
        }
        foreach (IPNetwork network in Proxies)
        {
            if (network.Contains(peer))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// One <c>--trusted-proxy</c> value: an address (<c>10.0.0.1</c>, <c>::1</c>), a network
    /// (<c>10.0.0.0/8</c>, <c>fd00::/8</c>) or <c>*</c> for every peer (waitress's wildcard).
    /// </summary>
    public static IEnumerable<IPNetwork> ParseProxy(string value)
    {
        string text = value.Trim();
        if (text == "*")
        {
            return [new IPNetwork(IPAddress.Any, 0), new IPNetwork(IPAddress.IPv6Any, 0)];
        }
        if (text.Contains('/'))
        {
            return IPNetwork.TryParse(text, out IPNetwork network) ? [network]
                : throw new UsageException($"--trusted-proxy {value} is not a network: write it as ADDRESS/BITS, e.g. 10.0.0.0/8");
        }
        if (IPAddress.TryParse(text.Trim('[', ']'), out IPAddress? address))
        {
            return [new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)];
        }
        throw new UsageException($"--trusted-proxy {value} is not an IP address or network (names are not looked up)");
    }

    /// <summary>
    /// <c>--trusted-proxy-headers</c>: header names separated by spaces or commas, as waitress takes them.
    /// The ones ASP.NET Core's forwarded-headers code does not read are refused by name.
    /// </summary>
    public static ForwardedHeaders ParseHeaders(string value)
    {
        ForwardedHeaders headers = ForwardedHeaders.None;
        foreach (string name in value.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries))
        {
            headers |= name.ToLowerInvariant() switch
            {
                "x-forwarded-for" => ForwardedHeaders.XForwardedFor,
                "x-forwarded-proto" => ForwardedHeaders.XForwardedProto,
                "x-forwarded-host" => ForwardedHeaders.XForwardedHost,
                "forwarded" or "x-forwarded-port" or "x-forwarded-by" =>
                    throw new UsageException($"--trusted-proxy-headers: {name} is not supported (kwsgi reads x-forwarded-for, x-forwarded-proto and x-forwarded-host)"),
                _ => throw new UsageException($"--trusted-proxy-headers: {name} is not a forwarding header (use x-forwarded-for, x-forwarded-proto, x-forwarded-host)"),
            };
        }
        return headers == ForwardedHeaders.None
            ? throw new UsageException("--trusted-proxy-headers names no header (use x-forwarded-for, x-forwarded-proto, x-forwarded-host)")
            : headers;
    }

    /// <summary>The header names, for the startup log.</summary>
    public string DescribeHeaders()
    {
        var names = new List<string>();
        if (Headers.HasFlag(ForwardedHeaders.XForwardedFor))
        {
            names.Add("X-Forwarded-For");
        }
        if (Headers.HasFlag(ForwardedHeaders.XForwardedProto))
        {
            names.Add("X-Forwarded-Proto");
        }
        if (Headers.HasFlag(ForwardedHeaders.XForwardedHost))
        {
            names.Add("X-Forwarded-Host");
        }
        return string.Join(", ", names);
    }
}

using System.Globalization;
using System.Net;

namespace Kestrel.Wsgi.Hosting.Metrics;

/// <summary><c>--metrics-listen ADDR:PORT</c>: where the Prometheus scrape endpoint listens.</summary>
internal static class MetricsEndpoint
{
    public const string Path = "/metrics";

    /// <summary><c>127.0.0.1:9090</c>, <c>[::1]:9090</c>, <c>*:9090</c>, <c>localhost:9090</c> or just <c>9090</c> (all addresses).</summary>
    public static IPEndPoint Parse(string value)
    {
        int colon = value.LastIndexOf(':');
        string host = colon < 0 ? "*" : value[..colon];
        string port = colon < 0 ? value : value[(colon + 1)..];
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out int number) || number is < 1 or > 65535)
        {
            throw new UsageException($"--metrics-listen {value} must be ADDR:PORT with a port from 1 to 65535");
        }
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }
        IPAddress address = host switch
        {
            "*" or "" or "0.0.0.0" => IPAddress.Any,
            "localhost" => IPAddress.Loopback,
            _ => IPAddress.TryParse(host, out IPAddress? parsed) ? parsed : throw new UsageException($"--metrics-listen {value}: {host} is not an IP address"),
        };
        return new IPEndPoint(address, number);
    }
}

using System.CommandLine;
using Kestrel.Wsgi.Front.WebSockets;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// The command-line options for WebSockets of ASGI apps (docs/asgi.md, WebSockets): uvicorn's names and defaults, checked
/// here, one sentence per mistake.
/// </summary>
internal static class WebSocketOptions
{
    private static readonly Option<long> s_maxMessageSize = new("--ws-max-message-size")
    {
        Description = "Largest WebSocket message a client may send, in bytes; past it the socket closes with 1009 (default 16777216, 16 MiB).",
        DefaultValueFactory = _ => WebSocketSettings.DefaultMaxMessageSize,
    };
    private static readonly Option<double> s_pingInterval = new("--ws-ping-interval")
    {
        Description = "Seconds between the front's pings to a WebSocket client (default 20; 0: no pings).",
        DefaultValueFactory = _ => WebSocketSettings.DefaultPing.TotalSeconds,
    };
    private static readonly Option<double> s_pingTimeout = new("--ws-ping-timeout")
    {
        Description = "Seconds a WebSocket client may take to answer a ping before the socket is dropped (default 20; 0: no limit).",
        DefaultValueFactory = _ => WebSocketSettings.DefaultPing.TotalSeconds,
    };

    public static IEnumerable<Option> All => [s_maxMessageSize, s_pingInterval, s_pingTimeout];

    /// <summary><paramref name="options"/> with the WebSocket settings the command line gives; throws <see cref="UsageException"/> for a bad value.</summary>
    public static KwsgiOptions Apply(ParseResult parsed, KwsgiOptions options)
    {
        long maxMessage = parsed.GetValue(s_maxMessageSize);
        if (maxMessage < 1)
        {
            throw new UsageException($"--ws-max-message-size {maxMessage} must be at least 1 byte");
        }
        return options with
        {
            WsMaxMessageSize = maxMessage,
            WsPingInterval = Seconds(parsed, s_pingInterval),
            WsPingTimeout = Seconds(parsed, s_pingTimeout),
        };
    }

    private static TimeSpan Seconds(ParseResult parsed, Option<double> option)
    {
        double value = parsed.GetValue(option);
        if (!(value >= 0 && value <= 24 * 3600))
        {
            throw new UsageException($"{option.Name} {value} must be between 0 (off) and 86400 seconds");
        }
        return TimeSpan.FromSeconds(value);
    }
}

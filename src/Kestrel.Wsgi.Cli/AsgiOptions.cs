using System.CommandLine;
using Kestrel.Wsgi.Front.WebSockets;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>The command-line options for ASGI apps (docs/asgi.md): names and values as uvicorn users know them.</summary>
internal static class AsgiOptions
{
    private static readonly Option<string> s_interface = new("--interface")
    {
        Description = "The app's interface: auto, wsgi or asgi (default auto: an async callable, or an object whose __call__ is async, is ASGI 3).",
        DefaultValueFactory = _ => "auto",
    };
    private static readonly Option<string> s_lifespan = new("--lifespan")
    {
        Description = "ASGI lifespan protocol: auto, on or off (default auto: an app that raises on the lifespan scope runs without it).",
        DefaultValueFactory = _ => "auto",
    };
    private static readonly Option<string> s_loop = new("--loop")
    {
        Description = "An ASGI worker's event loop: auto, asyncio or uvloop (default auto: uvloop when the Python has it).",
        DefaultValueFactory = _ => "auto",
    };
    private static readonly Option<int?> s_maxConcurrency = new("--max-concurrency")
    {
        Description = "Requests an ASGI worker runs at once; more wait in the front's queue (default: no limit).",
    };

    private static readonly Option<long> s_wsMaxMessageSize = new("--ws-max-message-size")
    {
        Description = "Largest WebSocket message a client may send, in bytes; past it the socket closes with 1009 (default 16777216, 16 MiB).",
        DefaultValueFactory = _ => WebSocketSettings.DefaultMaxMessageSize,
    };
    private static readonly Option<double> s_wsPingInterval = new("--ws-ping-interval")
    {
        Description = "Seconds between the front's pings to a WebSocket client (default 20; 0: no pings).",
        DefaultValueFactory = _ => WebSocketSettings.DefaultPing.TotalSeconds,
    };
    private static readonly Option<double> s_wsPingTimeout = new("--ws-ping-timeout")
    {
        Description = "Seconds a WebSocket client may take to answer a ping before the socket is dropped (default 20; 0: no limit).",
        DefaultValueFactory = _ => WebSocketSettings.DefaultPing.TotalSeconds,
    };

    public static IEnumerable<Option> All => [s_interface, s_lifespan, s_loop, s_maxConcurrency, s_wsMaxMessageSize, s_wsPingInterval, s_wsPingTimeout];

    /// <summary><paramref name="options"/> with the ASGI settings the command line gives; throws <see cref="UsageException"/> for a bad value.</summary>
    public static KwsgiOptions Apply(ParseResult parsed, KwsgiOptions options)
    {
        string appInterface = OneOf(parsed, s_interface, "auto", "wsgi", "asgi");
        string lifespan = OneOf(parsed, s_lifespan, "auto", "on", "off");
        string loop = OneOf(parsed, s_loop, "auto", "asyncio", "uvloop");
        int? maxConcurrency = parsed.GetValue(s_maxConcurrency);
        if (maxConcurrency is < 1)
        {
            throw new UsageException($"--max-concurrency {maxConcurrency} must be at least 1");
        }
        long wsMaxMessage = parsed.GetValue(s_wsMaxMessageSize);
        if (wsMaxMessage < 1)
        {
            throw new UsageException($"--ws-max-message-size {wsMaxMessage} must be at least 1 byte");
        }
        return options with
        {
            Interface = appInterface,
            Lifespan = lifespan,
            Loop = loop,
            MaxConcurrency = maxConcurrency,
            WsMaxMessageSize = wsMaxMessage,
            WsPingInterval = Seconds(parsed, s_wsPingInterval),
            WsPingTimeout = Seconds(parsed, s_wsPingTimeout),
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

    private static string OneOf(ParseResult parsed, Option<string> option, params string[] allowed)
    {
        string value = parsed.GetValue(option)!.ToLowerInvariant();
        if (!allowed.Contains(value))
        {
            throw new UsageException($"{option.Name} {value} must be {string.Join(", ", allowed[..^1])} or {allowed[^1]}");
        }
        return value;
    }
}

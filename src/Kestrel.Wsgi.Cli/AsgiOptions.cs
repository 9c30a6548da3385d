using System.CommandLine;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>The command-line options for ASGI apps (docs/asgi.md): names and values as uvicorn users know them.</summary>
internal static class AsgiOptions
{
    private static readonly KwsgiOptions s_defaults = KwsgiDefaults.Options;

    private static readonly OptionDefinition<string> s_interface = new("--interface",
        "The app's interface: auto, wsgi or asgi (auto: an async callable, or an object whose __call__ is async, is ASGI 3)",
        () => s_defaults.Interface);
    private static readonly OptionDefinition<string> s_lifespan = new("--lifespan",
        "ASGI lifespan protocol: auto, on or off (auto: an app that raises on the lifespan scope runs without it)",
        () => s_defaults.Lifespan);
    private static readonly OptionDefinition<string> s_loop = new("--loop",
        "An ASGI worker's event loop: auto, asyncio or uvloop (auto: uvloop when the Python has it)",
        () => s_defaults.Loop);
    private static readonly OptionDefinition<int?> s_maxConcurrency = new("--max-concurrency",
        "Requests an ASGI worker runs at once; more wait in the front's queue", shownDefault: "no limit");

    private static readonly OptionDefinition<long> s_wsMaxMessageSize = new("--ws-max-message-size",
        "Largest WebSocket message a client may send, in bytes; past it the socket closes with 1009",
        () => s_defaults.WsMaxMessageSize, shownDefault: "16777216 (16 MiB)");
    private static readonly OptionDefinition<double> s_wsPingInterval = new("--ws-ping-interval",
        "Seconds between the front's pings to a WebSocket client (0: no pings)", () => s_defaults.WsPingInterval.TotalSeconds);
    private static readonly OptionDefinition<double> s_wsPingTimeout = new("--ws-ping-timeout",
        "Seconds a WebSocket client may take to answer a ping before the socket is dropped (0: no limit)", () => s_defaults.WsPingTimeout.TotalSeconds);

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

using System.CommandLine;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// waitress-serve's options that mean nothing on Kestrel: accepted with a warning, so a waitress-serve command line
/// with kwsgi in front runs unchanged. The ones that do map are kwsgi's own options or their aliases
/// (--listen, --unix-socket, --ident, --channel-timeout, …); docs/migrating.md has the whole table.
/// </summary>
internal static class WaitressOptions
{
    private const string Buffers = "Kestrel sizes its own buffers";

    private static readonly ForeignOption[] s_options =
    [
        ForeignOption.IgnoredSwitch("--ipv4", "listen on the addresses you want with --listen"),
        ForeignOption.IgnoredSwitch("--no-ipv4", "listen on the addresses you want with --listen, e.g. --listen [::]:8080"),
        ForeignOption.IgnoredSwitch("--ipv6", "listen on the addresses you want with --listen"),
        ForeignOption.IgnoredSwitch("--no-ipv6", "listen on the addresses you want with --listen, e.g. --listen 0.0.0.0:8080"),
        ForeignOption.Ignored("--recv-bytes", Buffers),
        ForeignOption.Ignored("--send-bytes", Buffers),
        ForeignOption.Ignored("--outbuf-overflow", "a response a client is slow to take is spooled to a file past 256 KiB: docs/limits.md, Slow readers"),
        ForeignOption.Ignored("--outbuf-high-watermark", "a worker never waits for a slow client: docs/limits.md, Slow readers"),
        ForeignOption.Ignored("--inbuf-overflow", "request bodies past 64 KiB are spooled to a file: --buffer-request-body"),
        ForeignOption.Ignored("--cleanup-interval", "Kestrel checks its connections' timeouts every second"),
        ForeignOption.Ignored("--asyncore-loop-timeout", "there is no asyncore loop"),
        ForeignOption.IgnoredSwitch("--asyncore-use-poll", "there is no asyncore loop"),
        ForeignOption.IgnoredSwitch("--log-socket-errors", "a client that leaves is logged at debug level: --log-level debug"),
        ForeignOption.IgnoredSwitch("--no-log-socket-errors", "a client that leaves is logged at debug level only"),
        ForeignOption.Ignored("--channel-request-lookahead", "Kestrel reads pipelined requests itself"),
        ForeignOption.IgnoredSwitch("--log-untrusted-proxy-headers", "forwarded headers from untrusted peers are passed to the app or removed (--clear-untrusted-proxy-headers), not logged"),
    ];

    public static IEnumerable<Option> All => s_options.Select(o => o.Option);

    public static IEnumerable<ForeignOption> Foreign => s_options;

    public static void Check(ParseResult parsed, ICollection<string> warnings) => ForeignOption.Check(parsed, s_options, warnings);
}

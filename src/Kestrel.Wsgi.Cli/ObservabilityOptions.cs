using System.CommandLine;
using Kestrel.Wsgi.Front.AccessLog;
using Kestrel.Wsgi.Hosting;
using Kestrel.Wsgi.Hosting.Metrics;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Cli;

/// <summary>The command-line options for the access log, metrics and the server's own log (docs/observability.md).</summary>
internal static class ObservabilityOptions
{
    private static readonly OptionDefinition<string?> s_accessLog = new("--access-log",
        "Write an access log line per request to this file (appended to), or to stdout for -", shownDefault: "none", aliases: "--access-logfile");
    private static readonly OptionDefinition<string?> s_accessLogFormat = new("--access-log-format",
        "Access log line format: gunicorn's %(h)s-style atoms, or json (one object per line, OpenTelemetry names)", shownDefault: "Apache's combined format",
        aliases: "--access-logformat");
    private static readonly OptionDefinition<string?> s_metricsListen = new("--metrics-listen",
        "Serve Prometheus metrics at /metrics on this separate ADDR:PORT, never the app's port", shownDefault: "none");
    private static readonly OptionDefinition<string> s_logLevel = new("--log-level",
        "Least severe message logged: trace, debug, info, warning, error or critical", () => "info");
    private static readonly OptionDefinition<string> s_logFormat = new("--log-format",
        "The server's log lines as text or json", () => "text");

    public static IEnumerable<Option> All => [s_accessLog, s_accessLogFormat, s_metricsListen, s_logLevel, s_logFormat];

    public static KwsgiOptions Apply(ParseResult parsed, KwsgiOptions options)
    {
        string? accessLog = parsed.GetValue(s_accessLog);
        if (accessLog is { Length: 0 })
        {
            throw new UsageException("--access-log needs a file name, or - for stdout");
        }
        string? format = parsed.GetValue(s_accessLogFormat);
        AccessLogFormat.Parse(format); // a bad format is a usage error now, not at the first request
        if (format is not null && accessLog is null)
        {
            throw new UsageException("--access-log-format means nothing without --access-log");
        }
        string? metrics = parsed.GetValue(s_metricsListen);
        if (metrics is not null)
        {
            MetricsEndpoint.Parse(metrics);
        }
        string level = parsed.GetValue(s_logLevel)!;
        LogLevel logLevel = level.ToLowerInvariant() switch
        {
            "trace" => LogLevel.Trace,
            "debug" => LogLevel.Debug,
            "info" or "information" => LogLevel.Information,
            "warning" or "warn" => LogLevel.Warning,
            "error" => LogLevel.Error,
            "critical" => LogLevel.Critical,
            _ => throw new UsageException($"--log-level {level} must be trace, debug, info, warning, error or critical"),
        };
        string logFormat = parsed.GetValue(s_logFormat)!;
        if (logFormat is not ("text" or "json"))
        {
            throw new UsageException($"--log-format {logFormat} must be text or json");
        }
        return options with
        {
            AccessLog = accessLog,
            AccessLogFormat = format,
            MetricsListen = metrics,
            LogLevel = logLevel,
            LogJson = logFormat == "json",
        };
    }
}

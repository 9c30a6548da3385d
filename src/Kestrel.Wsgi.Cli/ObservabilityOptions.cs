using System.CommandLine;
using Kestrel.Wsgi.Front.AccessLog;
using Kestrel.Wsgi.Hosting;
using Kestrel.Wsgi.Hosting.Metrics;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Cli;

/// <summary>The command-line options for the access log, metrics and the server's own log (docs/observability.md).</summary>
internal static class ObservabilityOptions
{
    private static readonly Option<string?> s_accessLog = new("--access-log", "--access-logfile")
    {
        Description = "Write an access log line per request to this file (appended to), or to stdout for - (default: no access log).",
    };
    private static readonly Option<string?> s_accessLogFormat = new("--access-log-format")
    {
        Description = "Access log line format: gunicorn's %(h)s-style atoms, or json (one object per line, OpenTelemetry names) (default: Apache's combined format).",
    };
    private static readonly Option<string?> s_metricsListen = new("--metrics-listen")
    {
        Description = "Serve Prometheus metrics at /metrics on this separate ADDR:PORT, never the app's port (default: no metrics).",
    };
    private static readonly Option<string> s_logLevel = new("--log-level")
    {
        Description = "Least severe message logged: trace, debug, info, warning, error or critical (default info).",
        DefaultValueFactory = _ => "info",
    };
    private static readonly Option<string> s_logFormat = new("--log-format")
    {
        Description = "The server's log lines as text or json (default text).",
        DefaultValueFactory = _ => "text",
    };

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

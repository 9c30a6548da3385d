using System.CommandLine;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// gunicorn's options that kwsgi has no option of its own for: mapped onto kwsgi's settings (--cert-reqs,
/// --worker-class, --error-logfile), accepted with a warning, or refused in one line (--daemon, --user). The ones
/// that do map are kwsgi's options or their aliases (-b, -t, --access-logformat, …); docs/migrating.md has the table.
/// </summary>
internal static class GunicornOptions
{
    private const string Syslog = "the log goes to stdout, where systemd, Docker or IIS collect it";
    private const string Tls = "TLS 1.2 and 1.3 with the platform's cipher suites";

    private static readonly Option<string?> s_certReqs = new("--cert-reqs") { Hidden = true, Description = "gunicorn's ssl.CERT_* number: 0 none, 1 optional, 2 required (--ssl-client-cert)." };
    private static readonly Option<string?> s_workerClass = new("--worker-class", "-k") { Hidden = true, Description = "gunicorn's worker class: kwsgi's workers run threads; the class is ignored with a warning." };
    private static readonly Option<string?> s_errorLog = new("--error-logfile", "--log-file") { Hidden = true, Description = "gunicorn's error log: - (stdout, where kwsgi's log goes); a file is ignored with a warning." };

    private static readonly ForeignOption[] s_options =
    [
        ForeignOption.Ignored("--worker-connections", "only gunicorn's eventlet and gevent workers use it; --threads and --max-queue bound the requests in flight"),
        ForeignOption.IgnoredSwitch("--preload", "each worker process imports the app itself; --ready-when all waits for every one"),
        ForeignOption.IgnoredSwitch("--spew", "there is no trace mode"),
        ForeignOption.IgnoredSwitch("--no-sendfile", "static files and wsgi.file_wrapper are sent by Kestrel"),
        ForeignOption.IgnoredSwitch("--reuse-port", "one front process owns the port"),
        ForeignOption.Ignored("--worker-tmp-dir", "workers send their heartbeat over their channel, not through a file; spooled bodies go to --tmp-dir"),
        ForeignOption.IgnoredSwitch("--initgroups", "kwsgi does not switch users"),
        ForeignOption.IgnoredSwitch("--disable-redirect-access-to-syslog", Syslog),
        ForeignOption.IgnoredSwitch("--capture-output", "workers' stdout and stderr are always in the log, tagged with the worker's pid"),
        ForeignOption.Ignored("--logger-class", "the log is kwsgi's own: --log-format text or json"),
        ForeignOption.Ignored("--log-config", "the log is kwsgi's own: --log-level and --log-format"),
        ForeignOption.Ignored("--log-config-json", "the log is kwsgi's own: --log-level and --log-format"),
        ForeignOption.Ignored("--log-syslog-to", Syslog),
        ForeignOption.IgnoredSwitch("--log-syslog", Syslog),
        ForeignOption.Ignored("--log-syslog-prefix", Syslog),
        ForeignOption.Ignored("--log-syslog-facility", Syslog),
        ForeignOption.IgnoredSwitch("--enable-stdio-inheritance", "workers' output always reaches the log", "-R"),
        ForeignOption.Ignored("--statsd-host", "metrics are served by --metrics-listen (Prometheus) or pushed over OTLP"),
        ForeignOption.Ignored("--statsd-prefix", "metrics are served by --metrics-listen (Prometheus) or pushed over OTLP"),
        ForeignOption.Ignored("--dogstatsd-tags", "metrics are served by --metrics-listen (Prometheus) or pushed over OTLP"),
        ForeignOption.Ignored("--name", "the processes are named kwsgi", "-n"),
        ForeignOption.Ignored("--proxy-allow-from", "kwsgi does not read the PROXY protocol"),
        ForeignOption.Ignored("--ssl-version", Tls),
        ForeignOption.Ignored("--ciphers", Tls),
        ForeignOption.IgnoredSwitch("--suppress-ragged-eofs", "Kestrel handles TLS shutdown"),
        ForeignOption.IgnoredSwitch("--do-handshake-on-connect", "Kestrel handles the TLS handshake"),
        ForeignOption.IgnoredSwitch("--strip-header-spaces", "a space before a header's colon is refused with 400 (RFC 9112 5.1)"),
        ForeignOption.IgnoredSwitch("--tolerate-dangerous-framing", "requests with ambiguous framing are always refused (docs/limits.md, Hostile input)"),
        ForeignOption.RefusedSwitch("--daemon", "run kwsgi in the foreground under a service manager (systemd, a container, IIS)", "-D"),
        ForeignOption.RefusedValue("--user", "start kwsgi as that user (systemd's User=, docker run --user)", "-u"),
        ForeignOption.RefusedValue("--group", "start kwsgi with that group (systemd's Group=, docker run --user)", "-g"),
        ForeignOption.RefusedValue("--paste", "name the app as module:attr instead of a PasteDeploy file", "--paster"),
        ForeignOption.RefusedValue("--paste-global", "name the app as module:attr instead of a PasteDeploy file"),
        ForeignOption.RefusedSwitch("--proxy-protocol", "kwsgi does not read the PROXY protocol; use X-Forwarded-* with --trusted-proxy"),
    ];

    public static IEnumerable<Option> All => s_options.Select(o => o.Option).Concat([s_certReqs, s_workerClass, s_errorLog]);

    public static IEnumerable<ForeignOption> Foreign => s_options;

    /// <summary><paramref name="options"/> with what the mapped options say; a warning for each that has no effect.</summary>
    public static KwsgiOptions Apply(ParseResult parsed, KwsgiOptions options, ICollection<string> warnings)
    {
        ForeignOption.Check(parsed, s_options, warnings);
        if (parsed.GetValue(s_certReqs) is string reqs)
        {
            if (parsed.GetValue<string?>("--ssl-client-cert") is not null)
            {
                throw new UsageException("--cert-reqs and --ssl-client-cert both say whether to ask for a client certificate: give one");
            }
            // gunicorn takes ssl.VerifyMode's numbers.
            options = options with
            {
                ClientCertificates = reqs switch
                {
                    "0" => ClientCertificateRequirement.None,
                    "1" => ClientCertificateRequirement.Optional,
                    "2" => ClientCertificateRequirement.Required,
                    _ => throw new UsageException($"--cert-reqs {reqs} must be 0 (none), 1 (optional) or 2 (required)"),
                },
            };
        }
        if (parsed.GetValue(s_workerClass) is string workerClass)
        {
            warnings.Add(workerClass.Contains("uvicorn", StringComparison.OrdinalIgnoreCase)
                ? $"--worker-class {workerClass} has no effect here (an ASGI app is detected by its signature and served as one)"
                : $"--worker-class {workerClass} has no effect here (each worker runs --threads requests on its own Python threads)");
        }
        if (parsed.GetValue(s_errorLog) is string errorLog && errorLog != "-")
        {
            warnings.Add($"--error-logfile {errorLog} has no effect here (the log goes to stdout: redirect it, kwsgi … >> {errorLog} 2>&1)");
        }
        return options;
    }
}

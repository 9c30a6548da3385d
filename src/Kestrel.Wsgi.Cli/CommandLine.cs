using System.CommandLine;
using System.Globalization;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front.StaticFiles;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>The kwsgi command line: options → <see cref="KwsgiOptions"/> → <see cref="KwsgiServer"/>; every user error is one line and exit code 2.</summary>
internal static class CommandLine
{
    private const int UsageError = 2;

    private static readonly Argument<string> s_app = new("APP")
    {
        Description = "The WSGI app: module:attr, module:factory(), or the wfastcgi forms module.attr and module.factory().",
    };
    private static readonly Option<string?> s_host = new("--host") { Description = "Address to listen on (default 0.0.0.0; 127.0.0.1 when HTTP_PLATFORM_PORT is set)." };
    private static readonly Option<int?> s_port = new("--port", "-p") { Description = "Port to listen on (default HTTP_PLATFORM_PORT when set, else 8080; under IIS's ASP.NET Core Module always ASPNETCORE_PORT)." };
    private static readonly Option<string[]> s_listen = new("--listen")
    {
        Description = "Listen on [SCHEME://]HOST:PORT: SCHEME http, https or h2c (HTTP/2 without TLS), HOST an IP address, [IPv6], localhost or * (repeatable; replaces --host and --port).",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string?> s_certFile = new("--certfile") { Description = "PEM certificate for HTTPS (intermediates may follow it); listeners that name no scheme become HTTPS." };
    private static readonly Option<string?> s_keyFile = new("--keyfile") { Description = $"PEM private key of --certfile (default: in --certfile); an encrypted key's password comes from {KwsgiOptions.CertificatePasswordVariable}." };
    private static readonly Option<string?> s_certificate = new("--certificate") { Description = $"PKCS#12 (.pfx) certificate and key for HTTPS, instead of --certfile; its password comes from {KwsgiOptions.CertificatePasswordVariable}." };
    private static readonly Option<string?> s_sslClientCert = new("--ssl-client-cert") { Description = "Ask HTTPS clients for a certificate: required, optional or none (default none); the app sees it as SSL_CLIENT_CERT." };
    private static readonly Option<string?> s_caCerts = new("--ca-certs") { Description = "PEM CA certificates that client certificates must chain to (default: the system's trusted roots)." };
    private static readonly Option<string?> s_healthPath = new("--health-path") { Description = "Answer GET PATH in the front, without Python: 200 when every worker is ready, 503 while starting, draining or short of workers." };
    private static readonly Option<int?> s_workers = new("--workers", "-w") { Description = "Worker processes, each with its own Python interpreter (default: processor count)." };
    private static readonly Option<int> s_threads = new("--threads", "-t") { Description = "Requests each worker runs at once (default 4).", DefaultValueFactory = _ => 4 };
    private static readonly Option<int?> s_pipeline = new("--pipeline") { Description = "Requests each worker may hold queued beyond the ones it runs (default 16; 0 queues only in the front)." };
    private static readonly Option<string?> s_readyWhen = new("--ready-when") { Description = "Bind the port once one worker or all workers have loaded the app: one or all (default one; all under IIS)." };
    private static readonly Option<string?> s_python = new("--python") { Description = "Python interpreter or virtualenv folder (default: VIRTUAL_ENV, else python3 on PATH)." };
    private static readonly Option<bool> s_call = new("--call") { Description = "Call APP's attribute to get the app (an application factory)." };
    private static readonly Option<string?> s_chdir = new("--chdir") { Description = "Change to this folder before loading the app; it goes first on sys.path." };
    private static readonly Option<string?> s_urlPrefix = new("--url-prefix") { Description = "Serve the app below this path: it becomes SCRIPT_NAME." };
    private static readonly Option<double> s_gracefulTimeout = new("--graceful-timeout") { Description = "Seconds in-flight requests may take to finish after a stop signal (default 30).", DefaultValueFactory = _ => 30 };
    private static readonly Option<string[]> s_static = new("--static")
    {
        Description = "Serve URL path from FOLDER without Python, as URL=FOLDER (repeatable; FOLDER is relative to --chdir), e.g. /static=./static.",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<long> s_staticMaxAge = new("--static-max-age") { Description = "Cache-Control max-age in seconds for static files without a content hash in their name (default 3600; 0: no-cache).", DefaultValueFactory = _ => 3600 };
    private static readonly Option<int> s_maxQueue = new("--max-queue") { Description = "Requests that may wait for a free worker before new ones get 503 (default 1024).", DefaultValueFactory = _ => 1024 };
    private static readonly Option<double> s_timeout = new("--timeout") { Description = "Seconds a request may run; past that it gets 504 and its worker is replaced (its other requests get 502) (default 0: no limit)." };
    private static readonly Option<long> s_maxRequests = new("--max-requests") { Description = "Replace a worker gracefully after it was given this many requests (default 0: never)." };
    private static readonly Option<long> s_maxRequestsJitter = new("--max-requests-jitter") { Description = "Add up to this many requests to --max-requests, drawn per worker, so workers do not recycle together (default 0)." };
    private static readonly Option<long> s_maxWorkerMemory = new("--max-worker-memory") { Description = "Replace a worker gracefully when its resident memory exceeds this many MiB (default 0: no limit)." };
    private static readonly Option<string?> s_reloadFile = new("--reload-file") { Description = "Reload every worker when this file is touched or created, like SIGHUP (relative to --chdir)." };
    private static readonly Option<double> s_heartbeatTimeout = new("--heartbeat-timeout") { Description = "Seconds a worker may go without a heartbeat or hold its GIL without a release before it is replaced (default 30; 0: never).", DefaultValueFactory = _ => 30 };
    private static readonly Option<string[]> s_trustedProxy = new("--trusted-proxy")
    {
        Description = "Honour forwarded headers from this peer: an IP address, a network (10.0.0.0/8) or * (repeatable; default under IIS: 127.0.0.1 and ::1).",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string?> s_trustedProxyHeaders = new("--trusted-proxy-headers") { Description = "Forwarded headers to honour from trusted proxies, separated by spaces or commas (default: x-forwarded-for x-forwarded-proto; also x-forwarded-host)." };
    private static readonly Option<int?> s_trustedProxyCount = new("--trusted-proxy-count") { Description = "Proxies in front of kwsgi: the forwarded value this many places from the right is the client's (default 1)." };

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("kwsgi: a WSGI server on Kestrel with a pool of embedded-CPython worker processes. For IIS web.config files: kwsgi iis --help.")
        {
            s_app, s_host, s_port, s_listen, s_certFile, s_keyFile, s_certificate, s_sslClientCert, s_caCerts, s_healthPath, s_workers, s_threads, s_pipeline, s_readyWhen, s_python, s_call, s_chdir, s_urlPrefix, s_gracefulTimeout, s_maxQueue, s_static, s_staticMaxAge,
            s_timeout, s_maxRequests, s_maxRequestsJitter, s_maxWorkerMemory, s_reloadFile, s_heartbeatTimeout,
            s_trustedProxy, s_trustedProxyHeaders, s_trustedProxyCount,
        };
        foreach (Option option in LimitOptions.All.Concat(ObservabilityOptions.All).Concat(AsgiOptions.All))
        {
            root.Options.Add(option);
        }
        ParseResult given = root.Parse(args);
        bool hasApp = given.GetResult(s_app) is { Tokens.Count: > 0 };
        // --listen replaces --host/--port; those from the environment (a container image sets KWSGI_PORT) give way to it.
        bool hostOrPortGiven = given.GetResult(s_host) is { Implicit: false } || given.GetResult(s_port) is { Implicit: false };
        args = EnvironmentOptions.AddTo(args, root.Options, hasApp, Environment.GetEnvironmentVariable);
        ParseResult parsed = root.Parse(args);
        bool wantsInfo = args.Any(a => a is "-h" or "--help" or "-?" or "/?" or "--version");
        if (wantsInfo)
        {
            return await parsed.InvokeAsync().ConfigureAwait(false);
        }
        if (UnknownOption(root, args) is string unknown)
        {
            return Fail($"unknown option {unknown} (see kwsgi --help)");
        }
        if (parsed.Errors.Count > 0)
        {
            string message = System.Text.RegularExpressions.Regex.Replace(parsed.Errors[0].Message, @"expected type '[^']*'",
                m => m.Value.Contains("Boolean", StringComparison.Ordinal) ? "true or false" : "a number");
            return Fail($"{message.TrimEnd('.')} (see kwsgi --help)");
        }

        try
        {
            KwsgiOptions options = ToOptions(parsed, hostOrPortGiven);
            return await KwsgiServer.RunAsync(options).ConfigureAwait(false);
        }
        catch (UsageException ex)
        {
            return Fail(ex.Message);
        }
        catch (WorkerStartupException ex)
        {
            if (ex.Details.Length > 0)
            {
                Errors.Write(ex.Details.EndsWith('\n') ? ex.Details : ex.Details + "\n");
            }
            return Fail(ex.Message);
        }
    }

    /// <summary>
    /// The first option-looking token that no option answers to. The parser would take it for APP and then
    /// complain about the real APP, which misleads.
    /// </summary>
    private static string? UnknownOption(RootCommand root, string[] args)
    {
        var known = root.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (string arg in args)
        {
            if (arg == "--")
            {
                break;
            }
            if (arg.Length > 1 && arg[0] == '-' && !char.IsAsciiDigit(arg[1]))
            {
                string name = arg.Split('=', 2)[0];
                if (!known.Contains(name))
                {
                    return name;
                }
            }
        }
        return null;
    }

    private static int Fail(string message)
    {
        Errors.WriteLine($"kwsgi: {message}");
        return UsageError;
    }

    /// <summary>
    /// Under IIS the failure goes to stdout: that is the stream stdoutLogFile is named for, and a start-up failure
    /// there is the one line an administrator reads after a 502. Elsewhere stderr, as for any command.
    /// </summary>
    private static TextWriter Errors => HostedByIis ? Console.Out : Console.Error;

    private static bool HostedByIis =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HTTP_PLATFORM_PORT")) ||
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(AncmSettings.PortVariable));

    private static KwsgiOptions ToOptions(ParseResult parsed, bool hostOrPortGiven)
    {
        string? platformPort = Environment.GetEnvironmentVariable("HTTP_PLATFORM_PORT");
        AncmSettings? ancm = AncmSettings.FromEnvironment();
        int port;
        if (ancm is not null)
        {
            // ANCM passes its port only in the environment and connects nowhere else (docs/iis.md).
            port = ancm.Port;
            if (parsed.GetValue(s_port) is int ignored && ignored != port)
            {
                Console.Out.WriteLine($"kwsgi: --port {ignored} is ignored: the ASP.NET Core Module set {AncmSettings.PortVariable}={port}");
            }
        }
        else if (parsed.GetValue(s_port) is int given)
        {
            port = given;
        }
        else if (!string.IsNullOrEmpty(platformPort))
        {
            port = int.TryParse(platformPort, NumberStyles.None, CultureInfo.InvariantCulture, out int fromIis) ? fromIis
                : throw new UsageException($"HTTP_PLATFORM_PORT is '{platformPort}', which is not a port number");
        }
        else
        {
            port = 8080;
        }
        if (port is < 1 or > 65535)
        {
            throw new UsageException($"--port {port} is not a port number (1 to 65535)");
        }
        // Behind IIS's HttpPlatformHandler only the local proxy may reach us.
        string host = parsed.GetValue(s_host) ?? (string.IsNullOrEmpty(platformPort) && ancm is null ? "0.0.0.0" : "127.0.0.1");
        string[] listenGiven = parsed.GetValue(s_listen) ?? [];
        if (listenGiven.Length > 0 && hostOrPortGiven)
        {
            throw new UsageException("--listen and --host/--port both say where to listen: give every address with --listen");
        }
        List<ListenAddress> listen = ancm is null ? listenGiven.Select(entry => ListenAddress.Parse(entry)).ToList() : [];
        if (ancm is not null && listenGiven.Length > 0)
        {
            Console.Out.WriteLine($"kwsgi: --listen is ignored: the ASP.NET Core Module set {AncmSettings.PortVariable}={port}");
        }
        string? healthPath = parsed.GetValue(s_healthPath);
        if (healthPath is not null && (!healthPath.StartsWith('/') || healthPath.Any(c => c is '?' or '#' || char.IsWhiteSpace(c))))
        {
            throw new UsageException($"--health-path {healthPath} must be a path starting with / (no query)");
        }
        ClientCertificateRequirement clientCertificates = parsed.GetValue(s_sslClientCert)?.ToLowerInvariant() switch
        {
            null or "none" => ClientCertificateRequirement.None,
            "optional" => ClientCertificateRequirement.Optional,
            "required" => ClientCertificateRequirement.Required,
            string other => throw new UsageException($"--ssl-client-cert {other} must be required, optional or none"),
        };
        ProxyTrust proxyTrust = ToProxyTrust(parsed, hostedBy: ancm is not null ? "the ASP.NET Core Module" : string.IsNullOrEmpty(platformPort) ? null : "HttpPlatformHandler");

        int workers = parsed.GetValue(s_workers) ?? Environment.ProcessorCount;
        int threads = parsed.GetValue(s_threads);
        double graceful = parsed.GetValue(s_gracefulTimeout);
        int maxQueue = parsed.GetValue(s_maxQueue);
        if (workers is < 1 or > 1024)
        {
            throw new UsageException($"--workers {workers} must be between 1 and 1024");
        }
        if (threads is < 1 or > 1024)
        {
            throw new UsageException($"--threads {threads} must be between 1 and 1024");
        }
        int? pipeline = parsed.GetValue(s_pipeline);
        if (pipeline is < 0 or > 1024)
        {
            throw new UsageException($"--pipeline {pipeline} must be between 0 and 1024");
        }
        string? readyWhenGiven = parsed.GetValue(s_readyWhen);
        ReadyWhen readyWhen = readyWhenGiven switch
        {
            null => ancm is not null || !string.IsNullOrEmpty(platformPort) ? ReadyWhen.All : ReadyWhen.One,
            "one" => ReadyWhen.One,
            "all" => ReadyWhen.All,
            _ => throw new UsageException($"--ready-when {readyWhenGiven} must be one or all"),
        };
        if (graceful < 0 || double.IsNaN(graceful))
        {
            throw new UsageException($"--graceful-timeout {graceful} must not be negative");
        }
        if (maxQueue < 0)
        {
            throw new UsageException($"--max-queue {maxQueue} must not be negative");
        }
        string urlPrefix = parsed.GetValue(s_urlPrefix) ?? "";
        if (urlPrefix.Length > 0 && !urlPrefix.StartsWith('/'))
        {
            throw new UsageException($"--url-prefix {urlPrefix} must start with /");
        }

        var staticMounts = new List<StaticMount>();
        foreach (string mount in parsed.GetValue(s_static) ?? [])
        {
            staticMounts.Add(StaticMount.Parse(mount));
        }
        long staticMaxAge = parsed.GetValue(s_staticMaxAge);
        if (staticMaxAge is < 0 or > 31536000)
        {
            throw new UsageException($"--static-max-age {staticMaxAge} must be between 0 and 31536000 seconds");
        }

        double timeout = parsed.GetValue(s_timeout);
        if (timeout < 0 || double.IsNaN(timeout) || double.IsInfinity(timeout))
        {
            throw new UsageException($"--timeout {timeout} must be a number of seconds, 0 for no limit");
        }
        long maxRequests = parsed.GetValue(s_maxRequests);
        if (maxRequests < 0)
        {
            throw new UsageException($"--max-requests {maxRequests} must not be negative");
        }
        long jitter = parsed.GetValue(s_maxRequestsJitter);
        if (jitter < 0)
        {
            throw new UsageException($"--max-requests-jitter {jitter} must not be negative");
        }
        if (jitter > 0 && maxRequests == 0)
        {
            throw new UsageException("--max-requests-jitter needs --max-requests");
        }
        long maxMemory = parsed.GetValue(s_maxWorkerMemory);
        if (maxMemory is < 0 or > 1L << 30)
        {
            throw new UsageException($"--max-worker-memory {maxMemory} must be a number of MiB, 0 for no limit");
        }
        string? reloadFile = parsed.GetValue(s_reloadFile);
        if (reloadFile is not null && (reloadFile.Length == 0 || Directory.Exists(reloadFile)))
        {
            throw new UsageException($"--reload-file '{reloadFile}' must name a file");
        }
        double heartbeat = parsed.GetValue(s_heartbeatTimeout);
        // The worker beats once a second: a shorter limit would kill healthy workers.
        if (double.IsNaN(heartbeat) || double.IsInfinity(heartbeat) || heartbeat < 0 || (heartbeat > 0 && heartbeat < 2))
        {
            throw new UsageException($"--heartbeat-timeout {heartbeat} must be 0 (off) or at least 2 seconds");
        }

        return AsgiOptions.Apply(parsed, ObservabilityOptions.Apply(parsed, LimitOptions.Apply(parsed, new KwsgiOptions
        {
            App = parsed.GetValue(s_app)!,
            CallFactory = parsed.GetValue(s_call),
            Host = host,
            Port = port,
            Listen = listen,
            CertFile = parsed.GetValue(s_certFile),
            KeyFile = parsed.GetValue(s_keyFile),
            Certificate = parsed.GetValue(s_certificate),
            CertificatePassword = Environment.GetEnvironmentVariable(KwsgiOptions.CertificatePasswordVariable),
            ClientCertificates = clientCertificates,
            CaCerts = parsed.GetValue(s_caCerts),
            HealthPath = healthPath,
            Workers = workers,
            Threads = threads,
            Pipeline = pipeline,
            ReadyWhen = readyWhen,
            Python = parsed.GetValue(s_python),
            Chdir = parsed.GetValue(s_chdir),
            UrlPrefix = urlPrefix,
            GracefulTimeout = TimeSpan.FromSeconds(graceful),
            MaxQueue = maxQueue,
            StaticMounts = staticMounts,
            StaticMaxAge = TimeSpan.FromSeconds(staticMaxAge),
            Timeout = TimeSpan.FromSeconds(timeout),
            MaxRequests = maxRequests,
            MaxRequestsJitter = jitter,
            MaxWorkerMemoryMib = maxMemory,
            ReloadFile = reloadFile,
            HeartbeatTimeout = TimeSpan.FromSeconds(heartbeat),
            ProxyTrust = proxyTrust,
            Ancm = ancm,
        })));
    }

    /// <summary>
    /// --trusted-proxy and friends. Under IIS (<paramref name="hostedBy"/>) the handler on this machine is the proxy,
    /// so without --trusted-proxy 127.0.0.1 and ::1 are trusted and the startup log says so.
    /// </summary>
    private static ProxyTrust ToProxyTrust(ParseResult parsed, string? hostedBy)
    {
        int? countGiven = parsed.GetValue(s_trustedProxyCount);
        int count = countGiven ?? 1;
        if (count is < 1 or > 64)
        {
            throw new UsageException($"--trusted-proxy-count {count} must be between 1 and 64");
        }
        string? names = parsed.GetValue(s_trustedProxyHeaders);
        var headers = names is null ? ProxyTrust.DefaultHeaders : ProxyTrust.ParseHeaders(names);
        string[] given = parsed.GetValue(s_trustedProxy) ?? [];
        if (given.Length == 0 && hostedBy is null && (countGiven is not null || names is not null))
        {
            // As waitress: these only say how to read a trusted proxy's headers.
            throw new UsageException($"{(countGiven is not null ? "--trusted-proxy-count" : "--trusted-proxy-headers")} means nothing without --trusted-proxy");
        }
        if (given.Length > 0)
        {
            return new ProxyTrust { Proxies = given.SelectMany(ProxyTrust.ParseProxy).ToList(), Headers = headers, Count = count, Reason = "--trusted-proxy" };
        }
        if (hostedBy is not null)
        {
            return new ProxyTrust { Proxies = ProxyTrust.Loopback, Headers = headers, Count = count, Reason = $"{hostedBy} runs on this machine; --trusted-proxy replaces this default" };
        }
        return ProxyTrust.None;
    }
}

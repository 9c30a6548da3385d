using System.CommandLine;
using System.Globalization;
using Kestrel.Wsgi.Front.StaticFiles;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// The app, where to listen, TLS, the worker pool and its supervision, static files and proxies: the options every
/// deployment names. Each is defined once here (name, aliases, help, default); <see cref="Apply"/> checks them,
/// one sentence per mistake.
/// </summary>
internal static class ServerOptions
{
    private static readonly KwsgiOptions s_defaults = KwsgiDefaults.Options;

    public static readonly Argument<string> App = new("APP")
    {
        Description = "The WSGI app: module:attr, module:factory(), or the wfastcgi forms module.attr and module.factory().",
        Arity = ArgumentArity.ZeroOrOne,
    };
    private static readonly OptionDefinition<string?> s_host = new("--host",
        "Address to listen on", shownDefault: "0.0.0.0; 127.0.0.1 when HTTP_PLATFORM_PORT is set");
    private static readonly OptionDefinition<int> s_port = new("--port",
        "Port to listen on; HTTP_PLATFORM_PORT when set, and under IIS's ASP.NET Core Module always ASPNETCORE_PORT", () => 8080, aliases: "-p");
    private static readonly OptionDefinition<string[]> s_listen = new("--listen",
        "Listen on [SCHEME://]HOST:PORT: SCHEME http, https or h2c (HTTP/2 without TLS), HOST an IP address, [IPv6], localhost or *; " +
        "or on unix:PATH (repeatable; replaces --host and --port)", aliases: ["-b", "--bind"])
    {
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly OptionDefinition<string[]> s_unixSocket = new("--unix-socket",
        "Listen on this Unix domain socket instead of --host and --port (repeatable; a stale socket file is replaced)")
    {
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly OptionDefinition<string?> s_unixSocketPerms = new("--unix-socket-perms",
        "Octal permissions of the Unix sockets, set right after they are bound", shownDefault: Convert.ToString(s_defaults.UnixSocketMode, 8));
    private static readonly OptionDefinition<string?> s_certFile = new("--certfile",
        "PEM certificate for HTTPS (intermediates may follow it); listeners that name no scheme become HTTPS");
    private static readonly OptionDefinition<string?> s_keyFile = new("--keyfile",
        $"PEM private key of --certfile (default: in --certfile); an encrypted key's password comes from {KwsgiOptions.CertificatePasswordVariable}");
    private static readonly OptionDefinition<string?> s_certificate = new("--certificate",
        $"PKCS#12 (.pfx) certificate and key for HTTPS, instead of --certfile; its password comes from {KwsgiOptions.CertificatePasswordVariable}");
    private static readonly OptionDefinition<string?> s_sslClientCert = new("--ssl-client-cert",
        "Ask HTTPS clients for a certificate: required, optional or none; the app sees it as SSL_CLIENT_CERT", shownDefault: "none");
    private static readonly OptionDefinition<string?> s_caCerts = new("--ca-certs",
        "PEM CA certificates that client certificates must chain to", shownDefault: "the system's trusted roots");
    private static readonly OptionDefinition<string?> s_healthPath = new("--health-path",
        "Answer GET PATH in the front, without Python: 200 when every worker is ready, 503 while starting, draining or short of workers");
    private static readonly OptionDefinition<int> s_workers = new("--workers",
        "Worker processes, each with its own Python interpreter", () => Environment.ProcessorCount, shownDefault: "processor count", aliases: "-w");
    private static readonly OptionDefinition<int> s_threads = new("--threads",
        "Requests each worker runs at once", () => s_defaults.Threads);
    private static readonly OptionDefinition<int> s_pipeline = new("--pipeline",
        "Requests each worker may hold queued beyond the ones it runs (0 queues only in the front)", () => KwsgiOptions.DefaultPipeline);
    private static readonly OptionDefinition<string?> s_readyWhen = new("--ready-when",
        "Bind the port once one worker or all workers have loaded the app: one or all", shownDefault: "one; all under IIS");
    private static readonly OptionDefinition<string?> s_python = new("--python",
        "Python interpreter or virtualenv folder", shownDefault: "VIRTUAL_ENV, else python3 on PATH");
    private static readonly OptionDefinition<bool> s_call = new("--call",
        "Call APP's attribute to get the app (an application factory)");
    private static readonly OptionDefinition<string?> s_chdir = new("--chdir",
        "Change to this folder before loading the app; it goes first on sys.path");
    private static readonly OptionDefinition<string?> s_urlPrefix = new("--url-prefix",
        "Serve the app below this path: it becomes SCRIPT_NAME");
    private static readonly OptionDefinition<string?> s_urlScheme = new("--url-scheme",
        "wsgi.url_scheme of every request, http or https, as waitress's --url-scheme (a trusted proxy's X-Forwarded-Proto still wins)",
        shownDefault: "the listener's scheme");
    private static readonly OptionDefinition<string> s_serverHeader = new("--server-header",
        "Server header sent with every response the app does not give one (empty: none), as waitress's --ident", () => s_defaults.ServerHeader ?? "",
        shownDefault: "none", aliases: "--ident");
    private static readonly OptionDefinition<long> s_connectionLimit = new("--connection-limit",
        "Most connections open at once; past it, new connections are closed at once (0: no limit)", () => s_defaults.ConnectionLimit ?? 0);
    private static readonly OptionDefinition<double> s_gracefulTimeout = new("--graceful-timeout",
        "Seconds in-flight requests may take to finish after a stop signal", () => s_defaults.GracefulTimeout.TotalSeconds);
    private static readonly OptionDefinition<string[]> s_static = new("--static",
        "Serve URL path from FOLDER without Python, as URL=FOLDER (repeatable; FOLDER is relative to --chdir), e.g. /static=./static")
    {
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly OptionDefinition<long> s_staticMaxAge = new("--static-max-age",
        "Cache-Control max-age in seconds for static files without a content hash in their name (0: no-cache)", () => (long)s_defaults.StaticMaxAge.TotalSeconds);
    private static readonly OptionDefinition<int> s_maxQueue = new("--max-queue",
        "Requests that may wait for a free worker before new ones get 503", () => s_defaults.MaxQueue);
    private static readonly OptionDefinition<double> s_timeout = new("--timeout",
        "Seconds a request may run; past that it gets 504 and its worker is replaced (its other requests get 502)", () => s_defaults.Timeout.TotalSeconds,
        shownDefault: "0: no limit", aliases: "-t");
    private static readonly OptionDefinition<long> s_maxRequests = new("--max-requests",
        "Replace a worker gracefully after it was given this many requests", () => s_defaults.MaxRequests, shownDefault: "0: never");
    private static readonly OptionDefinition<long> s_maxRequestsJitter = new("--max-requests-jitter",
        "Add up to this many requests to --max-requests, drawn per worker, so workers do not recycle together", () => s_defaults.MaxRequestsJitter);
    private static readonly OptionDefinition<long> s_maxWorkerMemory = new("--max-worker-memory",
        "Replace a worker gracefully when its resident memory exceeds this many MiB", () => s_defaults.MaxWorkerMemoryMib, shownDefault: "0: no limit");
    private static readonly OptionDefinition<string?> s_reloadFile = new("--reload-file",
        "Reload every worker when this file is touched or created, like SIGHUP (relative to --chdir)");
    private static readonly OptionDefinition<double> s_heartbeatTimeout = new("--heartbeat-timeout",
        "Seconds a worker may go without a heartbeat or hold its GIL without a release before it is replaced (0: never)", () => s_defaults.HeartbeatTimeout.TotalSeconds);
    private static readonly OptionDefinition<string[]> s_trustedProxy = new("--trusted-proxy",
        "Honour forwarded headers from this peer: an IP address, a network (10.0.0.0/8) or *; several separated by commas (repeatable)",
        shownDefault: "nobody; 127.0.0.1 and ::1 under IIS", aliases: "--forwarded-allow-ips")
    {
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly OptionDefinition<string?> s_trustedProxyHeaders = new("--trusted-proxy-headers",
        "Forwarded headers to honour from trusted proxies, separated by spaces or commas: x-forwarded-for, x-forwarded-proto, x-forwarded-host",
        shownDefault: "x-forwarded-for x-forwarded-proto");
    private static readonly OptionDefinition<int> s_trustedProxyCount = new("--trusted-proxy-count",
        "Proxies in front of kwsgi: the forwarded value this many places from the right is the client's", () => s_defaults.ProxyTrust.Count);
    private static readonly OptionDefinition<bool> s_clearUntrustedProxyHeaders = new("--clear-untrusted-proxy-headers",
        "Remove forwarded headers (X-Forwarded-*, Forwarded) that an untrusted peer sent before the app sees them, as waitress does", () => false);

    public static IEnumerable<Option> All =>
    [
        s_host, s_port, s_listen, s_unixSocket, s_unixSocketPerms, s_certFile, s_keyFile, s_certificate, s_sslClientCert, s_caCerts, s_healthPath,
        s_workers, s_threads, s_pipeline, s_readyWhen, s_python, s_call, s_chdir, s_urlPrefix, s_urlScheme, s_serverHeader, s_connectionLimit,
        s_trustedProxy, s_trustedProxyHeaders, s_trustedProxyCount, s_clearUntrustedProxyHeaders,
        s_gracefulTimeout, s_maxQueue, s_static, s_staticMaxAge,
        s_timeout, s_maxRequests, s_maxRequestsJitter, s_maxWorkerMemory, s_reloadFile, s_heartbeatTimeout,
    ];

    /// <summary>The options that say where to listen with an address and a port, which --listen replaces.</summary>
    public static IEnumerable<Option> HostAndPort => [s_host, s_port];

    /// <summary>The options that give every listener at once, replacing --host and --port.</summary>
    public static IEnumerable<Option> Listeners => [s_listen, s_unixSocket];

    /// <summary>The server these options describe; <paramref name="sources"/> says which were set, and where.</summary>
    public static KwsgiOptions Apply(ParseResult parsed, SettingSources sources)
    {
        string? platformPort = Environment.GetEnvironmentVariable("HTTP_PLATFORM_PORT");
        AncmSettings? ancm = AncmSettings.FromEnvironment();
        bool portGiven = parsed.GetResult(s_port) is { Implicit: false };
        int port;
        if (ancm is not null)
        {
            // ANCM passes its port only in the environment and connects nowhere else (docs/iis.md).
            port = ancm.Port;
            if (portGiven && parsed.GetValue(s_port) is int ignored && ignored != port)
            {
                Console.Out.WriteLine($"kwsgi: --port {ignored} is ignored: the ASP.NET Core Module set {AncmSettings.PortVariable}={port}");
            }
        }
        else if (portGiven)
        {
            port = parsed.GetValue(s_port);
        }
        else if (!string.IsNullOrEmpty(platformPort))
        {
            port = int.TryParse(platformPort, NumberStyles.None, CultureInfo.InvariantCulture, out int fromIis) ? fromIis
                : throw new UsageException($"HTTP_PLATFORM_PORT is '{platformPort}', which is not a port number");
        }
        else
        {
            port = parsed.GetValue(s_port);
        }
        if (port is < 1 or > 65535)
        {
            throw new UsageException($"--port {port} is not a port number (1 to 65535)");
        }
        // Behind IIS's HttpPlatformHandler only the local proxy may reach us.
        string host = parsed.GetValue(s_host) ?? (string.IsNullOrEmpty(platformPort) && ancm is null ? "0.0.0.0" : "127.0.0.1");
        List<ListenAddress> listen = ListenersOf(parsed, sources);
        if (ancm is not null && listen.Count > 0)
        {
            Console.Out.WriteLine($"kwsgi: --listen is ignored: the ASP.NET Core Module set {AncmSettings.PortVariable}={port}");
            listen = [];
        }
        int? unixSocketMode = UnixSocketMode(parsed.GetValue(s_unixSocketPerms));
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

        int workers = parsed.GetValue(s_workers);
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
        int pipeline = parsed.GetValue(s_pipeline);
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
        string? urlScheme = parsed.GetValue(s_urlScheme)?.ToLowerInvariant();
        if (urlScheme is not (null or "http" or "https"))
        {
            // PEP 3333: wsgi.url_scheme is "http" or "https".
            throw new UsageException($"--url-scheme {parsed.GetValue(s_urlScheme)} must be http or https");
        }
        string serverHeader = parsed.GetValue(s_serverHeader) ?? "";
        if (serverHeader.Any(c => c < ' ' || c == '\x7f'))
        {
            throw new UsageException("--server-header must not hold control characters");
        }
        long connectionLimit = parsed.GetValue(s_connectionLimit);
        if (connectionLimit < 0)
        {
            throw new UsageException($"--connection-limit {connectionLimit} must not be negative (0: no limit)");
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

        return new KwsgiOptions
        {
            App = parsed.GetValue(App) ?? "",
            CallFactory = parsed.GetValue(s_call),
            Host = host,
            Port = port,
            Listen = listen,
            UnixSocketMode = unixSocketMode ?? s_defaults.UnixSocketMode,
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
            UrlScheme = urlScheme,
            ServerHeader = serverHeader.Length == 0 ? null : serverHeader,
            ConnectionLimit = connectionLimit == 0 ? null : connectionLimit,
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
        };
    }

    /// <summary>
    /// --listen (gunicorn's --bind) and --unix-socket. They replace --host and --port; given in the same place as
    /// those (both on the command line, both in the file), that is a contradiction; else the more specific source wins,
    /// and between two variables the listeners.
    /// </summary>
    private static List<ListenAddress> ListenersOf(ParseResult parsed, SettingSources sources)
    {
        var listen = new List<ListenAddress>();
        foreach (string entry in parsed.GetValue(s_listen) ?? [])
        {
            listen.AddRange(ListenAddress.ParseList(entry));
        }
        foreach (string path in parsed.GetValue(s_unixSocket) ?? [])
        {
            listen.Add(ListenAddress.Parse(ListenAddress.UnixPrefix + path, "--unix-socket"));
        }
        if (listen.Count == 0)
        {
            return listen;
        }
        SettingSource listenSource = Listeners.Max(sources.Of);
        SettingSource hostSource = HostAndPort.Max(sources.Of);
        // A container image sets KWSGI_PORT; a KWSGI_LISTEN added with docker run -e replaces it rather than contradicting it.
        if (hostSource is SettingSource.CommandLine or SettingSource.File && hostSource == listenSource)
        {
            throw new UsageException("--listen and --host/--port both say where to listen: give every address with --listen");
        }
        // --host or --port from a more specific source than --listen: they win, and the listeners give way.
        return hostSource > listenSource ? [] : listen;
    }

    /// <summary>waitress's --unix-socket-perms: octal digits, <c>600</c> or <c>0o600</c>.</summary>
    private static int? UnixSocketMode(string? perms)
    {
        if (perms is null)
        {
            return null;
        }
        string digits = perms.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? perms[2..] : perms;
        int mode = 0;
        if (digits.Length is 0 or > 4 || digits.Any(c => c is < '0' or > '7'))
        {
            throw new UsageException($"--unix-socket-perms {perms} must be octal permissions, e.g. 600 or 660");
        }
        foreach (char c in digits)
        {
            mode = mode * 8 + (c - '0');
        }
        return mode;
    }

    /// <summary>
    /// --trusted-proxy and friends. Under IIS (<paramref name="hostedBy"/>) the handler on this machine is the proxy,
    /// so without --trusted-proxy 127.0.0.1 and ::1 are trusted and the startup log says so.
    /// </summary>
    private static ProxyTrust ToProxyTrust(ParseResult parsed, string? hostedBy)
    {
        bool countGiven = parsed.GetResult(s_trustedProxyCount) is { Implicit: false };
        int count = parsed.GetValue(s_trustedProxyCount);
        if (count is < 1 or > 64)
        {
            throw new UsageException($"--trusted-proxy-count {count} must be between 1 and 64");
        }
        string? names = parsed.GetValue(s_trustedProxyHeaders);
        var headers = names is null ? ProxyTrust.DefaultHeaders : ProxyTrust.ParseHeaders(names);
        // gunicorn's --forwarded-allow-ips is one comma-separated list.
        string[] given = (parsed.GetValue(s_trustedProxy) ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
        bool clear = parsed.GetValue(s_clearUntrustedProxyHeaders);
        if (given.Length == 0 && hostedBy is null && (countGiven || names is not null))
        {
            // As waitress: these only say how to read a trusted proxy's headers.
            throw new UsageException($"{(countGiven ? "--trusted-proxy-count" : "--trusted-proxy-headers")} means nothing without --trusted-proxy");
        }
        if (given.Length > 0)
        {
            return new ProxyTrust { Proxies = given.SelectMany(ProxyTrust.ParseProxy).ToList(), Headers = headers, Count = count, Reason = "--trusted-proxy", ClearUntrusted = clear };
        }
        if (hostedBy is not null)
        {
            return new ProxyTrust { Proxies = ProxyTrust.Loopback, Headers = headers, Count = count, Reason = $"{hostedBy} runs on this machine; --trusted-proxy replaces this default", ClearUntrusted = clear };
        }
        return ProxyTrust.None with { ClearUntrusted = clear };
    }
}

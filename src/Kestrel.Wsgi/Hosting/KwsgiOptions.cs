using Kestrel.Wsgi.Front.StaticFiles;

namespace Kestrel.Wsgi.Hosting;

/// <summary>Everything the command line decides about a server.</summary>
public sealed record KwsgiOptions
{
    /// <summary>The WSGI app: <c>module:attr</c>, <c>module:factory()</c>, <c>module.attr</c> or <c>module.factory()</c>.</summary>
    public required string App { get; init; }

    /// <summary>Call the named attribute to get the app (a factory).</summary>
    public bool CallFactory { get; init; }

    /// <summary>Address to listen on.</summary>
    public string Host { get; init; } = "0.0.0.0";

    /// <summary>Port to listen on.</summary>
    public int Port { get; init; } = 8080;

    /// <summary>
    /// Where to listen (<c>--listen</c>), each an address, a port and a scheme; empty means <see cref="Host"/> and
    /// <see cref="Port"/>, HTTPS when a certificate is given.
    /// </summary>
    public IReadOnlyList<ListenAddress> Listen { get; init; } = [];

    /// <summary>Permissions the Unix domain sockets among <see cref="Listen"/> get right after they are bound (waitress's default, owner only).</summary>
    public int UnixSocketMode { get; init; } = Convert.ToInt32("600", 8);

    /// <summary>PEM certificate (and its chain, and the key unless <see cref="KeyFile"/> names it) for HTTPS listeners, as gunicorn's <c>--certfile</c>.</summary>
    public string? CertFile { get; init; }

    /// <summary>PEM private key of <see cref="CertFile"/>, as gunicorn's <c>--keyfile</c>.</summary>
    public string? KeyFile { get; init; }

    /// <summary>PKCS#12 (.pfx) file holding the certificate and its key, instead of <see cref="CertFile"/>.</summary>
    public string? Certificate { get; init; }

    /// <summary>Password of <see cref="Certificate"/> or of an encrypted <see cref="KeyFile"/>; on the command line from <see cref="CertificatePasswordVariable"/> only.</summary>
    public string? CertificatePassword { get; init; }

    /// <summary>Not an option, so the password never shows in a process list.</summary>
    public const string CertificatePasswordVariable = "KWSGI_CERTIFICATE_PASSWORD";

    /// <summary>Whether HTTPS listeners ask for a client certificate; the app sees it as SSL_CLIENT_CERT.</summary>
    public ClientCertificateRequirement ClientCertificates { get; init; }

    /// <summary>PEM CA certificates that client certificates must chain to; null: the system's trusted roots.</summary>
    public string? CaCerts { get; init; }

    /// <summary>A path the front answers itself with the pool's readiness (200 or 503), never reaching the app; null: none.</summary>
    public string? HealthPath { get; init; }

    /// <summary>Worker processes (one GIL each).</summary>
    public int Workers { get; init; } = Environment.ProcessorCount;

    /// <summary>Requests each worker runs at once, on as many Python threads.</summary>
    public int Threads { get; init; } = 4;

    /// <summary>
    /// Requests a worker may hold queued beyond the <see cref="Threads"/> it runs, so a thread that finishes
    /// finds its next request already there instead of waiting a round trip to the front; null means
    /// <see cref="DefaultPipeline"/>.
    /// </summary>
    public int? Pipeline { get; init; }

    /// <summary>Deep enough that a busy worker runs several requests per wake-up (docs/architecture.md, Dispatch).</summary>
    public const int DefaultPipeline = 16;

    /// <summary>
    /// When the port is bound: once the first worker has loaded the app (<see cref="Hosting.ReadyWhen.One"/>, the
    /// others join as they become ready), or once every worker has (<see cref="Hosting.ReadyWhen.All"/>, the
    /// default under IIS, whose handlers send every request they hold as soon as the port answers).
    /// </summary>
    public ReadyWhen ReadyWhen { get; init; } = ReadyWhen.One;

    /// <summary>Interpreter or virtualenv folder; null to use VIRTUAL_ENV or PATH.</summary>
    public string? Python { get; init; }

    /// <summary>Folder to change to before loading the app (it goes first on sys.path).</summary>
    public string? Chdir { get; init; }

    /// <summary>Mount point of the app: SCRIPT_NAME, removed from PATH_INFO.</summary>
    public string UrlPrefix { get; init; } = "";

    /// <summary>wsgi.url_scheme of every request (waitress's <c>url_scheme</c>), unless a trusted proxy says otherwise; null: the listener's.</summary>
    public string? UrlScheme { get; init; }

    /// <summary>The Server header sent when the app sends none (waitress's <c>ident</c>); null: none.</summary>
    public string? ServerHeader { get; init; }

    /// <summary>Most connections open at once (Kestrel's MaxConcurrentConnections, waitress's <c>connection_limit</c>); null: no limit.</summary>
    public long? ConnectionLimit { get; init; }

    /// <summary>Whose X-Forwarded-* headers set REMOTE_ADDR and wsgi.url_scheme (<c>--trusted-proxy</c>).</summary>
    public ProxyTrust ProxyTrust { get; init; } = ProxyTrust.None;

    /// <summary>
    /// Set when IIS's ASP.NET Core Module started the process: kwsgi then listens on its port, checks its pairing
    /// token and serves below its application path (unless <see cref="UrlPrefix"/> says otherwise).
    /// </summary>
    public AncmSettings? Ancm { get; init; }

    /// <summary>How long in-flight requests may run on after a stop signal.</summary>
    public TimeSpan GracefulTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Requests that may wait for a free worker thread before new ones get 503.</summary>
    public int MaxQueue { get; init; } = 1024;

    /// <summary>URL paths answered from folders by the front (<c>--static</c>), never by Python.</summary>
    public IReadOnlyList<StaticMount> StaticMounts { get; init; } = [];

    /// <summary>Cache-Control max-age for static files whose names carry no content hash (hashed ones are immutable).</summary>
    public TimeSpan StaticMaxAge { get; init; } = TimeSpan.FromHours(1);

    /// <summary>A request running longer is answered 504 and its worker replaced; zero: no limit.</summary>
    public TimeSpan Timeout { get; init; }

    /// <summary>A worker is replaced gracefully after this many requests; 0: never.</summary>
    public long MaxRequests { get; init; }

    /// <summary>Up to this many more requests before a recycle, drawn per worker so they do not all recycle at once.</summary>
    public long MaxRequestsJitter { get; init; }

    /// <summary>A worker whose resident memory exceeds this many MiB is replaced gracefully; 0: no limit.</summary>
    public long MaxWorkerMemoryMib { get; init; }

    /// <summary>Touching (or creating) this file reloads every worker, like SIGHUP; null: no file is watched.</summary>
    public string? ReloadFile { get; init; }

    /// <summary>A worker without a heartbeat, or whose GIL has been held, for longer is killed and replaced; zero: never.</summary>
    public TimeSpan HeartbeatTimeout { get; init; } = TimeSpan.FromSeconds(30);

    // Limits (docs/limits.md): the defaults and how each maps onto Kestrel's.

    /// <summary>Largest request body in bytes (413 past it); null for no limit. Waitress's default.</summary>
    public long? MaxRequestBodySize { get; init; } = DefaultMaxRequestBodySize;

    public const long DefaultMaxRequestBodySize = 1L << 30;

    /// <summary>Largest request line (method, target, version) in bytes; 414 past it.</summary>
    public int LimitRequestLine { get; init; } = 8192;

    /// <summary>Most header fields in a request; 431 past it.</summary>
    public int LimitRequestFields { get; init; } = 100;

    /// <summary>Largest single header field (name, colon, value) in bytes, 431 past it; null for none beyond <see cref="MaxRequestHeaderSize"/>.</summary>
    public int? LimitRequestFieldSize { get; init; }

    /// <summary>Largest header block (all fields together) in bytes; 431 past it.</summary>
    public int MaxRequestHeaderSize { get; init; } = 32 * 1024;

    /// <summary>Ceiling of every request-head limit: Kestrel buffers a request head whole, in at most 1 MiB.</summary>
    public const int MaxHeadLimit = 1024 * 1024;

    /// <summary>Connections the kernel may hold for us before they are accepted (gunicorn's default).</summary>
    public int Backlog { get; init; } = 2048;

    /// <summary>How long an idle keep-alive connection stays open.</summary>
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(130);

    /// <summary>How long a client may take to send a request's head, from its first byte.</summary>
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Slowest request body upload tolerated, in bytes per second after a grace period; null for none.</summary>
    public double? MinRequestBodyRate { get; init; } = 240;

    /// <summary>Slowest response download tolerated, in bytes per second after a grace period; null for none.</summary>
    public double? MinResponseRate { get; init; } = 240;

    /// <summary>Read the whole request body in the front before a worker is taken (small bodies in memory, larger ones in a temp file).</summary>
    public bool BufferRequestBody { get; init; } = true;

    /// <summary>Folder for request bodies and unread responses spooled to disk; null for the system temp folder.</summary>
    public string? TmpDir { get; init; }

    // Observability (docs/observability.md).

    /// <summary>Where the access log goes: a file (appended to) or <c>-</c> for stdout; null: no access log (waitress's default).</summary>
    public string? AccessLog { get; init; }

    /// <summary>gunicorn-style <c>%(h)s</c> atoms, or <c>json</c>; null: Apache's combined format.</summary>
    public string? AccessLogFormat { get; init; }

    /// <summary>ADDR:PORT of a separate listener serving Prometheus text at /metrics; null: no metrics.</summary>
    public string? MetricsListen { get; init; }

    /// <summary>Least severe log level written: trace, debug, info, warning, error, critical.</summary>
    public Microsoft.Extensions.Logging.LogLevel LogLevel { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;

    /// <summary>Log lines as text (one line each) or as JSON objects.</summary>
    public bool LogJson { get; init; }

    // Development (docs/reload.md).

    /// <summary>Replace the workers when a watched source file under the app's folder changes (<c>--reload</c>).</summary>
    public bool Reload { get; init; }

    /// <summary>Globs of further files to watch, relative to the app's folder (<c>--reload-include</c>).</summary>
    public IReadOnlyList<string> ReloadInclude { get; init; } = [];

    /// <summary>Notice changes by looking every second instead of by the OS's file events (<c>--reload-engine poll</c>).</summary>
    public bool ReloadPoll { get; init; }

    /// <summary>A 500 caused by an exception in the app carries the traceback in its body (<c>--expose-tracebacks</c>).</summary>
    public bool ExposeTracebacks { get; init; }
    // ASGI (docs/asgi.md).

    /// <summary>The app's interface: <c>auto</c> (an async callable is ASGI 3), <c>wsgi</c> or <c>asgi</c>.</summary>
    public string Interface { get; init; } = "auto";

    /// <summary>The ASGI lifespan protocol: <c>auto</c>, <c>on</c> or <c>off</c>, as uvicorn's.</summary>
    public string Lifespan { get; init; } = "auto";

    /// <summary>An ASGI worker's event loop: <c>auto</c> (uvloop when installed), <c>asyncio</c> or <c>uvloop</c>.</summary>
    public string Loop { get; init; } = "auto";

    /// <summary>Requests an ASGI worker runs at once (the front queues the rest); null: no limit.</summary>
    public int? MaxConcurrency { get; init; }

    // WebSockets of ASGI apps (docs/asgi.md, WebSockets).

    /// <summary>Largest message a WebSocket client may send; past it, close 1009 (uvicorn's ws_max_size).</summary>
    public long WsMaxMessageSize { get; init; } = Front.WebSockets.WebSocketSettings.DefaultMaxMessageSize;

    /// <summary>Time between the front's pings to a WebSocket client; zero: none (uvicorn's ws_ping_interval).</summary>
    public TimeSpan WsPingInterval { get; init; } = Front.WebSockets.WebSocketSettings.DefaultPing;

    /// <summary>Time a ping may go unanswered before the socket is dropped; zero: no limit (uvicorn's ws_ping_timeout).</summary>
    public TimeSpan WsPingTimeout { get; init; } = Front.WebSockets.WebSocketSettings.DefaultPing;
}

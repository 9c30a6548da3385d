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

    /// <summary>Interpreter or virtualenv folder; null to use VIRTUAL_ENV or PATH.</summary>
    public string? Python { get; init; }

    /// <summary>Folder to change to before loading the app (it goes first on sys.path).</summary>
    public string? Chdir { get; init; }

    /// <summary>Mount point of the app: SCRIPT_NAME, removed from PATH_INFO.</summary>
    public string UrlPrefix { get; init; } = "";

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
}

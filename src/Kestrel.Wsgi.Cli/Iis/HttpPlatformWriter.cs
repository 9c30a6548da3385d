namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// <c>&lt;httpPlatform&gt;</c>: IIS's HttpPlatformHandler picks a port, puts it where <c>%HTTP_PLATFORM_PORT%</c>
/// stands in the arguments, and forwards requests to it.
/// </summary>
internal sealed class HttpPlatformWriter : HandlerWriter
{
    public override string SectionName => "httpPlatform";

    public override string Module => "httpPlatformHandler";

    public override string DefaultHandlerName => "httpPlatformHandler";

    public override string DefaultLogFile => @".\logs\kwsgi.log";

    public override IReadOnlyList<string> PortArguments => ["--port", "%HTTP_PLATFORM_PORT%"];

    public override IReadOnlySet<string> KnownAttributes { get; } = new HashSet<string>
    {
        "stdoutLogEnabled", "stdoutLogFile", "startupTimeLimit", "startupRetryCount", "requestTimeout",
        "rapidFailsPerMinute", "processesPerApplication", "forwardWindowsAuthToken",
    };
}

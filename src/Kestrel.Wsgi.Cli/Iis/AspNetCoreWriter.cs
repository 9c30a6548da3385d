namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// <c>&lt;aspNetCore hostingModel="OutOfProcess"&gt;</c>: the ASP.NET Core Module starts kwsgi like any Kestrel app
/// and passes the port in ASPNETCORE_PORT (never in the arguments), so kwsgi gets no port argument.
/// </summary>
internal sealed class AspNetCoreWriter : HandlerWriter
{
    public override string SectionName => "aspNetCore";

    public override string Module => "AspNetCoreModuleV2";

    public override string DefaultHandlerName => "aspNetCore";

    // ANCM adds a timestamp and process id and .log to this.
    public override string DefaultLogFile => @".\logs\kwsgi";

    public override IReadOnlyList<string> PortArguments => [];

    public override IReadOnlySet<string> KnownAttributes { get; } = new HashSet<string>
    {
        "stdoutLogEnabled", "stdoutLogFile", "startupTimeLimit", "shutdownTimeLimit", "requestTimeout",
        "rapidFailsPerMinute", "forwardWindowsAuthToken", "disableStartUpErrorPage",
    };

    protected override IEnumerable<KeyValuePair<string, string>> FixedAttributes => [new("hostingModel", "OutOfProcess")];
}

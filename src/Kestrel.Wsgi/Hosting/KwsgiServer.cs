using System.Net;
using System.Net.Sockets;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front;
using Kestrel.Wsgi.Front.AccessLog;
using Kestrel.Wsgi.Front.HalfClose;
using Kestrel.Wsgi.Front.StaticFiles;
using Kestrel.Wsgi.Hosting.Metrics;
using Kestrel.Wsgi.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Kestrel.Wsgi.Hosting;

/// <summary>Runs a kwsgi server: workers first, then Kestrel, until a stop signal; then drains both.</summary>
public static class KwsgiServer
{
    /// <summary>
    /// Serves until stopped. Returns 0 after a clean stop; throws <see cref="UsageException"/> or
    /// <see cref="WorkerStartupException"/> for problems the user must fix.
    /// </summary>
    public static async Task<int> RunAsync(KwsgiOptions options)
    {
        InlineIo.Enable();
        if (options.Chdir is not null)
        {
            if (!Directory.Exists(options.Chdir))
            {
                throw new UsageException($"--chdir folder {options.Chdir} does not exist");
            }
            Directory.SetCurrentDirectory(options.Chdir);
        }
        if (!IPAddress.TryParse(options.Host, out IPAddress? address))
        {
            address = options.Host == "localhost" ? IPAddress.Loopback : throw new UsageException($"--host {options.Host} is not an IP address");
        }
        // Behind ANCM the module decides: it connects to 127.0.0.1 on the port it chose.
        int port = options.Ancm?.Port ?? options.Port;
        address = options.Ancm is null ? address : IPAddress.Loopback;
        string shown = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        // An explicit --url-prefix wins; else the IIS application's path, matched as IIS does, ignoring case.
        string urlPrefix = options.UrlPrefix.TrimEnd('/');
        bool prefixIgnoresCase = false;
        if (urlPrefix.Length == 0 && options.Ancm is { UrlPrefix.Length: > 0 } ancmPrefix)
        {
            urlPrefix = ancmPrefix.UrlPrefix;
            prefixIgnoresCase = true;
        }
        // Relative static folders are relative to the folder the app runs in.
        StaticFileSettings staticFiles = StaticFileSettings.Resolve(options.StaticMounts, options.StaticMaxAge);
        PythonInstallation python = PythonLocator.Locate(options.Python);
        RequestLimits requestLimits = RequestLimits.From(options);

        // The workers start first and load the app while the front builds its host: the slowest part of
        // start-up (interpreter and app import) overlaps the rest.
        using ILoggerFactory loggerFactory = LoggerFactory.Create(logging => ConfigureLogging(logging, options));
        await using AccessLogWriter? accessLog = options.AccessLog is null ? null
            : AccessLogWriter.Open(options.AccessLog, AccessLogFormat.Parse(options.AccessLogFormat), loggerFactory.CreateLogger("Kestrel.Wsgi.Front.AccessLog"));
        MetricsExport? metrics = MetricsExport.From(options, port);
        var launch = new WorkerLaunch(python, options.App, options.CallFactory, options.Threads, options.Workers, Directory.GetCurrentDirectory())
        {
            OutputLogger = loggerFactory.CreateLogger("Kestrel.Wsgi.Worker"),
            OutputSplitLines = !options.LogJson,
        };
        var pool = new WorkerPool(options.Workers, options.Threads + (options.Pipeline ?? KwsgiOptions.DefaultPipeline), options.MaxQueue);
        var supervisor = new Supervisor(launch, pool, SupervisionOf(options), loggerFactory.CreateLogger<Supervisor>());
        Task workersReady = supervisor.StartAsync(CancellationToken.None);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.GracefulTimeout);
        // RFC 9112 2.2 lets a server take a bare LF for CRLF; a proxy in front that does not would see other
        // requests in the same bytes (smuggling). Kestrel reads this switch when it builds its parser.
        AppContext.SetSwitch("Microsoft.AspNetCore.Server.Kestrel.DisableHttp1LineFeedTerminators", true);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // RFC 9112 3.2.2: an absolute-form target's authority replaces Host (Kestrel's default is a 400).
            kestrel.AllowHostHeaderOverride = true;
            kestrel.Listen(address, port, listen => listen.Use(HalfCloseConnection.Use));
            metrics?.Listen(kestrel);
            KestrelLimits.Apply(kestrel.Limits, options);
            // PEP 3333: header bytes are latin-1, both ways (and Content-Length digits only, RFC 9110 8.6).
            kestrel.RequestHeaderEncodingSelector = RequestHeaderEncoding.Select;
            kestrel.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        });

        builder.Services.AddSingleton(pool);
        builder.Services.AddSingleton(new FrontOptions(urlPrefix, prefixIgnoresCase));
        builder.Services.AddSingleton(requestLimits);
        // Past the backlog, a burst of connections (a load spike, a slowloris) would see SYNs dropped and retried.
        builder.WebHost.UseSockets(sockets =>
        {
            sockets.Backlog = options.Backlog;
            // A request runs on the I/O thread that read it, up to its first wait (docs/channel.md, The hops).
            sockets.UnsafePreferInlineScheduling = InlineIo.Enabled;
        });
        builder.Services.AddSingleton<Forwarder>();
        builder.Services.AddSingleton(staticFiles);
        builder.Services.AddSingleton<StaticFileLoader>();
        builder.Services.AddSingleton<StaticFileCache>();
        builder.Services.AddSingleton<StaticFileHandler>();
        metrics?.AddServices(builder.Services, pool, supervisor, accessLog);
        if (options.Ancm is not null)
        {
            AncmHosting.Configure(builder, options.Ancm);
        }

        await using WebApplication app = builder.Build();
        Forwarder handler = app.Services.GetRequiredService<Forwarder>();
        // Scrapes are answered before the access log and never reach the app.
        metrics?.UseScrapeEndpoint(app);
        if (accessLog is not null)
        {
            app.Use(new AccessLogMiddleware(accessLog).InvokeAsync);
        }
        if (options.Ancm is not null)
        {
            app.Use(AncmHosting.HideTokenAsync);
        }
        if (options.ProxyTrust.IsEnabled)
        {
            app.Use(new ProxyHeaders(options.ProxyTrust, loggerFactory).InvokeAsync);
        }
        if (staticFiles.Roots.Length > 0)
        {
            app.Use(app.Services.GetRequiredService<StaticFileHandler>().InvokeAsync);
        }
        app.Run(handler.InvokeAsync);

        await workersReady.ConfigureAwait(false);
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        IDisposable? consoleClose = null;
        try
        {
            try
            {
                await app.StartAsync().ConfigureAwait(false);
            }
            catch (IOException ex) when (ex.InnerException is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } || ex.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
            {
                throw new UsageException($"cannot listen on {shown}:{port}: the address is already in use");
            }
            catch (SocketException ex)
            {
                throw new UsageException($"cannot listen on {shown}:{port}: {ex.Message}");
            }
            consoleClose = ConsoleCloseDrain.Register(app.Lifetime, drained.Task, options.GracefulTimeout + TimeSpan.FromSeconds(5));
            foreach (StaticRoot root in staticFiles.Roots)
            {
                Console.Out.WriteLine($"kwsgi: Serving {root.UrlPath}/ from {root.Folder}");
            }
            foreach (string line in HostingLines(options, urlPrefix))
            {
                Console.Out.WriteLine(line);
            }
            // Before the line that says the server is up: a SIGHUP sent as soon as it is read must not be lost.
            await using var reloads = new ReloadTriggers(supervisor, options.ReloadFile);
            if (metrics?.Endpoint is { } scrape)
            {
                Console.Out.WriteLine($"kwsgi: Metrics on http://{scrape}{MetricsEndpoint.Path}");
            }
            Console.Out.WriteLine($"kwsgi: Listening on http://{shown}:{port} ({options.Workers} workers x {options.Threads} threads, {options.App}, Python {python.Version})");
            Console.Out.Flush();
            // A worker that can no longer load the app ends the server like a stop signal, then is reported.
            if (await Task.WhenAny(app.WaitForShutdownAsync(), supervisor.Failed).ConfigureAwait(false) == supervisor.Failed)
            {
                await app.StopAsync().ConfigureAwait(false);
                await supervisor.Failed.ConfigureAwait(false);
            }
        }
        finally
        {
            await supervisor.StopAsync(options.GracefulTimeout).ConfigureAwait(false);
            drained.TrySetResult();
            consoleClose?.Dispose();
        }
        return 0;
    }

    private static SupervisorSettings SupervisionOf(KwsgiOptions options) => new(
        options.Timeout,
        options.MaxRequests,
        options.MaxRequestsJitter,
        options.MaxWorkerMemoryMib * 1024 * 1024,
        options.HeartbeatTimeout,
        options.GracefulTimeout);

    /// <summary>What the startup log says about IIS and proxies: who is believed, and why.</summary>
    private static IEnumerable<string> HostingLines(KwsgiOptions options, string urlPrefix)
    {
        if (options.Ancm is { } ancm)
        {
            yield return $"kwsgi: Behind IIS's ASP.NET Core Module: port {ancm.Port} from {AncmSettings.PortVariable}, " +
                $"application path {ancm.ApplicationPath} (SCRIPT_NAME '{urlPrefix}'), requests whose MS-ASPNETCORE-TOKEN header is not {AncmSettings.TokenVariable} get 400";
        }
        if (options.ProxyTrust.IsEnabled)
        {
            ProxyTrust trust = options.ProxyTrust;
            string proxies = string.Join(", ", trust.Proxies.Select(n => n.PrefixLength == n.BaseAddress.GetAddressBytes().Length * 8 ? n.BaseAddress.ToString() : n.ToString()));
            string count = trust.Count == 1 ? "the rightmost value" : $"the value {trust.Count} places from the right";
            yield return $"kwsgi: Trusting {trust.DescribeHeaders()} from {proxies} ({trust.Reason}); {count} is the client's";
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging, KwsgiOptions options)
    {
        if (options.LogJson)
        {
            logging.AddJsonConsole(console =>
            {
                console.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
                console.UseUtcTimestamp = true;
                console.IncludeScopes = true;
            });
        }
        else
        {
            logging.AddSimpleConsole(console =>
            {
                // IIS writes stdout to stdoutLogFile: plain lines there, colours only on a terminal.
                console.ColorBehavior = Console.IsOutputRedirected ? LoggerColorBehavior.Disabled : LoggerColorBehavior.Default;
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
            });
        }
        // I/O threads run requests inline (InlineIo): a flood of log lines must drop some, never block one.
        logging.Services.Configure<ConsoleLoggerOptions>(console => console.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite);
        logging.SetMinimumLevel(options.LogLevel);
        logging.AddFilter("Microsoft", options.LogLevel > LogLevel.Warning ? options.LogLevel : LogLevel.Warning);
        // Its logger being on at all makes ASP.NET Core start an Activity per request; it logs only request
        // start/finish (Information/Debug), which kwsgi does not show.
        logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        // A host that fails to start (port in use) is reported as one sentence, not a logged stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
    }
}

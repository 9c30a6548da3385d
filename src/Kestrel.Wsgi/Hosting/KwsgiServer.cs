using System.Net.Sockets;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front;
using Kestrel.Wsgi.Front.AccessLog;
using Kestrel.Wsgi.Front.StaticFiles;
using Kestrel.Wsgi.Front.WebSockets;
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
        IReadOnlyList<ListenAddress> listeners = ListenersOf(options);
        // Relative to --chdir, as every other file kwsgi reads; loaded before any worker starts, so a mistake costs nothing.
        ServerCertificate? certificate = ServerCertificate.Load(options);
        ClientCertificatePolicy? clientPolicy = CheckTls(options, listeners, certificate);
        string shown = string.Join(", ", listeners.Select(l => l.Display(certificate is not null)));
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
        MetricsExport? metrics = MetricsExport.From(options, listeners.Select(listener => listener.Port));
        var launch = new WorkerLaunch(python, options.App, options.CallFactory, options.Threads, options.Workers, Directory.GetCurrentDirectory())
        {
            OutputLogger = loggerFactory.CreateLogger("Kestrel.Wsgi.Worker"),
            OutputSplitLines = !options.LogJson,
            ExposeTracebacks = options.ExposeTracebacks,
            Interface = options.Interface,
            Lifespan = options.Lifespan,
            Loop = options.Loop,
            Debug = options.LogLevel <= LogLevel.Debug,
        };
        var pool = new WorkerPool(options.Workers, options.Threads + (options.Pipeline ?? KwsgiOptions.DefaultPipeline), options.MaxQueue, options.MaxConcurrency ?? int.MaxValue);
        var supervisor = new Supervisor(launch, pool, SupervisionOf(options), loggerFactory.CreateLogger<Supervisor>());
        Task workersReady = supervisor.StartAsync(options.ReadyWhen == ReadyWhen.One, CancellationToken.None);

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
            KestrelListeners.Apply(kestrel, listeners, certificate, options.ClientCertificates, clientPolicy);
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
        builder.Services.AddSingleton(new WebSocketSettings(options.WsMaxMessageSize, options.WsPingInterval, options.WsPingTimeout));
        builder.Services.AddSingleton<OpenWebSockets>();
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
        if (options.ServerHeader is string server)
        {
            // waitress's ident: on every answer, static files and the front's own errors too; the app's own wins.
            app.Use((context, next) =>
            {
                context.Response.Headers.Server = server;
                return next(context);
            });
        }
        if (accessLog is not null)
        {
            app.Use(new AccessLogMiddleware(accessLog).InvokeAsync);
        }
        if (options.Ancm is not null)
        {
            app.Use(AncmHosting.HideTokenAsync);
        }
        if (options.HealthPath is not null)
        {
            app.Use(new HealthEndpoint(options.HealthPath, pool, app.Lifetime.ApplicationStopping).InvokeAsync);
        }
        if (options.UrlScheme is string urlScheme)
        {
            // Before the proxy headers: a trusted proxy's X-Forwarded-Proto wins over it, as in waitress.
            app.Use((context, next) =>
            {
                context.Request.Scheme = urlScheme;
                return next(context);
            });
        }
        if (options.ProxyTrust.IsEnabled || options.ProxyTrust.ClearUntrusted)
        {
            app.Use(new ProxyHeaders(options.ProxyTrust, loggerFactory).InvokeAsync);
        }
        if (staticFiles.Roots.Length > 0)
        {
            app.Use(app.Services.GetRequiredService<StaticFileHandler>().InvokeAsync);
        }

        await workersReady.ConfigureAwait(false);
        if (pool.SpeaksAsgi)
        {
            // Marks handshakes (HTTP/1.1 Upgrade, HTTP/2 extended CONNECT); the forwarder accepts one only when the app
            // does. Only for an ASGI app (known once a worker is ready): a WSGI app's requests skip the middleware and
            // the forwarder's handshake check, and see an Upgrade request as a plain request, as they always did.
            app.UseWebSockets();
            handler.AcceptsWebSockets = true;
            OpenWebSockets openWebSockets = app.Services.GetRequiredService<OpenWebSockets>();
            app.Lifetime.ApplicationStopping.Register(() => openWebSockets.CloseBefore(options.GracefulTimeout));
        }
        app.Run(handler.InvokeAsync);
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
                throw new UsageException($"cannot listen on {FailedAddress(ex, shown)}: the address is already in use");
            }
            catch (IOException ex) when (ex.InnerException is SocketException inner)
            {
                throw new UsageException($"cannot listen on {FailedAddress(ex, shown)}: {inner.Message}");
            }
            catch (SocketException ex)
            {
                throw new UsageException($"cannot listen on {shown}: {ex.Message}");
            }
            foreach (ListenAddress listener in listeners)
            {
                if (listener.UnixPath is string socketPath)
                {
                    UnixSocketFile.SetMode(socketPath, options.UnixSocketMode);
                }
            }
            consoleClose = ConsoleCloseDrain.Register(app.Lifetime, drained.Task, options.GracefulTimeout + TimeSpan.FromSeconds(5));
            foreach (StaticRoot root in staticFiles.Roots)
            {
                Console.Out.WriteLine($"kwsgi: Serving {root.UrlPath}/ from {root.Folder}");
            }
            if (certificate is not null)
            {
                Console.Out.WriteLine($"kwsgi: TLS certificate {certificate.Describe()}");
            }
            if (options.HealthPath is not null)
            {
                Console.Out.WriteLine($"kwsgi: Health at {options.HealthPath} (200 when all {options.Workers} workers are ready, else 503)");
            }
            foreach (string line in HostingLines(options, urlPrefix))
            {
                Console.Out.WriteLine(line);
            }
            // Before the line that says the server is up: a SIGHUP sent as soon as it is read must not be lost.
            await using var reloads = new ReloadTriggers(supervisor, options, loggerFactory);
            if (reloads.Watching is string watching)
            {
                Console.Out.WriteLine($"kwsgi: {watching}");
            }
            if (metrics?.Endpoint is { } scrape)
            {
                Console.Out.WriteLine($"kwsgi: Metrics on http://{scrape}{MetricsEndpoint.Path}");
            }
            string model = pool.Workers.Any(worker => worker.Connection.IsAsgi)
                ? $"{options.Workers} ASGI workers, one event loop each" : $"{options.Workers} workers x {options.Threads} threads";
            Console.Out.WriteLine($"kwsgi: Listening on {shown} ({model}, {options.App}, Python {python.Version})");

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

    /// <summary>
    /// <c>--listen</c>, else <c>--host</c> and <c>--port</c>. Behind ANCM the module decides: it connects to 127.0.0.1 on
    /// the port it chose, in cleartext.
    /// </summary>
    private static IReadOnlyList<ListenAddress> ListenersOf(KwsgiOptions options)
    {
        if (options.Ancm is { } ancm)
        {
            return [new ListenAddress(ListenScheme.Http, "127.0.0.1", ancm.Port)];
        }
        if (options.Listen.Count > 0)
        {
            return options.Listen;
        }
        return [new ListenAddress(ListenScheme.Default, ListenAddress.ParseHost(options.Host, options.Host, "--host"), options.Port)];
    }

    /// <summary>
    /// Checks that the TLS options fit the listeners, before any worker starts; the client certificate policy when one
    /// is asked for.
    /// </summary>
    private static ClientCertificatePolicy? CheckTls(KwsgiOptions options, IReadOnlyList<ListenAddress> listeners, ServerCertificate? certificate)
    {
        if (certificate is null && listeners.FirstOrDefault(l => l.Scheme == ListenScheme.Https) is { } needsOne)
        {
            throw new UsageException($"{needsOne.Display(false)} needs a certificate: --certfile and --keyfile, or --certificate");
        }
        bool anyHttps = listeners.Any(l => l.Resolve(certificate is not null) == ListenScheme.Https);
        if (certificate is not null && !anyHttps)
        {
            throw new UsageException($"{(options.CertFile is not null ? "--certfile" : "--certificate")} is given but no listener is HTTPS: {string.Join(", ", listeners.Select(l => l.Display(true)))}");
        }
        if (options.ClientCertificates == ClientCertificateRequirement.None)
        {
            return options.CaCerts is null ? null : throw new UsageException("--ca-certs means nothing without --ssl-client-cert required or optional");
        }
        if (!anyHttps)
        {
            throw new UsageException("--ssl-client-cert needs an HTTPS listener (a certificate: --certfile and --keyfile, or --certificate)");
        }
        return ClientCertificatePolicy.Load(options.CaCerts);
    }

    /// <summary>The address in Kestrel's "Failed to bind to address http://127.0.0.1:8080: …", else every listener.</summary>
    private static string FailedAddress(IOException ex, string shown)
    {
        System.Text.RegularExpressions.Match match = System.Text.RegularExpressions.Regex.Match(ex.Message, @"address (\S+?):?\s");
        return match.Success ? match.Groups[1].Value : shown;
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

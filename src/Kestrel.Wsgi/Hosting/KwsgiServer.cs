using System.Net;
using System.Net.Sockets;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front;
using Kestrel.Wsgi.Front.StaticFiles;
using Kestrel.Wsgi.Python;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        // Relative static folders are relative to the folder the app runs in.
        StaticFileSettings staticFiles = StaticFileSettings.Resolve(options.StaticMounts, options.StaticMaxAge);
        PythonInstallation python = PythonLocator.Locate(options.Python);

        // The workers start first and load the app while the front builds its host: the slowest part of
        // start-up (interpreter and app import) overlaps the rest.
        using ILoggerFactory loggerFactory = LoggerFactory.Create(ConfigureLogging);
        var launch = new WorkerLaunch(python, options.App, options.CallFactory, options.Threads, options.Workers, Directory.GetCurrentDirectory());
        var pool = new WorkerPool(options.Workers, options.Threads + (options.Pipeline ?? KwsgiOptions.DefaultPipeline), options.MaxQueue);
        var supervisor = new Supervisor(launch, pool, loggerFactory.CreateLogger<Supervisor>());
        Task workersReady = supervisor.StartAsync(CancellationToken.None);

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.GracefulTimeout);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(address, options.Port);
            kestrel.Limits.MaxRequestBodySize = null; // bodies stream to the worker under flow control
            // PEP 3333: header bytes are latin-1, both ways.
            kestrel.RequestHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
            kestrel.ResponseHeaderEncodingSelector = _ => System.Text.Encoding.Latin1;
        });

        builder.Services.AddSingleton(pool);
        builder.Services.AddSingleton(new FrontOptions(options.UrlPrefix.TrimEnd('/')));
        builder.Services.AddSingleton<WsgiHandler>();
        builder.Services.AddSingleton(staticFiles);
        builder.Services.AddSingleton<StaticFileLoader>();
        builder.Services.AddSingleton<StaticFileCache>();
        builder.Services.AddSingleton<StaticFileHandler>();

        await using WebApplication app = builder.Build();
        WsgiHandler handler = app.Services.GetRequiredService<WsgiHandler>();
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
                throw new UsageException($"cannot listen on {options.Host}:{options.Port}: the address is already in use");
            }
            catch (SocketException ex)
            {
                throw new UsageException($"cannot listen on {options.Host}:{options.Port}: {ex.Message}");
            }
            consoleClose = ConsoleCloseDrain.Register(app.Lifetime, drained.Task, options.GracefulTimeout + TimeSpan.FromSeconds(5));
            foreach (StaticRoot root in staticFiles.Roots)
            {
                Console.Out.WriteLine($"kwsgi: Serving {root.UrlPath}/ from {root.Folder}");
            }
            string shown = address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
            Console.Out.WriteLine($"kwsgi: Listening on http://{shown}:{options.Port} ({options.Workers} workers x {options.Threads} threads, {options.App}, Python {python.Version})");
            Console.Out.Flush();
            await app.WaitForShutdownAsync().ConfigureAwait(false);
        }
        finally
        {
            await supervisor.StopAsync(options.GracefulTimeout).ConfigureAwait(false);
            drained.TrySetResult();
            consoleClose?.Dispose();
        }
        return 0;
    }

    private static void ConfigureLogging(ILoggingBuilder logging)
    {
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-dd HH:mm:ss ";
        });
        logging.SetMinimumLevel(LogLevel.Information);
        logging.AddFilter("Microsoft", LogLevel.Warning);
        // A host that fails to start (port in use) is reported as one sentence, not a logged stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
    }
}

using System.Net;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front.AccessLog;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;

namespace Kestrel.Wsgi.Hosting.Metrics;

/// <summary>
/// Metrics when asked for (off by default): the OpenTelemetry SDK listens to ASP.NET Core's, Kestrel's, the
/// runtime's and kwsgi's meters and serves them as Prometheus text on <c>--metrics-listen</c>, a listener of its
/// own, and over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set. With neither, nothing listens to any meter,
/// so no instrument records anything.
/// </summary>
internal sealed class MetricsExport
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The meters exported: ASP.NET Core's hosting (http.server.*), Kestrel's (kestrel.*), the runtime's, kwsgi's.</summary>
    public static readonly string[] Meters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "System.Runtime",
        KwsgiMetrics.MeterName,
    ];

    private MetricsExport(IPEndPoint? endpoint, bool otlp)
    {
        Endpoint = endpoint;
        Otlp = otlp;
    }

    /// <summary>The scrape listener; null when only OTLP is on.</summary>
    public IPEndPoint? Endpoint { get; }

    public bool Otlp { get; }

    /// <summary>Null when metrics are off.</summary>
    public static MetricsExport? From(KwsgiOptions options, IEnumerable<int> appPorts)
    {
        IPEndPoint? endpoint = options.MetricsListen is null ? null : MetricsEndpoint.Parse(options.MetricsListen);
        if (endpoint is not null && appPorts.Contains(endpoint.Port))
        {
            throw new UsageException($"--metrics-listen {options.MetricsListen} must not use the app's port {endpoint.Port}");
        }
        bool otlp = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(OtlpEndpointVariable));
        return endpoint is null && !otlp ? null : new MetricsExport(endpoint, otlp);
    }

    public void Listen(KestrelServerOptions kestrel)
    {
        if (Endpoint is not null)
        {
            kestrel.Listen(Endpoint);
        }
    }

    public void AddServices(IServiceCollection services, WorkerPool pool, Supervisor supervisor, AccessLogWriter? accessLog)
    {
        KwsgiMetrics.Observe(pool, supervisor, accessLog);
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            metrics.AddMeter(Meters);
            if (Endpoint is not null)
            {
                // Every scrape sees the values of that moment (the exporter caches a scrape 300 ms by default).
                metrics.AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0);
            }
            if (Otlp)
            {
                // Endpoint, protocol, headers and interval come from the standard OTEL_EXPORTER_OTLP_* variables.
                metrics.AddOtlpExporter();
            }
        });
    }

    /// <summary>
    /// On the metrics port: <c>/metrics</c> is the scrape, anything else 404; the app is never reached from there.
    /// On the app's port this costs one comparison per request.
    /// </summary>
    public void UseScrapeEndpoint(IApplicationBuilder app)
    {
        if (Endpoint is null)
        {
            return;
        }
        int port = Endpoint.Port;
        app.UseOpenTelemetryPrometheusScrapingEndpoint(
            meterProvider: null,
            predicate: context => context.Connection.LocalPort == port && context.Request.Path == MetricsEndpoint.Path,
            path: null,
            configureBranchedPipeline: null,
            optionsName: null);
        app.Use((context, next) =>
        {
            if (context.Connection.LocalPort != port)
            {
                return next(context);
            }
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
    }
}

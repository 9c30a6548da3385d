using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--metrics-listen: Prometheus text on its own port, with ASP.NET Core's, Kestrel's and kwsgi's metrics.</summary>
public sealed class MetricsTests
{
    /// <summary>One sample of the Prometheus text format 0.0.4: name, labels, value.</summary>
    public sealed record Sample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

    /// <summary>A small parser of the text exposition format 0.0.4 (comments skipped, label values unescaped).</summary>
    public static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (string raw in text.Split('\n'))
        {
            string line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            int i = 0;
            while (i < line.Length && (char.IsAsciiLetterOrDigit(line[i]) || line[i] is '_' or ':'))
            {
                i++;
            }
            Assert.True(i > 0 && !char.IsAsciiDigit(line[0]), $"bad metric name in: {line}");
            string name = line[..i];
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            if (i < line.Length && line[i] == '{')
            {
                i++;
                while (line[i] != '}')
                {
                    int eq = line.IndexOf('=', i);
                    string label = line[i..eq];
                    Assert.Matches("^[a-zA-Z_][a-zA-Z0-9_]*$", label);
                    Assert.Equal('"', line[eq + 1]);
                    var value = new System.Text.StringBuilder();
                    int j = eq + 2;
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }
                    }
                    labels[label] = value.ToString();
                    i = j + 1;
                    if (line[i] == ',')
                    {
                        i++;
                    }
                }
                i++;
            }
            string[] rest = line[i..].Trim().Split(' ');
            double number = rest[0] switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                string v => double.Parse(v, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(name, labels, number));
        }
        return samples;
    }

    private static async Task<List<Sample>> ScrapeAsync(int port)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        using HttpResponseMessage response = await client.GetAsync($"http://127.0.0.1:{port}/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.MediaType ?? "");
        return Parse(await response.Content.ReadAsStringAsync());
    }

    private static double Sum(IEnumerable<Sample> samples, string name, Func<Sample, bool>? where = null) =>
        samples.Where(s => s.Name == name && (where is null || where(s))).Sum(s => s.Value);

    [Fact]
    public async Task Prometheus_OnItsOwnPort_CountsRequestsAndWorkers()
    {
        int metricsPort = KwsgiProcess.FreePort();
        await using var server = await KwsgiProcess.StartAsync("crash:app", "--workers", "2", "--threads", "2", "--ready-when", "all", "--metrics-listen", $"127.0.0.1:{metricsPort}");
        Assert.NotEqual(server.Port, metricsPort);

        List<Sample> before = await ScrapeAsync(metricsPort);
        double requestsBefore = Sum(before, "http_server_request_duration_seconds_count", s => s.Labels.GetValueOrDefault("http_response_status_code") == "200");
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await server.Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        List<Sample> after = await ScrapeAsync(metricsPort);
        double requestsAfter = Sum(after, "http_server_request_duration_seconds_count", s => s.Labels.GetValueOrDefault("http_response_status_code") == "200");
        // The app's 5 (the first scrape, itself a 200 on the metrics port, may be counted too).
        Assert.InRange(requestsAfter - requestsBefore, 5, 6);
        Assert.Contains(after, s => s.Name == "kestrel_active_connections" && s.Labels.GetValueOrDefault("server_port") == server.Port.ToString(CultureInfo.InvariantCulture));
        Assert.Equal(2, Sum(after, "kwsgi_workers", s => s.Labels["state"] == "ready"));
        Assert.Equal(0, Sum(after, "kwsgi_requests_queued"));
        List<int> workers = server.WorkerPids();
        Assert.Equal(workers.Order(), after.Where(s => s.Name == "kwsgi_worker_requests_in_flight").Select(s => int.Parse(s.Labels["process_pid"], CultureInfo.InvariantCulture)).Order());
        Assert.All(after.Where(s => s.Name == "kwsgi_worker_memory_rss_bytes"), s => Assert.True(s.Value > 1 << 20, $"RSS {s.Value}"));
        Assert.Equal(2, after.Count(s => s.Name == "kwsgi_worker_memory_rss_bytes"));

        // The app is not on the metrics port, and the metrics are not on the app's.
        using (var client = new HttpClient())
        {
            using HttpResponseMessage other = await client.GetAsync($"http://127.0.0.1:{metricsPort}/");
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
        }
        using (HttpResponseMessage onApp = await server.Client.GetAsync("/metrics"))
        {
            Assert.Equal("ok", await onApp.Content.ReadAsStringAsync());
        }

        // A worker that dies is a crash restart.
        using (HttpResponseMessage crash = await server.Client.GetAsync("/exit"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, crash.StatusCode);
        }
        List<Sample> crashed = [];
        bool counted = await ProcInfo.WaitUntilAsync(() =>
        {
            crashed = ScrapeAsync(metricsPort).GetAwaiter().GetResult();
            return Sum(crashed, "kwsgi_worker_restarts_total", s => s.Labels.GetValueOrDefault("reason") == "crash") == 1
                && Sum(crashed, "kwsgi_workers", s => s.Labels["state"] == "ready") == 2;
        }, TimeSpan.FromSeconds(15), 200);
        Assert.True(counted, string.Join('\n', crashed.Where(s => s.Name.StartsWith("kwsgi", StringComparison.Ordinal))) + "\n" + server.Describe());
        Assert.Contains(crashed, s => s.Name == "http_server_request_duration_seconds_count" && s.Labels.GetValueOrDefault("http_response_status_code") == "502");
    }

    [Fact]
    public async Task Refused503_AndAccessLogDrops_AreCounted()
    {
        int metricsPort = KwsgiProcess.FreePort();
        await using var server = await KwsgiProcess.StartAsync("slow:app", "--workers", "1", "--threads", "1", "--pipeline", "0", "--max-queue", "0",
            "--access-log", "-", "--metrics-listen", metricsPort.ToString(CultureInfo.InvariantCulture));
        using var client = server.CreateClient(TimeSpan.FromSeconds(30));
        Task<HttpResponseMessage> slow = client.GetAsync("/?s=2");
        await Task.Delay(500);
        using (HttpResponseMessage refused = await server.Client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }
        (await slow).Dispose();
        List<Sample> samples = await ScrapeAsync(metricsPort);
        Assert.Equal(1, Sum(samples, "kwsgi_requests_refused_total"));
        Assert.Equal(0, Sum(samples, "kwsgi_access_log_dropped_total"));
        Assert.Contains(samples, s => s.Name == "kwsgi_access_log_dropped_total");
    }

    [Fact]
    public async Task OtlpEndpoint_Set_PushesMetrics()
    {
        // A stand-in collector: OTLP over HTTP posts protobuf to /v1/metrics.
        int collectorPort = KwsgiProcess.FreePort();
        using var collector = new HttpListener();
        collector.Prefixes.Add($"http://127.0.0.1:{collectorPort}/");
        collector.Start();
        Task<HttpListenerContext> posted = collector.GetContextAsync();
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(CultureInfo.InvariantCulture), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"],
            new Dictionary<string, string?>
            {
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{collectorPort}",
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            },
            expectedPort: null);
        using (HttpResponseMessage response = await server.Client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.True(await Task.WhenAny(posted, Task.Delay(TimeSpan.FromSeconds(20))) == posted, $"no OTLP export within 20 s\n{server.Describe()}");
        HttpListenerContext export = await posted;
        Assert.Equal("POST", export.Request.HttpMethod);
        Assert.Equal("/v1/metrics", export.Request.Url!.AbsolutePath);
        Assert.Equal("application/x-protobuf", export.Request.ContentType);
        export.Response.StatusCode = 200;
        export.Response.Close();
        // No scrape listener was asked for.
        Assert.DoesNotContain("Metrics on", server.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Off_ByDefault_AndNeverOnTheAppsPort()
    {
        int port = KwsgiProcess.FreePort();
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            ["--host", "127.0.0.1", "--port", port.ToString(CultureInfo.InvariantCulture), "--chdir", TestPaths.AppsDir, "--metrics-listen", $"127.0.0.1:{port}", "hello:app"],
            TimeSpan.FromSeconds(30));
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("kwsgi: --metrics-listen", exit.Stderr, StringComparison.Ordinal);
        Assert.Contains("app's port", exit.Stderr, StringComparison.Ordinal);

        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1");
        Assert.DoesNotContain("Metrics on", server.Stdout, StringComparison.Ordinal);
        using HttpResponseMessage response = await server.Client.GetAsync("/metrics");
        Assert.Equal("Hello, World!", await response.Content.ReadAsStringAsync());
    }
}

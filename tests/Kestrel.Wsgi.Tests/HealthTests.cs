using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Kestrel.Wsgi.Front;
using Kestrel.Wsgi.Tests.Infrastructure;
using YamlDotNet.RepresentationModel;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// <c>--health-path</c> (issue 12 part 5): answered by the front without Python from the pool's state, used by the
/// container images' HEALTHCHECK and by deploy/kubernetes/kwsgi.yaml's probes.
/// </summary>
public sealed class HealthTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task HealthPath_IsAnsweredByTheFront_WhileTheOnlyWorkerThreadIsBusy()
    {
        int http = KwsgiProcess.FreePort(), h2c = KwsgiProcess.FreePort();
        await using var server = await KwsgiProcess.StartAndWaitAsync(["--chdir", TestPaths.AppsDir, "--workers", "1", "--threads", "1",
            "--listen", $"127.0.0.1:{http}", "--listen", $"h2c://127.0.0.1:{h2c}", "--health-path", "/healthz", "--url-prefix", "/app", "protocols:app"], null, http);
        Assert.Contains("kwsgi: Health at /healthz", server.Stdout);

        using HttpResponseMessage ready = await server.Client.GetAsync("/healthz?verbose=1");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("ready: 1 of 1 workers\n", await ready.Content.ReadAsStringAsync());
        Assert.Equal("no-store", ready.Headers.CacheControl?.ToString());

        // The app is below --url-prefix; the health path is the server's, outside it.
        Assert.Equal("/app", (await Json.ReadAsync(await server.Client.GetAsync("/app/x"))).Str("SCRIPT_NAME"));

        // Python's only thread sleeps: the health answer does not wait for it.
        Task<string> busy = server.Client.GetStringAsync("/app/slow?s=3");
        await Task.Delay(500);
        var clock = Stopwatch.StartNew();
        using HttpResponseMessage whileBusy = await server.Client.GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, whileBusy.StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1.5), $"the health answer took {clock.Elapsed}");
        Assert.False(busy.IsCompleted);

        using var head = new HttpRequestMessage(HttpMethod.Head, "/healthz");
        using HttpResponseMessage headAnswer = await server.Client.SendAsync(head);
        Assert.Equal(HttpStatusCode.OK, headAnswer.StatusCode);
        Assert.Empty(await headAnswer.Content.ReadAsByteArrayAsync());

        using HttpResponseMessage post = await server.Client.PostAsync("/healthz", new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal("GET, HEAD", string.Join(", ", post.Content.Headers.Allow));

        ToolRun curl = await ExternalTool.RunAsync("curl", ["-sS", "--http2-prior-knowledge", $"http://127.0.0.1:{h2c}/healthz"]);
        Assert.Equal("ready: 1 of 1 workers\n", curl.Stdout);
        Assert.Equal("slept", await busy);
    }

    [Fact]
    public async Task WorkerDies_HealthIs503_UntilItsReplacementHasLoadedTheApp()
    {
        int port = KwsgiProcess.FreePort();
        await using var server = await KwsgiProcess.StartAndWaitAsync(["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir,
            "--workers", "2", "--ready-when", "all", "--health-path", "/-/health", "slowimport:app"], new Dictionary<string, string?> { ["IMPORT_SECONDS"] = "2" }, port);
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/-/health")).StatusCode);
        List<int> workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));

        ProcInfo.Signal(workers[0], ProcInfo.SIGKILL);
        string? degraded = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (degraded is null && DateTime.UtcNow < deadline)
        {
            using HttpResponseMessage answer = await server.Client.GetAsync("/-/health");
            if (answer.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                degraded = await answer.Content.ReadAsStringAsync();
            }
            await Task.Delay(50);
        }
        Assert.Equal("degraded: 1 of 2 workers ready\n", degraded);
        // The app is still served by the other worker meanwhile.
        Assert.Equal("imported", await server.Client.GetStringAsync("/"));

        HttpStatusCode status = HttpStatusCode.ServiceUnavailable;
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            status = (await server.Client.GetAsync("/-/health")).StatusCode;
        }
        Assert.True(status == HttpStatusCode.OK, $"health never came back after the respawn\n{server.Describe()}");
    }

    [Theory]
    [InlineData(0, 2, false, 503, "starting: 0 of 2 workers ready\n")]
    [InlineData(1, 2, false, 503, "degraded: 1 of 2 workers ready\n")]
    [InlineData(2, 2, false, 200, "ready: 2 of 2 workers\n")]
    [InlineData(2, 2, true, 503, "draining: kwsgi is stopping\n")]
    public void HealthState_FollowsThePoolAndShutdown(int ready, int size, bool draining, int status, string body)
    {
        Assert.Equal((status, body), HealthEndpoint.State(ready, size, draining));
    }

    [Theory]
    [InlineData("healthz")]
    [InlineData("/healthz?x=1")]
    public async Task BadHealthPath_ExitsWithCode2_AndOneLine(string path)
    {
        var exit = await KwsgiProcess.RunToExitAsync(["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir,
            "--health-path", path, "hello:app"], ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains("--health-path", exit.Stderr);
    }

    [Fact]
    public async Task LinuxImageHealthCheck_AsksTheHealthPath_AndFailsWhenNothingAnswers()
    {
        string dockerfile = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docker", "linux", "Dockerfile"));
        Assert.Contains("KWSGI_HEALTH_PATH=/healthz", dockerfile);
        string healthCheck = dockerfile[dockerfile.IndexOf("HEALTHCHECK", StringComparison.Ordinal)..];
        string[] command = JsonSerializer.Deserialize<string[]>(healthCheck[healthCheck.IndexOf('[')..(healthCheck.LastIndexOf(']') + 1)])!;
        Assert.Equal("python3", command[0]);

        int port = KwsgiProcess.FreePort();
        var environment = new Dictionary<string, string?> { ["KWSGI_PORT"] = port.ToString(), ["KWSGI_HEALTH_PATH"] = "/healthz" };
        await using (var server = await KwsgiProcess.StartAndWaitAsync(["--host", "127.0.0.1", "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"], environment, port))
        {
            Assert.Contains("kwsgi: Health at /healthz", server.Stdout); // from KWSGI_HEALTH_PATH, as in the image
            ToolRun healthy = await ExternalTool.RunAsync(command[0], command[1..], environment: environment);
            Assert.True(healthy.ExitCode == 0, healthy.ToString());
        }
        ToolRun down = await ExternalTool.RunAsync(command[0], command[1..], environment: environment);
        Assert.Equal(1, down.ExitCode);
    }

    [Fact]
    public async Task KubernetesExample_ProbesTheHealthPath_NamesOnlyRealOptions_AndOutlastsTheDrain()
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(Path.Combine(TestPaths.RepoRoot, "deploy", "kubernetes", "kwsgi.yaml")))
        {
            stream.Load(reader);
        }
        var documents = stream.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
        YamlMappingNode deployment = documents.Single(d => Scalar(d, "kind") == "Deployment");
        YamlMappingNode service = documents.Single(d => Scalar(d, "kind") == "Service");

        YamlMappingNode pod = Map(Map(Map(deployment, "spec"), "template"), "spec");
        YamlMappingNode container = (YamlMappingNode)((YamlSequenceNode)pod["containers"]).Children.Single();
        string[] args = ((YamlSequenceNode)container["args"]).Children.Select(a => ((YamlScalarNode)a).Value!).ToArray();
        Dictionary<string, string> options = args.Where(a => a.StartsWith("--", StringComparison.Ordinal))
            .Select(a => a.Split('=', 2)).ToDictionary(p => p[0], p => p.Length > 1 ? p[1] : "");

        // Every option the example names is one kwsgi has.
        ToolRun help = await ExternalTool.RunAsync(TestPaths.Apphost ?? "dotnet", TestPaths.Apphost is null ? [TestPaths.KwsgiDll, "--help"] : ["--help"]);
        foreach (string option in options.Keys)
        {
            Assert.Matches($@"(?m)^\s+(\S+, )*{System.Text.RegularExpressions.Regex.Escape(option)}\b", help.Stdout);
        }

        // Readiness and liveness (and start-up) ask the health path, on the container's port.
        string healthPath = options["--health-path"];
        string portName = Scalar((YamlMappingNode)((YamlSequenceNode)container["ports"]).Children.Single(), "name");
        int containerPort = int.Parse(Scalar((YamlMappingNode)((YamlSequenceNode)container["ports"]).Children.Single(), "containerPort"));
        Assert.EndsWith($":{containerPort}", options["--listen"]);
        foreach (string probe in new[] { "readinessProbe", "livenessProbe", "startupProbe" })
        {
            YamlMappingNode httpGet = Map(Map(container, probe), "httpGet");
            Assert.Equal(healthPath, Scalar(httpGet, "path"));
            Assert.Equal(portName, Scalar(httpGet, "port"));
        }
        Assert.Equal(portName, Scalar((YamlMappingNode)((YamlSequenceNode)Map(service, "spec")["ports"]).Children.Single(), "targetPort"));

        // SIGKILL comes terminationGracePeriodSeconds after preStop starts: it must cover preStop, the drain and the workers' exit.
        var preStop = (YamlSequenceNode)Map(Map(Map(container, "lifecycle"), "preStop"), "exec")["command"];
        Assert.Equal("sleep", ((YamlScalarNode)preStop.Children[0]).Value);
        double sleep = double.Parse(((YamlScalarNode)preStop.Children[1]).Value!);
        double graceful = double.Parse(options["--graceful-timeout"]);
        double grace = double.Parse(Scalar(pod, "terminationGracePeriodSeconds"));
        Assert.True(grace >= sleep + graceful + 5, $"terminationGracePeriodSeconds {grace} < preStop {sleep} + --graceful-timeout {graceful} + 5");
        Assert.True(grace <= sleep + graceful + 30, $"terminationGracePeriodSeconds {grace} is far longer than the drain needs");

        // The selector picks the pods the Deployment makes.
        Assert.Equal(Scalar(Map(Map(Map(Map(deployment, "spec"), "template"), "metadata"), "labels"), "app.kubernetes.io/name"),
            Scalar(Map(Map(service, "spec"), "selector"), "app.kubernetes.io/name"));
    }

    private static YamlMappingNode Map(YamlMappingNode node, string key) => (YamlMappingNode)node[key];

    private static string Scalar(YamlMappingNode node, string key) => ((YamlScalarNode)node[key]).Value!;
}

using System.Diagnostics;
using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--ready-when: the port is bound once the first worker has loaded the app (one), or every worker (all).</summary>
public sealed class ReadyWhenTests
{
    private const int SlowImportSeconds = 8;

    private static (List<string> Args, Dictionary<string, string?> Environment, string Marker) Slowstart(string readyWhen)
    {
        string marker = Path.Combine(Path.GetTempPath(), $"kwsgi-ready-{Guid.NewGuid():N}");
        int port = KwsgiProcess.FreePort();
        var args = new List<string> { "--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "3", "--threads", "1" };
        if (readyWhen.Length > 0)
        {
            args.AddRange(["--ready-when", readyWhen]);
        }
        args.Add("slowstart:app");
        var environment = new Dictionary<string, string?>
        {
            ["KWSGI_TEST_MARKER"] = marker,
            ["KWSGI_TEST_SLOW_IMPORT"] = SlowImportSeconds.ToString(),
        };
        return (args, environment, marker);
    }

    private static int ReadyLines(KwsgiProcess server) => server.Stdout.Split(" ready (").Length - 1;

    [Theory]
    [InlineData("one")]
    [InlineData("")]
    public async Task One_ThePortAnswers_BeforeTheOtherWorkersAreReady_ThenTheyJoin(string readyWhen)
    {
        var (args, environment, marker) = Slowstart(readyWhen);
        try
        {
            var clock = Stopwatch.StartNew();
            await using var server = await KwsgiProcess.StartAndWaitAsync(args, environment, null);
            using (HttpResponseMessage response = await server.Client.GetAsync("/"))
            {
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(SlowImportSeconds - 1), $"answered only after {clock.Elapsed}\n{server.Describe()}");
            Assert.True(ReadyLines(server) == 1, $"expected one ready worker when the port answered\n{server.Describe()}");

            // The slow ones join the pool as they become ready.
            bool joined = await ProcInfo.WaitUntilAsync(() => ReadyLines(server) == 3, TimeSpan.FromSeconds(SlowImportSeconds + 20), 100);
            Assert.True(joined, server.Describe());
            var pids = new HashSet<string>();
            using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(30));
            // Three requests at once, each holding its worker's only thread: all three workers answer.
            for (int round = 0; round < 5 && pids.Count < 3; round++)
            {
                string[] answers = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.GetStringAsync("/")));
                pids.UnionWith(answers);
            }
            Assert.True(pids.Count == 3, $"answers came from {pids.Count} workers\n{server.Describe()}");
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Theory]
    [InlineData("all", false)]
    [InlineData("", true)] // under IIS's HttpPlatformHandler the default is all
    public async Task All_ThePortIsBound_OnlyOnceEveryWorkerIsReady(string readyWhen, bool underHttpPlatformHandler)
    {
        var (args, environment, marker) = Slowstart(readyWhen);
        if (underHttpPlatformHandler)
        {
            environment["HTTP_PLATFORM_PORT"] = args[args.IndexOf("--port") + 1];
        }
        try
        {
            var clock = Stopwatch.StartNew();
            await using var server = await KwsgiProcess.StartAndWaitAsync(args, environment, null);
            Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(SlowImportSeconds - 1), $"listening after {clock.Elapsed}\n{server.Describe()}");
            Assert.True(ReadyLines(server) == 3, server.Describe());
            using HttpResponseMessage response = await server.Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            File.Delete(marker);
        }
    }

    [Fact]
    public async Task UnknownValue_IsAUsageError()
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(["--ready-when", "some", "hello:app"], TimeSpan.FromSeconds(30));
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("--ready-when some must be one or all", exit.Stderr);
    }
}

using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// ASGI lifespan (startup before a worker is ready, shutdown on a graceful stop and on a recycle), interface
/// detection and the ASGI options: each bad value or app is one "kwsgi: …" line and exit 2.
/// </summary>
public sealed class AsgiLifespanTests : IDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"kwsgi-lifespan-{Guid.NewGuid():N}.log");

    public void Dispose() => File.Delete(_log);

    private Dictionary<string, string?> LogEnvironment => new() { ["KWSGI_TEST_LIFESPAN_LOG"] = _log };

    private static string[] Args(params string[] rest) =>
        ["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--python", "/usr/bin/python3", .. rest];

    private string[] LogLines() => File.Exists(_log) ? File.ReadAllLines(_log) : [];

    [Fact]
    public async Task StartupFailed_ExitsWith2_AndTheAppsMessageOnce()
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(Args("--workers", "2", "asgi_lifespan_fails:app"), ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains("kwsgi: the app's lifespan startup failed: the database at db:5432 refused the connection", exit.Stderr);
        Assert.DoesNotContain("Listening on", exit.Stdout);
    }

    [Fact]
    public async Task Startup_RunsBeforeTheWorkerIsReady_AndShutdown_OnSigterm()
    {
        var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "asgi_raw:app"), LogEnvironment, null);
        int pid;
        await using (server)
        {
            pid = server.WorkerPids().Single();
            // Ready means startup has run: the line is there before the first request.
            Assert.Equal([$"startup {pid}"], LogLines());
            Assert.Equal("{\"opened\": \"yes\", \"pid\": " + pid + "}", await server.Client.GetStringAsync("/state"));
            Assert.True(server.SendSignal(ProcInfo.SIGTERM));
            Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(20)), server.Describe());
            Assert.Equal(0, server.ExitCode);
        }
        Assert.Equal([$"startup {pid}", $"shutdown {pid}"], LogLines());
    }

    [Fact]
    public async Task RecycledWorker_RunsShutdown_AndItsSuccessorStartup()
    {
        await using var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "--max-requests", "3", "asgi_raw:app"), LogEnvironment, null);
        int first = server.WorkerPids().Single();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/state")).StatusCode);
        }
        Assert.True(await ProcInfo.WaitUntilAsync(() => LogLines().Contains($"shutdown {first}"), TimeSpan.FromSeconds(20)), string.Join("\n", LogLines()) + server.Describe());
        string[] lines = LogLines();
        Assert.Equal($"startup {first}", lines[0]);
        Assert.Contains(lines, line => line.StartsWith("startup ", StringComparison.Ordinal) && line != $"startup {first}");
    }

    [Fact]
    public async Task LifespanAuto_AppRaisingOnTheLifespanScope_ServesWithoutIt()
    {
        await using var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "asgi_no_lifespan:app"), null, null);
        Assert.Equal("no lifespan here", await server.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task LifespanOn_AppRaisingOnTheLifespanScope_ExitsWith2()
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(Args("--workers", "1", "--lifespan", "on", "asgi_no_lifespan:app"), ExitTimeout);
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("kwsgi: the app's lifespan startup raised ValueError: only http scopes, not lifespan", exit.Stderr);
    }

    [Fact]
    public async Task LifespanOff_NeverCallsTheAppWithTheLifespanScope()
    {
        await using var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "--lifespan", "off", "asgi_raw:app"), LogEnvironment, null);
        Assert.Equal("{}", await server.Client.GetStringAsync("/state"));
        Assert.Empty(LogLines());
    }

    [Theory]
    [InlineData("an ASGI 2 class", "--interface asgi asgi2:app", "ASGI 2")]
    [InlineData("a WSGI app as ASGI", "--interface asgi hello:app", "is not an ASGI 3 app")]
    [InlineData("an unknown interface", "--interface rsgi asgi_hello:app", "--interface rsgi must be auto, wsgi or asgi")]
    [InlineData("an unknown lifespan mode", "--lifespan maybe asgi_hello:app", "--lifespan maybe must be auto, on or off")]
    [InlineData("an unknown loop", "--loop trio asgi_hello:app", "--loop trio must be auto, asyncio or uvloop")]
    [InlineData("no concurrency", "--max-concurrency 0 asgi_hello:app", "--max-concurrency 0")]
    public async Task BadAsgiInput_ExitsWith2_AndOneLine(string what, string args, string mentioned)
    {
        _ = what;
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(Args(["--workers", "1", .. args.Split(' ')]), ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains(mentioned, exit.Stderr);
    }

    [Fact]
    public async Task KwsgiInterfaceVariable_ForcesAsgi()
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(Args("--workers", "1", "hello:app"), ExitTimeout,
            new Dictionary<string, string?> { ["KWSGI_INTERFACE"] = "asgi" });
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains("is not an ASGI 3 app", exit.Stderr);
    }

    [Fact]
    public async Task LoopUvloop_WhereThePythonLacksIt_ExitsWith2()
    {
        // python3 on PATH (pyenv) has no uvloop; Debian's has it.
        string[] args = ["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "--loop", "uvloop", "asgi_hello:app"];
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(args, ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains("--loop uvloop: uvloop is not installed for", exit.Stderr);
    }

    [Fact]
    public async Task LoopAsyncio_Serves()
    {
        await using var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "--loop", "asyncio", "asgi_hello:app"), null, null);
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));
    }

    [Theory]
    [InlineData("pipe")]
    [InlineData("shm")]
    public async Task AsgiApp_OnAChannelOtherThanTheSocket_IsRefusedInOneLine(string transport)
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(Args("--workers", "1", "asgi_hello:app"), ExitTimeout,
            new Dictionary<string, string?> { ["KWSGI_CHANNEL"] = transport });
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains($"KWSGI_CHANNEL={transport} carries WSGI apps only", exit.Stderr);
    }

    [Fact]
    public async Task MaxConcurrency_CapsRequestsInFlightOnAWorker()
    {
        await using var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "--max-concurrency", "2", "asgi_raw:app"), null, null);
        int[] peaks = await SlowPeaksAsync(server, 6);
        Assert.Equal(2, peaks.Max());
    }

    [Fact]
    public async Task WithoutMaxConcurrency_AnAsgiWorkerIsNotCappedAtItsThreadsAndPipeline()
    {
        // A WSGI worker with --threads 1 --pipeline 0 holds one request; an ASGI worker takes them all at once.
        await using var server = await KwsgiProcess.StartAndWaitAsync(Args("--workers", "1", "--threads", "1", "--pipeline", "0", "asgi_raw:app"), null, null);
        int[] peaks = await SlowPeaksAsync(server, 12);
        Assert.Equal(12, peaks.Max());
    }

    private static async Task<int[]> SlowPeaksAsync(KwsgiProcess server, int count)
    {
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(30));
        // Each sleeps long enough that all of them are in flight together even on a busy machine.
        HttpResponseMessage[] responses = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => client.GetAsync("/slow?ms=1500")));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        return responses.Select(r => int.Parse(r.Headers.GetValues("x-peak").Single())).ToArray();
    }
}

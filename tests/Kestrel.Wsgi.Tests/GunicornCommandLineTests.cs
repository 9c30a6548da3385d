using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;
using Kestrel.Wsgi.Tests.Windows;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// gunicorn's options, end to end: a gunicorn command line with kwsgi in front serves, the options whose effect shows
/// do what they do in gunicorn, and the ones kwsgi refuses say so in one line (docs/migrating.md).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // Unix sockets and file modes, curl
public sealed class GunicornCommandLineTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task T_IsTheTimeout_A504()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("slow:app", "-w", "1", "-t", "1");
        HttpResponseMessage response = await server.Client.GetAsync("/?s=5");
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
    }

    [Fact]
    public async Task BindUnix_PidAndUmask_AsGunicorn()
    {
        using var temp = new PrivateTemp();
        string socket = Path.Combine(temp.Folder, "app.sock");
        string pidFile = Path.Combine(temp.Folder, "app.pid");
        await using KwsgiProcess server = await WaitressCommandLineTests.StartWithoutPortAsync("--bind", $"unix:{socket}", "--pid", pidFile, "--umask", "077", "hello:app");
        Assert.EndsWith("Hello, World!", (await WaitressCommandLineTests.CurlUnixAsync(socket)).Stdout);
        Assert.Equal($"{server.Pid}\n", File.ReadAllText(pidFile));
        // Written under the umask: 0666 & ~077.
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(pidFile));
        server.SendSignal(ProcInfo.SIGTERM);
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(20)), server.Describe());
        Assert.Equal(0, server.ExitCode);
        Assert.False(File.Exists(pidFile), "the pid file outlived the server");
    }

    [Fact]
    public async Task Env_And_Pythonpath_ReachTheWorkers()
    {
        using var temp = new PrivateTemp();
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("osenv:app", "-w", "1", "-e", "KWSGI_TEST_GREETING=hello there", "--env", "KWSGI_TEST_EMPTY=",
            "--pythonpath", temp.Folder);
        var answer = Json.Parse(await server.Client.GetStringAsync("/"));
        Assert.Equal("hello there", answer.GetProperty("environ").Str("KWSGI_TEST_GREETING"));
        Assert.Equal("", answer.GetProperty("environ").Str("KWSGI_TEST_EMPTY"));
        Assert.Contains(temp.Folder, answer.GetProperty("path").EnumerateArray().Select(p => p.GetString()));
    }

    [Theory]
    [InlineData("--daemon", "run kwsgi in the foreground")]
    [InlineData("-D", "run kwsgi in the foreground")]
    [InlineData("--user nobody", "start kwsgi as that user")]
    [InlineData("-g nogroup", "start kwsgi with that group")]
    [InlineData("--paste development.ini", "module:attr")]
    [InlineData("--proxy-protocol", "PROXY protocol")]
    [InlineData("-c gunicorn.conf.py", "kwsgi.toml")]
    [InlineData("-b fd://3", "inherited socket")]
    [InlineData("-p app.pid", "gunicorn's -p FILE is --pid FILE here")]
    public async Task Refused_OneLineAndExit2(string option, string said)
    {
        string[] port = option.StartsWith("-p ", StringComparison.Ordinal) ? [] : ["--port", KwsgiProcess.FreePort().ToString()];
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            [.. option.Split(' '), "--host", "127.0.0.1", .. port, "--chdir", TestPaths.AppsDir, "hello:app"], ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains(said, exit.Stderr);
        Assert.DoesNotContain("Listening", exit.Stdout);
    }

    [Fact]
    public async Task TypicalGunicornCommandLine_RunsUnchanged_WarningOnceForTheWorkerClass()
    {
        int port = KwsgiProcess.FreePort();
        await using KwsgiProcess server = await KwsgiProcess.StartAndWaitAsync(
            ["--chdir", TestPaths.AppsDir, "-b", $"127.0.0.1:{port}", "-w", "1", "-k", "gthread", "--threads", "2", "-t", "60", "--graceful-timeout", "5",
             "--keep-alive", "5", "--max-requests", "1000", "--max-requests-jitter", "50", "--access-logfile", "-", "--error-logfile", "-",
             "--access-logformat", "%(h)s %(r)s %(s)s", "--forwarded-allow-ips", "127.0.0.1,::1", "--limit-request-field_size", "8190", "envecho:app"],
            null, port);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/hello");
        request.Headers.Add("X-Forwarded-For", "203.0.113.9");
        request.Headers.Add("X-Forwarded-Proto", "https");
        var environ = Json.Parse(await (await server.Client.SendAsync(request)).Content.ReadAsStringAsync());
        Assert.Equal("203.0.113.9", environ.Str("REMOTE_ADDR"));
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
        Assert.True(await server.WaitForOutputAsync("203.0.113.9 GET /hello HTTP/1.1 200", TimeSpan.FromSeconds(10)), server.Describe());
        string warning = Assert.Single(server.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Equal("kwsgi: warning: --worker-class gthread has no effect here (each worker runs --threads requests on its own Python threads)", warning);
    }

    [Fact]
    public async Task CheckConfig_ExitsWithoutStarting_0WhenGood_2WhenNot()
    {
        KwsgiExit good = await KwsgiProcess.RunToExitAsync(["--check-config", "-w", "2", "--chdir", TestPaths.AppsDir, "hello:app"], ExitTimeout);
        Assert.True(good.ExitCode == 0, good.ToString());
        Assert.Equal("", good.Stdout + good.Stderr);
        KwsgiExit bad = await KwsgiProcess.RunToExitAsync(["--check-config", "-w", "0", "hello:app"], ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(bad);
        Assert.Contains("--workers 0", bad.Stderr);
    }
}

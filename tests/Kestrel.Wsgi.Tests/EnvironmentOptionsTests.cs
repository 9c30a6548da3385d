using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// Every option can come from a KWSGI_* variable (KWSGI_WORKERS is --workers, KWSGI_APP the app): what IIS's
/// &lt;environmentVariables&gt; and a container's -e can set. The command line wins.
/// </summary>
public sealed class EnvironmentOptionsTests
{
    [Fact]
    public async Task AppPortAndOptions_FromTheEnvironment_Serve()
    {
        int port = KwsgiProcess.FreePort();
        var env = new Dictionary<string, string?>
        {
            ["KWSGI_APP"] = "hello:app",
            ["KWSGI_HOST"] = "127.0.0.1",
            ["KWSGI_PORT"] = port.ToString(),
            ["KWSGI_CHDIR"] = TestPaths.AppsDir,
            ["KWSGI_WORKERS"] = "1",
            ["KWSGI_THREADS"] = "3",
        };
        await using var server = await KwsgiProcess.StartAndWaitAsync([], env, expectedPort: port);
        Assert.Contains("(1 workers x 3 threads, hello:app", server.Stdout);
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task CommandLine_WinsOverTheEnvironment()
    {
        int port = KwsgiProcess.FreePort();
        var env = new Dictionary<string, string?> { ["KWSGI_WORKERS"] = "1", ["KWSGI_THREADS"] = "3", ["KWSGI_APP"] = "nosuchmodule:app" };
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "-w", "2", "--threads=2", "hello:app"], env, expectedPort: port);
        Assert.Contains("(2 workers x 2 threads, hello:app", server.Stdout);
    }

    [Fact]
    public async Task RepeatableOption_TakesSemicolonSeparatedValues()
    {
        using var a = new Windows.PrivateTemp();
        using var b = new Windows.PrivateTemp();
        File.WriteAllText(Path.Combine(a.Folder, "one.txt"), "one");
        File.WriteAllText(Path.Combine(b.Folder, "two.txt"), "two");
        int port = KwsgiProcess.FreePort();
        var env = new Dictionary<string, string?> { ["KWSGI_STATIC"] = $"/a={a.Folder}; /b={b.Folder}" };
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"], env, expectedPort: port);
        Assert.Equal("one", await server.Client.GetStringAsync("/a/one.txt"));
        Assert.Equal("two", await server.Client.GetStringAsync("/b/two.txt"));
        Assert.Equal(HttpStatusCode.NotFound, (await server.Client.GetAsync("/a/two.txt")).StatusCode);
    }

    [Fact]
    public async Task WfastcgiHandlerVariable_NamesTheAppWhenNothingElseDoes()
    {
        // A wfastcgi site's appSettings arrive as environment variables; WSGI_HANDLER uses the dotted form.
        int port = KwsgiProcess.FreePort();
        // wfpkg.web is not a module: as wfastcgi does, kwsgi moves "web" into the attribute chain and retries.
        var env = new Dictionary<string, string?> { ["WSGI_HANDLER"] = "wfpkg.web.wsgi_app" };
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1"], env, expectedPort: port);
        Assert.Contains("wfpkg.web.wsgi_app, Python", server.Stdout);
        Assert.Equal("wfpkg.web.wsgi_app", await server.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task BadValueInTheEnvironment_IsOneLineAndExitCode2()
    {
        var env = new Dictionary<string, string?> { ["KWSGI_WORKERS"] = "many" };
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            ["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "hello:app"], TimeSpan.FromSeconds(60), env);
        Assert.True(exit.ExitCode == 2, exit.ToString());
        string line = Assert.Single(exit.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("kwsgi: ", line);
        Assert.Contains("many", line);
    }
}

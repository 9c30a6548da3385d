using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--python picks the interpreter the workers embed.</summary>
public sealed class PythonSelectionTests
{
    [Fact]
    public async Task SystemPython_ServesHello()
    {
        Assert.True(File.Exists("/usr/bin/python3"), "this test needs Debian's /usr/bin/python3");
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--python", "/usr/bin/python3", "--workers", "1");
        using var resp = await server.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("Hello, World!", await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task SystemPython_IsTheInterpreterTheWorkerEmbeds()
    {
        await using var server = await KwsgiProcess.StartAsync("pyinfo:app", "--python", "/usr/bin/python3", "--workers", "1");
        using var resp = await server.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        var info = await Json.ReadAsync(resp);
        Assert.Equal("/usr", info.GetProperty("base_prefix").GetString());
        var workers = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(5));
        Assert.Contains(info.GetProperty("pid").GetInt32(), workers);
    }
}

/// <summary>IIS HttpPlatformHandler passes the port in HTTP_PLATFORM_PORT.</summary>
public sealed class HttpPlatformPortTests
{
    [Fact]
    public async Task NoPortOption_ListensOnHttpPlatformPort()
    {
        int port = KwsgiProcess.FreePort();
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"],
            new Dictionary<string, string?> { ["HTTP_PLATFORM_PORT"] = port.ToString() },
            expectedPort: port);
        Assert.Equal(port, server.Port);
        using var resp = await server.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("Hello, World!", await resp.Content.ReadAsStringAsync());
    }
}

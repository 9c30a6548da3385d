using System.Net;
using System.Net.Sockets;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;
using Kestrel.Wsgi.Tests.Windows;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// waitress-serve's options, end to end: a waitress command line with kwsgi in front serves, and the options whose
/// effect shows on the wire do what they do in waitress (docs/migrating.md).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // Unix sockets and file modes, curl
public sealed class WaitressCommandLineTests
{
    private static readonly TimeSpan Ready = TimeSpan.FromSeconds(30);

    /// <summary>Starts kwsgi listening only where <paramref name="args"/> say (a Unix socket), waiting for its "Listening on" line.</summary>
    internal static async Task<KwsgiProcess> StartWithoutPortAsync(params string[] args)
    {
        KwsgiProcess server = KwsgiProcess.Launch(["--chdir", TestPaths.AppsDir, "-w", "1", .. args]);
        if (!await server.WaitForOutputAsync("kwsgi: Listening on", Ready))
        {
            string described = server.Describe();
            await server.DisposeAsync();
            throw new TimeoutException($"kwsgi did not start.\n{described}");
        }
        return server;
    }

    internal static Task<ToolRun> CurlUnixAsync(string socket, string path = "/") =>
        ExternalTool.RunAsync("curl", ["-sS", "-i", "--max-time", "20", "--unix-socket", socket, $"http://localhost{path}"]);

    [Fact]
    public async Task UnixSocket_ServesCurl_WithItsPerms_ReplacingAStaleSocketFile()
    {
        using var temp = new PrivateTemp();
        string socket = Path.Combine(temp.Folder, "app.sock");
        // What a server that was killed leaves: a socket file nobody listens on (.NET would remove its own on dispose).
        await ExternalTool.RunAsync("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", socket]);
        Assert.True(File.Exists(socket));
        await using KwsgiProcess server = await StartWithoutPortAsync("--unix-socket", socket, "--unix-socket-perms", "660", "hello:app");
        Assert.Contains($"Listening on http://unix:{socket}", server.Stdout);
        ToolRun curl = await CurlUnixAsync(socket);
        Assert.True(curl.ExitCode == 0, curl.ToString());
        Assert.StartsWith("HTTP/1.1 200", curl.Stdout);
        Assert.EndsWith("Hello, World!", curl.Stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(socket));
    }

    [Fact]
    public async Task UnixSocket_DefaultPerms_AreOwnerOnly_AndALiveSocketIsNotTaken()
    {
        using var temp = new PrivateTemp();
        string socket = Path.Combine(temp.Folder, "app.sock");
        await using KwsgiProcess server = await StartWithoutPortAsync("--unix-socket", socket, "hello:app");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(socket));
        // A second server on the same path must not remove the first one's socket.
        KwsgiExit second = await KwsgiProcess.RunToExitAsync(["--chdir", TestPaths.AppsDir, "-w", "1", "--unix-socket", socket, "hello:app"], Ready);
        BadCommandLineTests.AssertCleanFailure(second);
        Assert.Contains("already in use", second.Stderr);
        Assert.EndsWith("Hello, World!", (await CurlUnixAsync(socket)).Stdout);
    }

    [Fact]
    public async Task Ident_IsTheServerHeader_AndTheAppsOwnServerHeaderWins()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("osenv:app", "-w", "1", "--ident", "myapp");
        HttpResponseMessage plain = await server.Client.GetAsync("/");
        Assert.Equal("myapp", Assert.Single(plain.Headers.GetValues("Server")));
        HttpResponseMessage own = await server.Client.GetAsync("/?server=custom");
        Assert.Equal("custom", Assert.Single(own.Headers.GetValues("Server")));
    }

    [Fact]
    public async Task WithoutIdent_NoServerHeader()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("hello:app", "-w", "1");
        HttpResponseMessage response = await server.Client.GetAsync("/");
        Assert.False(response.Headers.Contains("Server"), string.Join(", ", response.Headers.Select(h => h.Key)));
    }

    [Fact]
    public async Task UrlScheme_SetsWsgiUrlScheme_AndHttps_OnEveryRequest()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("envecho:app", "-w", "1", "--url-scheme", "https");
        var environ = Json.Parse(await server.Client.GetStringAsync("/"));
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
        Assert.Equal("on", environ.Str("HTTPS"));
    }

    [Fact]
    public async Task ClearUntrustedProxyHeaders_RemovesThemFromTheEnviron()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("envecho:app", "-w", "1", "--clear-untrusted-proxy-headers");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Add("X-Forwarded-For", "1.2.3.4");
        request.Headers.Add("X-Forwarded-Proto", "https");
        request.Headers.Add("X-Other", "kept");
        var environ = Json.Parse(await (await server.Client.SendAsync(request)).Content.ReadAsStringAsync());
        Assert.False(environ.Has("HTTP_X_FORWARDED_FOR"));
        Assert.False(environ.Has("HTTP_X_FORWARDED_PROTO"));
        Assert.Equal("kept", environ.Str("HTTP_X_OTHER"));
        Assert.Equal("127.0.0.1", environ.Str("REMOTE_ADDR"));
    }

    [Fact]
    public async Task ConnectionLimit_ClosesTheConnectionPastIt_AndTakesOneAgainOnceOneCloses()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("hello:app", "-w", "1", "--connection-limit", "1");
        using (TcpClient first = await ConnectedAsync(server.Port))
        {
            Assert.StartsWith("HTTP/1.1 200", await AskAsync(first));
            using TcpClient second = await ConnectedAsync(server.Port);
            Assert.Equal("", await AskAsync(second));
        }
        // The first connection is gone: the limit has room again (Kestrel counts it down when it sees the close).
        string answer = "";
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10); DateTime.UtcNow < deadline && !answer.StartsWith("HTTP/1.1 200", StringComparison.Ordinal);)
        {
            await Task.Delay(200);
            using TcpClient again = await ConnectedAsync(server.Port);
            answer = await AskAsync(again);
        }
        Assert.StartsWith("HTTP/1.1 200", answer);
    }

    private static async Task<TcpClient> ConnectedAsync(int port)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        return client;
    }

    /// <summary>The answer's first bytes, or "" when the server closes the connection without one.</summary>
    private static async Task<string> AskAsync(TcpClient client)
    {
        NetworkStream stream = client.GetStream();
        byte[] buffer = new byte[4096];
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            int read = await stream.ReadAsync(buffer, timeout.Token);
            return Encoding.ASCII.GetString(buffer, 0, read);
        }
        catch (IOException)
        {
            return "";
        }
    }

    [Fact]
    public async Task TypicalWaitressCommandLine_RunsUnchanged_WarningOnceForWhatHasNoEffect()
    {
        int port = KwsgiProcess.FreePort();
        await using KwsgiProcess server = await KwsgiProcess.StartAndWaitAsync(
            ["--chdir", TestPaths.AppsDir, "-w", "1", $"--listen=127.0.0.1:{port}", "--threads=2", "--url-prefix=/app", "--ident=myapp",
             "--channel-timeout=60", "--recv-bytes=16384", "--connection-limit=100", "--backlog=256", "--max-request-body-size=1048576", "envecho:app"],
            null, port);
        var environ = Json.Parse(await server.Client.GetStringAsync("/app/x"));
        Assert.Equal("/app", environ.Str("SCRIPT_NAME"));
        Assert.Equal("/x", environ.Str("PATH_INFO"));
        Assert.True(environ.Bool("wsgi.multithread"));
        string warning = Assert.Single(server.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Equal("kwsgi: warning: --recv-bytes has no effect here (Kestrel sizes its own buffers)", warning);
    }
}

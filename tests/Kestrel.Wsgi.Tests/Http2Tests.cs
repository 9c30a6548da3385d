using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>One kwsgi for the HTTP/2 tests: an HTTPS listener (HTTP/2 by ALPN), an h2c listener and a plain HTTP one.</summary>
public sealed class Http2ServerFixture : IAsyncLifetime
{
    public TestCertificates Certificates { get; } = new();

    public int TlsPort { get; } = KwsgiProcess.FreePort();
    public int H2cPort { get; } = KwsgiProcess.FreePort();
    public int HttpPort { get; } = KwsgiProcess.FreePort();

    public KwsgiProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await KwsgiProcess.StartAndWaitAsync(["--chdir", TestPaths.AppsDir, "--workers", "2", "--threads", "4",
            "--listen", $"https://127.0.0.1:{TlsPort}", "--listen", $"h2c://127.0.0.1:{H2cPort}", "--listen", $"http://127.0.0.1:{HttpPort}",
            "--certfile", Certificates.ServerCertPem, "--keyfile", Certificates.ServerKeyPem, "protocols:app"], null, null);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        Certificates.Dispose();
    }
}

/// <summary>
/// HTTP/2 (issue 12 part 1): over TLS by ALPN, and cleartext by prior knowledge on h2c:// listeners, with .NET's
/// HttpClient, curl and h2load; SERVER_PROTOCOL is HTTP/2, and many streams share one connection.
/// </summary>
public sealed class Http2Tests(Http2ServerFixture fixture) : IClassFixture<Http2ServerFixture>
{
    private TestCertificates Certs => fixture.Certificates;

    private Uri Tls => new($"https://localhost:{fixture.TlsPort}/");
    private Uri H2c => new($"http://127.0.0.1:{fixture.H2cPort}/");

    [Fact]
    public async Task OverTls_AlpnChoosesHttp2_AndTheEnvironSaysSo()
    {
        using HttpClient client = Certs.CreateClient(Tls, HttpVersion.Version20);
        using HttpResponseMessage response = await client.GetAsync("/h2?x=1");
        Assert.Equal(HttpVersion.Version20, response.Version);
        JsonElement environ = await Json.ReadAsync(response);
        Assert.Equal("HTTP/2", environ.Str("SERVER_PROTOCOL"));
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
        Assert.Equal("on", environ.Str("HTTPS"));
        Assert.Equal(fixture.TlsPort.ToString(), environ.Str("SERVER_PORT"));
        Assert.Equal("/h2", environ.Str("PATH_INFO"));
        Assert.Equal("x=1", environ.Str("QUERY_STRING"));
        Assert.Equal("localhost", environ.Str("SERVER_NAME"));

        // The same listener still speaks HTTP/1.1 to a client that offers only that.
        using HttpClient http11 = Certs.CreateClient(Tls, HttpVersion.Version11);
        Assert.Equal("HTTP/1.1", (await Json.ReadAsync(await http11.GetAsync("/"))).Str("SERVER_PROTOCOL"));
    }

    [Fact]
    public async Task Curl_Http2OverTls_AndPriorKnowledgeOnH2c()
    {
        ToolRun tls = await ExternalTool.RunAsync("curl", ["-sS", "--http2", "--cacert", Certs.CaPem, "-w", "\n%{http_version}", $"{Tls}curl"]);
        Assert.True(tls.ExitCode == 0, tls.ToString());
        string[] tlsLines = tls.Stdout.Split('\n');
        Assert.Equal("2", tlsLines[^1]);
        Assert.Equal("HTTP/2", Json.Parse(tlsLines[0]).Str("SERVER_PROTOCOL"));

        ToolRun h2c = await ExternalTool.RunAsync("curl", ["-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}", $"{H2c}curl"]);
        Assert.True(h2c.ExitCode == 0, h2c.ToString());
        string[] h2cLines = h2c.Stdout.Split('\n');
        Assert.Equal("2", h2cLines[^1]);
        JsonElement environ = Json.Parse(h2cLines[0]);
        Assert.Equal("HTTP/2", environ.Str("SERVER_PROTOCOL"));
        Assert.Equal("http", environ.Str("wsgi.url_scheme"));
        Assert.False(environ.TryGetProperty("HTTPS", out _));
        Assert.Equal(fixture.H2cPort.ToString(), environ.Str("SERVER_PORT"));
    }

    [Fact]
    public async Task H2cListener_IsHttp2Only_AndHttpListenerIsHttp11Only()
    {
        // Kestrel 10 cannot sniff the preface on a port that also speaks HTTP/1.1 (docs/https.md): each port says what it is.
        ToolRun http1OnH2c = await ExternalTool.RunAsync("curl", ["-sS", "--http1.1", $"{H2c}"]);
        Assert.DoesNotContain("SERVER_PROTOCOL", http1OnH2c.Stdout);

        ToolRun upgrade = await ExternalTool.RunAsync("curl", ["-sS", "--http2", "-w", "\n%{http_version}", $"http://127.0.0.1:{fixture.HttpPort}/"]);
        Assert.True(upgrade.ExitCode == 0, upgrade.ToString());
        Assert.Equal("1.1", upgrade.Stdout.Split('\n')[^1]);
        Assert.Equal("HTTP/1.1", Json.Parse(upgrade.Stdout.Split('\n')[0]).Str("SERVER_PROTOCOL"));
    }

    [Theory]
    [InlineData("tls")]
    [InlineData("h2c")]
    public async Task ManyStreamsOnOneConnection_UploadsAndStreamedResponses(string listener)
    {
        using HttpClient client = Certs.CreateClient(listener == "tls" ? Tls : H2c, HttpVersion.Version20);
        byte[] body = RandomNumberGenerator.GetBytes(300_000);
        string expected = Convert.ToHexStringLower(SHA256.HashData(body));

        var uploads = Enumerable.Range(0, 12).Select(async i =>
        {
            // No content-length: HTTP/2 DATA frames of undeclared length, read whole by the front.
            using var content = new StreamContent(new MemoryStream(body));
            using HttpResponseMessage response = await client.PostAsync("/upload", content);
            Assert.Equal(HttpVersion.Version20, response.Version);
            return await Json.ReadAsync(response);
        });
        var streams = Enumerable.Range(0, 12).Select(async i => await client.GetStringAsync("/stream?n=4&delay=0.05"));
        var sleeps = Enumerable.Range(0, 8).Select(async i => await client.GetStringAsync("/slow?s=0.3"));

        foreach (JsonElement result in await Task.WhenAll(uploads))
        {
            Assert.Equal(body.Length, result.GetProperty("length").GetInt32());
            Assert.Equal(expected, result.GetProperty("sha256").GetString());
        }
        foreach (string streamed in await Task.WhenAll(streams))
        {
            Assert.Equal("chunk 0\nchunk 1\nchunk 2\nchunk 3\n", streamed);
        }
        Assert.All(await Task.WhenAll(sleeps), s => Assert.Equal("slept", s));
    }

    [Theory]
    [InlineData("tls")]
    [InlineData("h2c")]
    public async Task H2load_AllRequestsSucceed(string listener)
    {
        string url = listener == "tls" ? $"https://127.0.0.1:{fixture.TlsPort}/" : $"http://127.0.0.1:{fixture.H2cPort}/";
        ToolRun run = await ExternalTool.RunAsync("h2load", ["-n", "400", "-c", "4", "-m", "8", url], TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("400 succeeded, 0 failed, 0 errored", run.Stdout);
        Assert.Contains("status codes: 400 2xx", run.Stdout);
        Assert.Contains("Application protocol: h2", run.Stdout);
    }
}

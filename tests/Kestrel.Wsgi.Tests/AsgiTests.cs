using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>One ASGI worker (Debian's Python) running tests/apps/asgi_raw.py below /mount, on HTTP/1.1 and h2c.</summary>
public sealed class AsgiRawFixture : IAsyncLifetime
{
    public int HttpPort { get; } = KwsgiProcess.FreePort();
    public int H2cPort { get; } = KwsgiProcess.FreePort();

    public KwsgiProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await KwsgiProcess.StartAndWaitAsync(["--chdir", TestPaths.AppsDir, "--python", "/usr/bin/python3", "--workers", "1",
            "--url-prefix", "/mount", "--listen", $"http://127.0.0.1:{HttpPort}", "--listen", $"h2c://127.0.0.1:{H2cPort}", "asgi_raw:app"], null, null);

    public async Task DisposeAsync() => await Server.DisposeAsync();

    public HttpClient Client => Server.Client;

    /// <summary>A client that speaks HTTP/2 by prior knowledge to the h2c listener.</summary>
    public HttpClient CreateH2cClient() => new(new SocketsHttpHandler())
    {
        BaseAddress = new Uri($"http://127.0.0.1:{H2cPort}/"),
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(30),
    };
}

/// <summary>The ASGI 3 HTTP scope and its events, asserted exactly with a raw ASGI app.</summary>
public sealed class AsgiTests(AsgiRawFixture fx) : IClassFixture<AsgiRawFixture>
{
    private static readonly string StaticDir = Path.Combine(TestPaths.AppsDir, "static");

    [Fact]
    public async Task Scope_HasEveryHttpKey_WithRawPathQueryAndRootPath()
    {
        using var content = new StringContent("hello");
        using HttpResponseMessage response = await fx.Client.PostAsync("/mount/scope/a%2Fb%C3%A9?x=1&y=%20&z", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement scope = await Json.ReadAsync(response);
        Assert.Equal("http", scope.Str("type"));
        Assert.Equal("3.0", scope.GetProperty("asgi").Str("version"));
        Assert.Equal("1.1", scope.Str("http_version"));
        Assert.Equal("POST", scope.Str("method"));
        Assert.Equal("http", scope.Str("scheme"));
        Assert.Equal("/scope/a/bé", scope.Str("path")); // percent-decoded (%2F too) and UTF-8, below root_path
        Assert.Equal("/mount", scope.Str("root_path"));
        Assert.Equal("/mount/scope/a%2Fb%C3%A9", scope.Str("raw_path")); // as sent, prefix included
        Assert.Equal("x=1&y=%20&z", scope.Str("query_string"));
        Assert.True(scope.Bool("raw_path_is_bytes"));
        Assert.True(scope.Bool("query_string_is_bytes"));
        Assert.Equal(["bytes,bytes"], scope.GetProperty("header_types").EnumerateArray().Select(e => e.GetString()!).ToArray());
        JsonElement client = scope.GetProperty("client");
        Assert.Equal("127.0.0.1", client[0].GetString());
        Assert.InRange(client[1].GetInt32(), 1, 65535);
        JsonElement server = scope.GetProperty("server");
        Assert.Equal("127.0.0.1", server[0].GetString());
        Assert.Equal(fx.HttpPort, server[1].GetInt32());
        // Files by reference on every protocol; trailers only where the front can send them (not HTTP/1.1).
        Assert.Equal(["http.response.pathsend", "http.response.zerocopysend"], scope.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()!).ToArray());
        Assert.Equal(5, scope.GetProperty("body_length").GetInt32());
    }

    [Fact]
    public async Task Headers_AreRawLowercaseBytes_RepeatedOnesKeptInOrder()
    {
        await using var connection = await RawHttpConnection.ConnectAsync(fx.HttpPort);
        RawResponse response = await connection.RequestAsync(
            $"GET /mount/scope HTTP/1.1\r\nHost: 127.0.0.1:{fx.HttpPort}\r\nX-Dup: one\r\nX-Under_Score: kept\r\nX-Dup: two\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n");
        Assert.Equal(200, response.Status);
        JsonElement scope = Json.Parse(response.Body);
        string[][] headers = scope.GetProperty("headers").EnumerateArray().Select(h => h.EnumerateArray().Select(v => v.GetString()!).ToArray()).ToArray();
        Assert.Equal([["x-dup", "one"], ["x-dup", "two"]], headers.Where(h => h[0] == "x-dup").ToArray());
        Assert.Equal([["cookie", "a=1"], ["cookie", "b=2"]], headers.Where(h => h[0] == "cookie").ToArray());
        Assert.Contains(["x-under_score", "kept"], headers); // no CGI mapping, so nothing to collide with
        Assert.Contains(["host", $"127.0.0.1:{fx.HttpPort}"], headers);
        Assert.All(headers, h => Assert.Equal(h[0].ToLowerInvariant(), h[0]));
    }

    [Fact]
    public async Task Http2_ScopeSaysSo_AndTrailersReachTheClient()
    {
        using HttpClient h2 = fx.CreateH2cClient();
        using HttpResponseMessage scopeResponse = await h2.GetAsync("/mount/scope");
        Assert.Equal(HttpVersion.Version20, scopeResponse.Version);
        JsonElement scope = await Json.ReadAsync(scopeResponse);
        Assert.Equal("2", scope.Str("http_version"));
        Assert.Contains("http.response.trailers", scope.GetProperty("extensions").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(fx.H2cPort, scope.GetProperty("server")[1].GetInt32());

        using HttpResponseMessage response = await h2.GetAsync("/mount/trailers");
        Assert.Equal("with trailers", await response.Content.ReadAsStringAsync());
        Assert.True(response.TrailingHeaders.TryGetValues("x-checksum", out var checksum), $"trailers: {response.TrailingHeaders}");
        Assert.Equal("abc123", Assert.Single(checksum));
    }

    [Fact]
    public async Task Trailers_OnHttp11_AreNotOffered()
    {
        using HttpResponseMessage response = await fx.Client.GetAsync("/mount/trailers");
        Assert.Equal("no trailers", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RequestBody_ArrivesAsHttpRequestMessages_WithMoreBody()
    {
        byte[] body = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        using var content = new ByteArrayContent(body);
        using HttpResponseMessage response = await fx.Client.PostAsync("/mount/echo", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(SHA256.HashData(body), SHA256.HashData(await response.Content.ReadAsByteArrayAsync()));
        // 3 MiB do not fit one window: the body came in several http.request messages as the app read it.
        Assert.True(int.Parse(response.Headers.GetValues("x-messages").Single()) > 1);
    }

    [Fact]
    public async Task StreamedResponse_PiecesArriveBeforeTheEnd()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/mount/stream?n=6");
        using HttpResponseMessage response = await fx.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Null(response.Content.Headers.ContentLength); // more_body: no length known, chunked
        await using Stream stream = await response.Content.ReadAsStreamAsync();
        var reader = new StreamReader(stream);
        var first = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal("piece 0", await reader.ReadLineAsync());
        TimeSpan firstAt = first.Elapsed;
        string rest = await reader.ReadToEndAsync();
        // Six pieces 50 ms apart: the first came well before the last was produced.
        Assert.True(first.Elapsed - firstAt > TimeSpan.FromMilliseconds(150), $"first piece at {firstAt}, end at {first.Elapsed}");
        Assert.Equal("piece 1\npiece 2\npiece 3\npiece 4\npiece 5\n", rest);
    }

    [Fact]
    public async Task ReceiveAfterTheResponse_ReturnsHttpDisconnect()
    {
        Assert.Equal("answered", await fx.Client.GetStringAsync("/mount/after-body"));
        Assert.True(await Poll.UntilAsync(async () => (await fx.Client.GetStringAsync("/mount/last")).Contains("\"after-body\": \"http.disconnect\""), TimeSpan.FromSeconds(10)));
    }

    /// <summary>
    /// An HTTP/2 client resetting its stream (here: cancelling the request) is a client leaving that the front sees at
    /// once; on HTTP/1.1 a FIN is a half-close (docs/asgi.md) and a gone client is noticed at the response's writes.
    /// </summary>
    [Fact]
    public async Task ClientLeaving_WakesReceiveWithHttpDisconnect()
    {
        using HttpClient h2 = fx.CreateH2cClient();
        using var leave = new CancellationTokenSource();
        Task<HttpResponseMessage> hanging = h2.GetAsync("/mount/hang", leave.Token);
        Assert.True(await Poll.UntilAsync(async () => (await fx.Client.GetStringAsync("/mount/last")).Contains("\"hang\": \"waiting\""), TimeSpan.FromSeconds(10)));
        leave.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);
        Assert.True(await Poll.UntilAsync(async () => (await fx.Client.GetStringAsync("/mount/last")).Contains("\"hang\": \"http.disconnect\""), TimeSpan.FromSeconds(10)),
            await fx.Client.GetStringAsync("/mount/last"));
    }

    [Fact]
    public async Task Pathsend_IsSentFromTheFile_WithItsLength()
    {
        byte[] expected = await File.ReadAllBytesAsync(Path.Combine(StaticDir, "hello.txt"));
        using HttpResponseMessage response = await fx.Client.GetAsync("/mount/pathsend?f=hello.txt");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected.Length, response.Content.Headers.ContentLength);
        Assert.Equal(expected, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Zerocopysend_SendsTheRange_ThenMoreBody()
    {
        string text = await File.ReadAllTextAsync(Path.Combine(StaticDir, "hello.txt"));
        Assert.Equal(text.Substring(2, 5) + "|tail", await fx.Client.GetStringAsync("/mount/zerocopy?f=hello.txt"));
    }

    [Fact]
    public async Task AppRaisingBeforeStart_Answers500_AsForWsgi()
    {
        using HttpResponseMessage response = await fx.Client.GetAsync("/mount/raise-before");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("Internal Server Error\n", await response.Content.ReadAsStringAsync());
        Assert.True(await fx.Server.WaitForOutputAsync("RuntimeError: before the start", TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task AppRaisingAfterStart_DropsTheConnection()
    {
        await using var connection = await RawHttpConnection.ConnectAsync(fx.HttpPort);
        RawResponse response = await connection.RequestAsync($"GET /mount/raise-after HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        Assert.Equal(200, response.Status);
        Assert.False(response.Complete, "a response whose app failed midway must not look complete");
    }

    [Fact]
    public async Task StartWithoutBody_EndsWhenTheAppReturns()
    {
        using HttpResponseMessage response = await fx.Client.GetAsync("/mount/start-only");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal("1", response.Headers.GetValues("x-start-only").Single());
    }

    [Fact]
    public async Task NoContent_GetsNoContentLength()
    {
        await using var connection = await RawHttpConnection.ConnectAsync(fx.HttpPort);
        foreach (string path in new[] { "/mount/no-content", "/mount/start-only" })
        {
            RawResponse response = await connection.RequestAsync($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            Assert.Equal(204, response.Status);
            Assert.Null(response.Header("Content-Length")); // RFC 9110 8.6
            Assert.Null(response.Header("Transfer-Encoding"));
        }
    }

    [Fact]
    public async Task OneLargeBodyMessage_GetsItsContentLength()
    {
        using HttpResponseMessage response = await fx.Client.GetAsync("/mount/big?kib=300", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(300 * 1024, response.Content.Headers.ContentLength);
        Assert.Equal(300 * 1024, (await response.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task LifespanState_IsCopiedIntoEachRequestScope()
    {
        JsonElement state = Json.Parse(await fx.Client.GetStringAsync("/mount/state"));
        Assert.Equal("yes", state.Str("opened"));
        Assert.Equal(fx.Server.WorkerPids().Single(), state.GetProperty("pid").GetInt32());
    }

    [Fact]
    public async Task OutsideTheRootPath_Is404_FromTheFront()
    {
        using HttpResponseMessage response = await fx.Client.GetAsync("/elsewhere/scope");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class EnvechoFixture : ServerFixture
{
    protected override string App => "envecho:app";

    protected override string[] ExtraArgs => ["--workers", "2", "--threads", "4"];
}

/// <summary>PEP 3333 environ, as built by kwsgi from real HTTP requests (envecho app, 2 workers × 4 threads).</summary>
public sealed class EnvironTests(EnvechoFixture fx) : IClassFixture<EnvechoFixture>
{
    private string HostHeader => $"127.0.0.1:{fx.Port}";

    /// <summary>Sends a raw request (head lines without the request line's CRLF terminator handling) and parses the environ.</summary>
    private async Task<(JsonElement Env, int ClientPort)> RawEnvironAsync(string requestLine, string[]? headers = null, byte[]? body = null)
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        var sb = new StringBuilder();
        sb.Append(requestLine).Append("\r\n");
        sb.Append("Host: ").Append(HostHeader).Append("\r\n");
        foreach (string h in headers ?? [])
        {
            sb.Append(h).Append("\r\n");
        }
        sb.Append("\r\n");
        byte[] head = Encoding.Latin1.GetBytes(sb.ToString());
        await conn.SendAsync(body is null ? head : [.. head, .. body]);
        var resp = await conn.ReadResponseAsync();
        Assert.True(resp.Status == 200, $"expected 200, got:\n{resp}\n{fx.Server.Describe()}");
        Assert.True(resp.Complete, $"incomplete response:\n{resp}");
        return (Json.Parse(resp.Body), conn.LocalPort);
    }

    private async Task<JsonElement> GetEnvironAsync(string pathAndQuery)
    {
        using var resp = await fx.Client.GetAsync(pathAndQuery);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        return await Json.ReadAsync(resp);
    }

    [Fact]
    public async Task PercentEncodedNonAsciiPath_IsLatin1DecodingOfTheRawBytes()
    {
        var (env, _) = await RawEnvironAsync("GET /a%20b/%E4%BD%A0 HTTP/1.1");
        Assert.Equal("/a b/\u00e4\u00bd\u00a0", env.Str("PATH_INFO"));
        Assert.Equal("", env.Str("SCRIPT_NAME"));
        Assert.Empty(env.GetProperty("non_latin1_keys").EnumerateArray());
    }

    [Fact]
    public async Task RawUtf8PathBytes_AreRejectedOrLatin1Decoded()
    {
        // The same bytes, sent unescaped on the wire. RFC 9112 allows only ASCII in the request
        // target, so 400 is a correct answer; if the server accepts them, they must arrive as latin-1.
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        byte[] req = [.. Encoding.ASCII.GetBytes("GET /u/"), 0xE4, 0xBD, 0xA0, .. Encoding.ASCII.GetBytes($" HTTP/1.1\r\nHost: {HostHeader}\r\n\r\n")];
        await conn.SendAsync(req);
        var resp = await conn.ReadResponseAsync();
        if (resp.Status == 400)
        {
            return;
        }
        Assert.True(resp.Status == 200, resp.ToString());
        Assert.Equal("/u/\u00e4\u00bd\u00a0", Json.Parse(resp.Body).Str("PATH_INFO"));
    }

    [Fact]
    public async Task EncodedSlash_DecodesToSlash()
    {
        var (env, _) = await RawEnvironAsync("GET /x%2Fy/z HTTP/1.1");
        Assert.Equal("/x/y/z", env.Str("PATH_INFO"));
    }

    [Fact]
    public async Task QueryString_IsRawAndUndecoded()
    {
        var (env, _) = await RawEnvironAsync("GET /q?a=1&b=%20 HTTP/1.1");
        Assert.Equal("a=1&b=%20", env.Str("QUERY_STRING"));
        Assert.Equal("/q", env.Str("PATH_INFO"));
    }

    [Fact]
    public async Task QueryString_WithEncodedAmpersandAndPlus_IsUntouched()
    {
        var (env, _) = await RawEnvironAsync("GET /q?x=a%26b+c&y=%E4%BD%A0 HTTP/1.1");
        Assert.Equal("x=a%26b+c&y=%E4%BD%A0", env.Str("QUERY_STRING"));
    }

    [Fact]
    public async Task NoQuery_GivesEmptyQueryString()
    {
        var env = await GetEnvironAsync("/plain");
        Assert.Equal("", env.TryGetProperty("QUERY_STRING", out var q) ? q.GetString() : "");
        Assert.Equal("/plain", env.Str("PATH_INFO"));
    }

    [Fact]
    public async Task Fragment_NeverReachesQueryStringOrPath()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        var resp = await conn.RequestAsync($"GET /f?x=1#frag HTTP/1.1\r\nHost: {HostHeader}\r\n\r\n");
        // Rejecting the request (400) is acceptable; passing the fragment to the app is not.
        if (resp.Status == 400)
        {
            return;
        }
        Assert.True(resp.Status == 200, resp.ToString());
        var env = Json.Parse(resp.Body);
        Assert.Equal("x=1", env.Str("QUERY_STRING"));
        Assert.Equal("/f", env.Str("PATH_INFO"));
    }

    [Fact]
    public async Task CoreKeys_HaveExactPep3333Values()
    {
        var env = await GetEnvironAsync("/core");
        Assert.Equal("GET", env.Str("REQUEST_METHOD"));
        Assert.Equal("HTTP/1.1", env.Str("SERVER_PROTOCOL"));
        Assert.Equal("", env.Str("SCRIPT_NAME"));
        Assert.Equal("/core", env.Str("PATH_INFO"));
        Assert.Equal(fx.Port.ToString(), env.Str("SERVER_PORT"));
        Assert.False(string.IsNullOrEmpty(env.Str("SERVER_NAME")));
        Assert.Equal(HostHeader, env.Str("HTTP_HOST"));
        Assert.Equal("http", env.Str("wsgi.url_scheme"));
        var version = env.GetProperty("wsgi.version");
        Assert.Equal(JsonValueKind.Array, version.ValueKind);
        Assert.Equal([1, 0], version.EnumerateArray().Select(v => v.GetInt32()).ToArray());
        Assert.True(env.Bool("wsgi.multithread"), "--threads 4 → wsgi.multithread must be True");
        Assert.True(env.Bool("wsgi.multiprocess"), "--workers 2 → wsgi.multiprocess must be True");
        Assert.False(env.Bool("wsgi.run_once"));
        Assert.True(env.Bool("wsgi.input_terminated"));
        Assert.True(env.Bool("environ_is_dict"), "environ must be a real dict");
        Assert.True(env.Bool("has_file_wrapper"), "wsgi.file_wrapper should be offered");
        Assert.False(string.IsNullOrEmpty(env.Str("wsgi.errors.type")));
        Assert.False(string.IsNullOrEmpty(env.Str("wsgi.input.type")));
        Assert.Equal("bytes", env.Str("body_type"));
        Assert.Equal("", env.Str("body"));
        Assert.Empty(env.GetProperty("non_latin1_keys").EnumerateArray());
    }

    [Theory]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("PATCH")]
    [InlineData("OPTIONS")]
    public async Task RequestMethod_IsPassedThrough(string method)
    {
        using var req = new HttpRequestMessage(new HttpMethod(method), "/m");
        using var resp = await fx.Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal(method, (await Json.ReadAsync(resp)).Str("REQUEST_METHOD"));
    }

    [Fact]
    public async Task RepeatedHeader_IsJoinedWithComma()
    {
        var (env, _) = await RawEnvironAsync("GET /h HTTP/1.1", ["X-Multi: a", "X-Multi: b"]);
        Assert.Equal("a,b", env.Str("HTTP_X_MULTI"));
    }

    [Fact]
    public async Task HeaderWithUnderscore_IsDropped()
    {
        var (env, _) = await RawEnvironAsync("GET /h HTTP/1.1", ["X_Under: 1", "X-Other: 2"]);
        Assert.Equal("2", env.Str("HTTP_X_OTHER"));
        Assert.False(env.Has("HTTP_X_UNDER"), $"HTTP_X_UNDER = {(env.TryGetProperty("HTTP_X_UNDER", out var v) ? v : default)}");
        Assert.DoesNotContain(env.EnumerateObject(), p => p.Name.Contains("UNDER", StringComparison.OrdinalIgnoreCase) && p.Name.StartsWith("HTTP_", StringComparison.Ordinal));
    }

    [Fact]
    public async Task HeaderWithUnderscore_CannotSpoofItsDashedTwin()
    {
        var (env, _) = await RawEnvironAsync("GET /h HTTP/1.1", ["X_Under: smuggled", "X-Under: legit"]);
        Assert.Equal("legit", env.Str("HTTP_X_UNDER"));
    }

    [Fact]
    public async Task ContentTypeAndLength_HaveNoHttpPrefix()
    {
        using var content = new ByteArrayContent("hello"u8.ToArray());
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-kwsgi-test");
        using var resp = await fx.Client.PostAsync("/post", content);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        var env = await Json.ReadAsync(resp);
        Assert.Equal("POST", env.Str("REQUEST_METHOD"));
        Assert.Equal("application/x-kwsgi-test", env.Str("CONTENT_TYPE"));
        Assert.Equal("5", env.Str("CONTENT_LENGTH"));
        Assert.False(env.Has("HTTP_CONTENT_TYPE"));
        Assert.False(env.Has("HTTP_CONTENT_LENGTH"));
        Assert.Equal("hello", env.Str("body"));
    }

    [Fact]
    public async Task RemoteAddrAndPort_AreTheClientSocket()
    {
        var (env, clientPort) = await RawEnvironAsync("GET /r HTTP/1.1");
        Assert.Equal("127.0.0.1", env.Str("REMOTE_ADDR"));
        Assert.Equal(clientPort.ToString(), env.Str("REMOTE_PORT"));
        Assert.Equal(fx.Port.ToString(), env.Str("SERVER_PORT"));
    }

    [Fact]
    public async Task ChunkedRequestBody_ArrivesWhole()
    {
        string chunked = "6\r\nhello \r\n8\r\nchunked \r\n5\r\nworld\r\n0\r\n\r\n";
        var (env, _) = await RawEnvironAsync("POST /chunked HTTP/1.1",
            ["Transfer-Encoding: chunked", "Content-Type: text/plain"], Encoding.ASCII.GetBytes(chunked));
        Assert.Equal("hello chunked world", env.Str("body"));
        Assert.True(env.Bool("wsgi.input_terminated"));
        // The front read it whole: CONTENT_LENGTH is the decoded length, and the chunked framing is not the app's.
        Assert.Equal("19", env.Str("CONTENT_LENGTH"));
        Assert.False(env.Has("HTTP_TRANSFER_ENCODING"));
    }

    [Fact]
    public async Task BinaryBody_RoundTripsAsLatin1()
    {
        byte[] body = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        var (env, _) = await RawEnvironAsync("POST /bin HTTP/1.1",
            ["Content-Type: application/octet-stream", $"Content-Length: {body.Length}"], body);
        Assert.Equal(Encoding.Latin1.GetString(body), env.Str("body"));
        Assert.Equal("256", env.Str("CONTENT_LENGTH"));
    }

    [Fact]
    public async Task Latin1HeaderByte_ArrivesAsLatin1Char()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        byte[] req = [.. Encoding.ASCII.GetBytes($"GET /latin HTTP/1.1\r\nHost: {HostHeader}\r\nX-Latin: caf"), 0xE9,
            .. Encoding.ASCII.GetBytes("\r\n\r\n")];
        await conn.SendAsync(req);
        var resp = await conn.ReadResponseAsync();
        Assert.True(resp.Status == 200, resp.ToString());
        Assert.Equal("caf\u00e9", Json.Parse(resp.Body).Str("HTTP_X_LATIN"));
    }

    [Fact]
    public async Task KeepAliveConnection_ServesSeveralRequestsWithTheirOwnEnviron()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        for (int i = 0; i < 5; i++)
        {
            var resp = await conn.RequestAsync($"GET /k{i}?i={i} HTTP/1.1\r\nHost: {HostHeader}\r\n\r\n");
            Assert.True(resp.Status == 200, resp.ToString());
            var env = Json.Parse(resp.Body);
            Assert.Equal($"/k{i}", env.Str("PATH_INFO"));
            Assert.Equal($"i={i}", env.Str("QUERY_STRING"));
            Assert.Equal(conn.LocalPort.ToString(), env.Str("REMOTE_PORT"));
        }
    }
}

public sealed class PrefixedEnvechoFixture : ServerFixture
{
    protected override string App => "envecho:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "1", "--url-prefix", "/app"];
}

/// <summary>--url-prefix, and the single-worker single-thread flags.</summary>
public sealed class UrlPrefixEnvironTests(PrefixedEnvechoFixture fx) : IClassFixture<PrefixedEnvechoFixture>
{
    [Fact]
    public async Task UrlPrefix_SplitsScriptNameAndPathInfo()
    {
        using var resp = await fx.Client.GetAsync("/app/x");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        var env = await Json.ReadAsync(resp);
        Assert.Equal("/app", env.Str("SCRIPT_NAME"));
        Assert.Equal("/x", env.Str("PATH_INFO"));
    }

    [Fact]
    public async Task UrlPrefix_PathInfoIsStillPercentDecoded()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        var resp = await conn.RequestAsync($"GET /app/a%20b/%E4%BD%A0?q=%20 HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n");
        Assert.True(resp.Status == 200, resp.ToString());
        var env = Json.Parse(resp.Body);
        Assert.Equal("/app", env.Str("SCRIPT_NAME"));
        Assert.Equal("/a b/\u00e4\u00bd\u00a0", env.Str("PATH_INFO"));
        Assert.Equal("q=%20", env.Str("QUERY_STRING"));
    }

    [Fact]
    public async Task SingleWorkerSingleThread_FlagsAreFalse()
    {
        using var resp = await fx.Client.GetAsync("/app/flags");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        var env = await Json.ReadAsync(resp);
        Assert.False(env.Bool("wsgi.multithread"), "--threads 1 → wsgi.multithread must be False");
        Assert.False(env.Bool("wsgi.multiprocess"), "--workers 1 → wsgi.multiprocess must be False");
    }
}

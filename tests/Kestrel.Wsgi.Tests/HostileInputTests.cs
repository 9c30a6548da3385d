using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class HostileInputFixture : ServerFixture
{
    protected override string App => "envecho:app";

    // A static mount too: requests aimed at it get the same checks as those that reach the app.
    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2", "--static", "/static=static"];
}

public sealed class HostileInputStreamedFixture : ServerFixture
{
    protected override string App => "envecho:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2", "--no-buffer-request-body"];
}

/// <summary>
/// What outside probes found (issue 10): requests RFC 9110/9112 reject, framing tricks from request-smuggling
/// reports, and clients that half-close. Raw sockets against a real kwsgi; each answer checked on the wire.
/// </summary>
public sealed class HostileInputTests(HostileInputFixture fx, HostileInputStreamedFixture streamed)
    : IClassFixture<HostileInputFixture>, IClassFixture<HostileInputStreamedFixture>
{
    private static async Task<RawResponse> SendAsync(int port, string request)
    {
        await using var connection = await RawHttpConnection.ConnectAsync(port);
        return await connection.RequestAsync(request);
    }

    private Task<RawResponse> SendAsync(string request) => SendAsync(fx.Port, request);

    /// <summary>A refusal never costs a .NET stack trace in the log (a log flood, one per bad request).</summary>
    private static void AssertNoStackTrace(KwsgiProcess server)
    {
        string output = server.Output;
        Assert.DoesNotContain("Exception", output);
        Assert.DoesNotContain("   at ", output);
    }

    // ---- 1: CONNECT

    [Fact]
    public async Task Connect_Answers501_FromTheFront_AndCloses()
    {
        var response = await SendAsync("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
        Assert.True(response.Status == 501, response.ToString());
        Assert.Equal("close", response.Header("Connection"));
        Assert.Contains("CONNECT", response.BodyText);
        AssertNoStackTrace(fx.Server);
    }

    // ---- 2: request-body faults are 400, never 2xx

    [Theory]
    [InlineData("FFFFFFFFFFFFFFFF0")] // 2^68 - 16: past 64 bits
    [InlineData("10000000000000005")] // 2^64 + 5: wraps to 5 in a parser that does not check
    public async Task ChunkSizePast64Bits_Answers400_Buffered(string size) =>
        await AssertChunkSizeRefusedAsync(fx.Server, size);

    [Theory]
    [InlineData("FFFFFFFFFFFFFFFF0")]
    [InlineData("10000000000000005")]
    public async Task ChunkSizePast64Bits_Answers400_Streamed(string size) =>
        await AssertChunkSizeRefusedAsync(streamed.Server, size);

    private static async Task AssertChunkSizeRefusedAsync(KwsgiProcess server, string size)
    {
        await using var connection = await RawHttpConnection.ConnectAsync(server.Port);
        var response = await connection.RequestAsync(
            $"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nhello\r\n0\r\n\r\n");
        Assert.True(response.Status == 400, response.ToString());
        Assert.Equal("close", response.Header("Connection"));
        await Assert.ThrowsAsync<IOException>(() => connection.ReadResponseAsync());
    }

    // ---- 3: Content-Length is 1*DIGIT (RFC 9110 8.6)

    [Theory]
    [InlineData("100000000000000000000")] // 21 digits
    [InlineData("99999999999999999999")] // 20 digits
    [InlineData("9999999999999999999")] // 19 digits, past long.MaxValue
    [InlineData("+5")]
    [InlineData("-0")]
    [InlineData("5, 5")]
    [InlineData("0x5")]
    [InlineData("5 5")]
    public async Task ContentLength_NotDigitsOnly_Answers400_WithoutAStackTrace(string value)
    {
        var response = await SendAsync($"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\nConnection: close\r\n\r\nhello");
        Assert.True(response.Status == 400, response.ToString());
        AssertNoStackTrace(fx.Server);
    }

    [Fact]
    public async Task ContentLength_WithLeadingZeros_IsItsDecimalValue()
    {
        // 1*DIGIT allows leading zeros; every parser reads 005 as 5, so there is nothing to disagree about.
        var response = await SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 005\r\nConnection: close\r\n\r\nhello");
        Assert.True(response.Status == 200, response.ToString());
        JsonElement environ = Json.Parse(response.Body);
        Assert.Equal("5", environ.Str("CONTENT_LENGTH"));
        Assert.Equal("hello", environ.Str("body"));
    }

    // ---- 4: header names are tokens (RFC 9110 5.1)

    [Theory]
    [InlineData("Bad[Name")]
    [InlineData("Bad\"Name")]
    [InlineData("Bad/Name")]
    [InlineData("Bad=Name")]
    [InlineData("B\u00e4dName")] // Kestrel refuses non-ASCII names itself
    public async Task HeaderName_OutsideTchar_Answers400(string name)
    {
        var response = await SendAsync($"GET / HTTP/1.1\r\nHost: x\r\n{name}: x\r\nConnection: close\r\n\r\n");
        Assert.True(response.Status == 400, response.ToString());
        Assert.True(response.Body.Length == 0 || response.BodyText.Contains("header name"), response.ToString());
    }

    [Theory]
    [InlineData("GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nBad[Name: x\r\nConnection: close\r\n\r\n")]
    [InlineData("GET /static/hello.txt HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")]
    [InlineData("GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nX-Ctl: a\u0001b\r\nConnection: close\r\n\r\n")]
    public async Task StaticMount_GetsTheSameChecks_400(string request)
    {
        Assert.Equal(200, (await SendAsync("GET /static/hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).Status);
        var response = await SendAsync(request);
        Assert.True(response.Status == 400, response.ToString());
    }

    [Fact]
    public async Task HeaderName_WithEveryTcharSymbol_ReachesTheApp()
    {
        var response = await SendAsync("GET / HTTP/1.1\r\nHost: x\r\nX-Ok!#$%&'*+.^`|~: y\r\nConnection: close\r\n\r\n");
        Assert.True(response.Status == 200, response.ToString());
        Assert.Equal("y", Json.Parse(response.Body).Str("HTTP_X-OK!#$%&'*+.^`|~".Replace('-', '_')));
    }

    // ---- 5: HTTP/1.0 with Transfer-Encoding (RFC 9112 6.1)

    [Fact]
    public async Task Http10WithTransferEncoding_Answers400_AndClosesBeforeAPipelinedRequest()
    {
        await using var connection = await RawHttpConnection.ConnectAsync(fx.Port);
        var response = await connection.RequestAsync(
            "POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" +
            "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.True(response.Status == 400, response.ToString());
        Assert.Equal("close", response.Header("Connection"));
        // The pipelined request never runs: the connection ends after the 400.
        await Assert.ThrowsAsync<IOException>(() => connection.ReadResponseAsync());
    }

    // ---- 6: a client that half-closes after its request still gets the answer

    [Fact]
    public async Task HalfClosedClient_GetsItsResponse()
    {
        string response = await HalfCloseAsync(fx.Port, "GET /half HTTP/1.1\r\nHost: x\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200 ", response);
        Assert.Contains("\"PATH_INFO\": \"/half\"", response);
    }

    [Fact]
    public async Task HalfClosedClient_WithABody_GetsItsResponse_BufferedAndStreamed()
    {
        foreach (int port in new[] { fx.Port, streamed.Port })
        {
            string response = await HalfCloseAsync(port, "POST /half HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
            Assert.StartsWith("HTTP/1.1 200 ", response);
            Assert.Contains("\"body\": \"hello\"", response);
        }
    }

    [Fact]
    public async Task HalfClosedClient_MidBody_IsNeverAnswered2xx()
    {
        // The body is shorter than its Content-Length and the client says it will send no more: Kestrel closes
        // such a connection without an answer (it aborts its output on an unexpected end of the body).
        string response;
        try
        {
            response = await HalfCloseAsync(fx.Port, "POST /half HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello");
        }
        catch (SocketException)
        {
            response = "";
        }
        Assert.True(response == "" || response.StartsWith("HTTP/1.1 400 ", StringComparison.Ordinal), response);
    }

    /// <summary>Sends <paramref name="request"/>, shuts down the sending side (FIN, as <c>nc -N</c>), reads to the end.</summary>
    private static async Task<string> HalfCloseAsync(int port, string request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.Latin1.GetBytes(request));
        socket.Shutdown(SocketShutdown.Send);
        using var cts = new CancellationTokenSource(RawHttpConnection.DefaultTimeout);
        var received = new MemoryStream();
        byte[] buffer = new byte[16384];
        int n;
        while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
        {
            received.Write(buffer, 0, n);
        }
        return Encoding.Latin1.GetString(received.ToArray());
    }

    // ---- 9: request targets (RFC 9112 3.2)

    [Fact]
    public async Task AbsoluteFormTarget_ItsAuthorityWinsOverHost()
    {
        // RFC 9112 3.2.2: the server MUST ignore Host and use the target's authority.
        var response = await SendAsync("GET http://other.example:8080/p/q?a=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        Assert.True(response.Status == 200, response.ToString());
        JsonElement environ = Json.Parse(response.Body);
        Assert.Equal("other.example:8080", environ.Str("HTTP_HOST"));
        Assert.Equal("other.example", environ.Str("SERVER_NAME"));
        Assert.Equal("/p/q", environ.Str("PATH_INFO"));
        Assert.Equal("a=1", environ.Str("QUERY_STRING"));
    }

    [Theory]
    [InlineData("GET example.com:80 HTTP/1.1", "CONNECT")] // authority-form is for CONNECT only (3.2.3)
    [InlineData("GET * HTTP/1.1", "OPTIONS")] // asterisk-form is for OPTIONS only (3.2.4)
    public async Task TargetFormOfAnotherMethod_IsRefusedByKestrel_AndCloses(string requestLine, string allowed)
    {
        // Kestrel's parser answers these before any middleware runs, with 405 and Allow (docs/limits.md).
        var response = await SendAsync($"{requestLine}\r\nHost: x\r\n\r\n");
        Assert.True(response.Status == 405, response.ToString());
        Assert.Equal(allowed, response.Header("Allow"));
        Assert.Equal("close", response.Header("Connection"));
    }

    // ---- what Kestrel's parser lets through, refused by the front where it can be

    [Fact]
    public async Task BareLineFeeds_InTheHead_Answer400()
    {
        // RFC 9112 2.2 lets a server accept a bare LF; a proxy in front that does not would frame differently.
        var response = await SendAsync("GET / HTTP/1.1\nHost: x\nConnection: close\n\n");
        Assert.True(response.Status == 400, response.ToString());
    }

    [Fact]
    public async Task BareLineFeed_InAChunkExtension_Answers400()
    {
        var response = await SendAsync("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;a=\"x\ny\"\r\nabc\r\n0\r\n\r\n");
        Assert.True(response.Status == 400, response.ToString());
    }
}

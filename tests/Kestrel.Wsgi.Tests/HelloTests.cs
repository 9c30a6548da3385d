using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class HelloFixture : ServerFixture
{
    protected override string App => "hello:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2"];
}

/// <summary>The simplest app: GET, HEAD, keep-alive, and the process model (front without CPython).</summary>
public sealed class HelloTests(HelloFixture fx) : IClassFixture<HelloFixture>
{
    [Fact]
    public async Task Get_ReturnsHelloWorld()
    {
        using var resp = await fx.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("Hello, World!", await resp.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", resp.Content.Headers.ContentType?.MediaType);
        Assert.Equal(13, resp.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Head_HasContentLengthButNoBody_AndConnectionStaysUsable()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        var head = await conn.RequestAsync($"HEAD / HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n", head: true);
        Assert.Equal(200, head.Status);
        Assert.Equal("13", head.Header("Content-Length"));
        Assert.Null(head.Header("Transfer-Encoding"));

        // Nothing may follow the head of a HEAD response.
        byte[] extra = await conn.PeekExtraBytesAsync(TimeSpan.FromMilliseconds(500));
        Assert.True(extra.Length == 0, $"bytes after the HEAD response: {System.Text.Encoding.Latin1.GetString(extra)}");

        // And the same connection serves the next request.
        var get = await conn.RequestAsync($"GET / HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n");
        Assert.Equal(200, get.Status);
        Assert.True(get.Complete);
        Assert.Equal("Hello, World!", get.BodyText);
    }

    [Fact]
    public async Task HttpClientHead_Returns200WithEmptyBody()
    {
        using var req = new HttpRequestMessage(HttpMethod.Head, "/");
        using var resp = await fx.Client.SendAsync(req);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal(13, resp.Content.Headers.ContentLength);
        Assert.Empty(await resp.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task ManyConcurrentRequests_AllSucceed()
    {
        var tasks = Enumerable.Range(0, 50).Select(async _ =>
        {
            using var resp = await fx.Client.GetAsync("/");
            return (resp.StatusCode, await resp.Content.ReadAsStringAsync());
        });
        var results = await Task.WhenAll(tasks);
        Assert.All(results, r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("Hello, World!", r.Item2);
        });
    }

    [Fact]
    public async Task KeepAlive_PipelinedRequestsAnsweredInOrder()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        string one = $"GET / HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n";
        await conn.SendAsync(one + one + one);
        for (int i = 0; i < 3; i++)
        {
            var r = await conn.ReadResponseAsync();
            Assert.Equal(200, r.Status);
            Assert.Equal("Hello, World!", r.BodyText);
        }
    }
}

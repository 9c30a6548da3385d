using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class WriterFixture : ServerFixture
{
    protected override string App => "writer:app";

    protected override string[] ExtraArgs => ["--workers", "1"];
}

/// <summary>The legacy write() callable returned by start_response.</summary>
public sealed class WriterTests(WriterFixture fx) : IClassFixture<WriterFixture>
{
    [Fact]
    public async Task WriteCallableOutput_PrecedesIterableOutput_InOrder()
    {
        using var resp = await fx.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("one,two,three,four,five", await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task WriteCallableOutput_IsAValidChunkedMessage()
    {
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        var r = await conn.RequestAsync($"GET / HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n");
        Assert.Equal(200, r.Status);
        Assert.True(r.Complete);
        Assert.True(r.Chunked || r.Header("Content-Length") == "23", r.ToString());
        Assert.Equal("one,two,three,four,five", r.BodyText);
    }
}

using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class RaisesFixture : ServerFixture
{
    protected override string App => "raises:app";

    // One worker: the close() counter is a module global of that worker.
    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2"];
}

/// <summary>App errors before and after the headers, exc_info, and close().</summary>
public sealed class ErrorTests(RaisesFixture fx) : IClassFixture<RaisesFixture>
{
    private async Task<int> CloseCountAsync()
    {
        using var resp = await fx.Client.GetAsync("/closecount");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        return int.Parse(await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RaiseBeforeStartResponse_Gives500_AndTracebackInLog()
    {
        using var resp = await fx.Client.GetAsync("/before");
        Assert.Equal(HttpStatusCode.InternalServerError, resp.StatusCode);
        await resp.Content.ReadAsByteArrayAsync();
        bool logged = await fx.Server.WaitForOutputAsync("kwsgi-test: raised before start_response", TimeSpan.FromSeconds(5));
        Assert.True(logged, $"the exception message is not in the server's output\n{fx.Server.Describe()}");
        Assert.Contains("Traceback", fx.Server.Output);
        // The traceback should not leak to the client.
        Assert.DoesNotContain("kwsgi-test", await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task RaiseAfterFirstChunk_AbortsTheConnection_ServerKeepsServing()
    {
        // The app raises right after yielding: the chunk and the error race, so the abort may come
        // before or after the head was flushed. Either way the client must not see a complete message.
        await using (var conn = await RawHttpConnection.ConnectAsync(fx.Port))
        {
            await conn.SendAsync($"GET /after HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n");
            RawResponse? resp = null;
            try
            {
                resp = await conn.ReadResponseAsync(timeout: TimeSpan.FromSeconds(15));
            }
            catch (IOException)
            {
                // closed before (or inside) the response head: aborted
            }
            if (resp is not null)
            {
                Assert.True(resp.Status == 200, $"the app had already called start_response(200):\n{resp}");
                Assert.False(resp.Complete, $"the response must be cut short (no terminating chunk), got a complete message:\n{resp}");
            }
            Assert.True(conn.AtEof, "the connection must be closed");
        }

        // HttpClient sees a failed response too.
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var r = await fx.Client.GetAsync("/after");
            await r.Content.ReadAsByteArrayAsync();
        });

        for (int i = 0; i < 5; i++)
        {
            using var ok = await fx.Client.GetAsync("/withclose");
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
            Assert.Equal("withclose", await ok.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task RaiseHalfASecondAfterFirstChunk_ClientGotHeadAndChunk_ThenTheConnectionIsAborted()
    {
        // PEP 3333: a server must not delay the transmission of a yielded block. The app sleeps
        // 0.5 s after yielding, so head and first chunk must be on the wire before the abort.
        await using var conn = await RawHttpConnection.ConnectAsync(fx.Port);
        var resp = await conn.RequestAsync($"GET /after?delay=0.5 HTTP/1.1\r\nHost: 127.0.0.1:{fx.Port}\r\n\r\n",
            timeout: TimeSpan.FromSeconds(15));
        Assert.Equal(200, resp.Status);
        Assert.True(resp.Chunked, $"expected a chunked response head:\n{resp}");
        Assert.Equal("first chunk\n", resp.BodyText);
        Assert.False(resp.Complete, $"the response must be cut short (no terminating chunk), got a complete message:\n{resp}");
        Assert.True(conn.AtEof, "the connection must be closed");
        bool logged = await fx.Server.WaitForOutputAsync("kwsgi-test: raised after the first chunk", TimeSpan.FromSeconds(5));
        Assert.True(logged, $"the exception is not in the server's output\n{fx.Server.Describe()}");
    }

    [Fact]
    public async Task StartResponseWithExcInfo_BeforeBody_Sends500WithAppBody()
    {
        using var resp = await fx.Client.GetAsync("/excinfo");
        Assert.Equal(HttpStatusCode.InternalServerError, resp.StatusCode);
        Assert.Equal("custom error", await resp.Content.ReadAsStringAsync());
        Assert.Equal("text/plain", resp.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task IterableClose_IsCalledExactlyOnce()
    {
        int before = await CloseCountAsync();
        using (var resp = await fx.Client.GetAsync("/withclose"))
        {
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            Assert.Equal("withclose", await resp.Content.ReadAsStringAsync());
        }
        int after = before;
        await ProcInfo.WaitUntilAsync(() => (after = CloseCountAsync().GetAwaiter().GetResult()) > before, TimeSpan.FromSeconds(3), 100);
        Assert.True(after == before + 1, $"close() ran {after - before} times after one request");
        await Task.Delay(500);
        Assert.Equal(before + 1, await CloseCountAsync());
    }

    [Fact]
    public async Task IterableClose_IsCalledForHeadRequests()
    {
        int before = await CloseCountAsync();
        using (var req = new HttpRequestMessage(HttpMethod.Head, "/withclose"))
        using (var resp = await fx.Client.SendAsync(req))
        {
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        }
        int after = before;
        await ProcInfo.WaitUntilAsync(() => (after = CloseCountAsync().GetAwaiter().GetResult()) > before, TimeSpan.FromSeconds(3), 100);
        Assert.Equal(before + 1, after);
    }
}

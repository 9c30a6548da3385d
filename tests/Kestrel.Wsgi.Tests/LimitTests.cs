using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class LimitFixture : ServerFixture
{
    protected override string App => "readerror:app";

    protected override string[] ExtraArgs =>
    [
        "--workers", "1", "--threads", "1",
        "--max-request-body-size", "100000",
        "--limit-request-line", "1024",
        "--limit-request-fields", "20",
        "--max-request-header-size", "8192",
        "--limit-request-field-size", "2048",
    ];
}

/// <summary>
/// Request limits as a client sees them on the wire (raw sockets, exact status codes): 414 for the request
/// line, 431 for header count, header block and single field, 413 for a body up front and mid-stream.
/// </summary>
public sealed class LimitTests(LimitFixture fx) : IClassFixture<LimitFixture>
{
    private async Task<RawResponse> SendAsync(string request)
    {
        await using var connection = await RawHttpConnection.ConnectAsync(fx.Port);
        return await connection.RequestAsync(request);
    }

    private static string Get(string target, string extraHeaders = "") =>
        $"GET {target} HTTP/1.1\r\nHost: x\r\n{extraHeaders}Connection: close\r\n\r\n";

    private static string Headers(int count, int valueLength) =>
        string.Concat(Enumerable.Range(0, count).Select(i => $"X-H{i}: {new string('v', valueLength)}\r\n"));

    /// <summary>What the app recorded of each body it read (readerror.py).</summary>
    private async Task<JsonElement[]> AppLogAsync() =>
        Json.Parse(await fx.Client.GetByteArrayAsync("/log")).EnumerateArray().ToArray();

    [Fact]
    public async Task RequestLine_PastLimit_Answers414_AndBelowIsServed()
    {
        var ok = await SendAsync(Get("/" + new string('a', 900)));
        Assert.True(ok.Status == 200, ok.ToString());

        var refused = await SendAsync(Get("/" + new string('a', 1100)));
        Assert.True(refused.Status == 414, refused.ToString());
    }

    [Fact]
    public async Task HeaderCount_PastLimit_Answers431()
    {
        var ok = await SendAsync(Get("/", Headers(10, 10)));
        Assert.True(ok.Status == 200, ok.ToString());

        var refused = await SendAsync(Get("/", Headers(30, 10)));
        Assert.True(refused.Status == 431, refused.ToString());
    }

    [Fact]
    public async Task HeaderBlock_PastLimit_Answers431_EvenWhenEachFieldIsSmall()
    {
        // 10 fields of ~1 KiB: each under --limit-request-field-size, together over --max-request-header-size.
        var ok = await SendAsync(Get("/", Headers(5, 1000)));
        Assert.True(ok.Status == 200, ok.ToString());

        var refused = await SendAsync(Get("/", Headers(10, 1000)));
        Assert.True(refused.Status == 431, refused.ToString());
    }

    [Fact]
    public async Task SingleField_PastLimit_Answers431_WithTheReason()
    {
        var ok = await SendAsync(Get("/", $"X-One: {new string('c', 1900)}\r\n"));
        Assert.True(ok.Status == 200, ok.ToString());

        // Under the header block limit, over the per-field one: the front's check, not Kestrel's.
        var refused = await SendAsync(Get("/", $"X-One: {new string('c', 3000)}\r\n"));
        Assert.True(refused.Status == 431, refused.ToString());
        Assert.Contains("--limit-request-field-size", refused.BodyText);
    }

    [Fact]
    public async Task ContentLength_PastLimit_Answers413_WithoutWaitingForTheBody()
    {
        int before = (await AppLogAsync()).Length;
        // Only the head is sent: an answer at all proves the body was never waited for.
        var refused = await SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\n\r\n");
        Assert.True(refused.Status == 413, refused.ToString());
        Assert.Equal("close", refused.Header("Connection"));
        Assert.Contains("larger than 100000 bytes", refused.BodyText);

        // With Expect: 100-continue the client is told not to send it (no 100 Continue first).
        var expecting = await SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 200000\r\nExpect: 100-continue\r\n\r\n");
        Assert.True(expecting.Status == 413, expecting.ToString());
        Assert.Equal(before, (await AppLogAsync()).Length); // the app never ran
    }

    [Fact]
    public async Task Body_AtTheLimit_IsServed()
    {
        string body = new('b', 100000);
        var ok = await SendAsync($"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}");
        Assert.True(ok.Status == 200, ok.ToString());
        Assert.Equal("100000", ok.BodyText);
    }

    [Fact]
    public async Task ChunkedBody_AtTheLimit_IsServed_ChunkFramingDoesNotCount()
    {
        // 100 chunks of 1,000 bytes: 100,000 body bytes and ~700 of framing (Kestrel's own limit would count those).
        string chunks = string.Concat(Enumerable.Repeat($"{1000:x}\r\n{new string('e', 1000)}\r\n", 100));
        var ok = await SendAsync($"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunks}0\r\n\r\n");
        Assert.True(ok.Status == 200, ok.ToString());
        Assert.Equal("100000", ok.BodyText);
    }

    [Fact]
    public async Task ChunkedBody_PastLimit_Answers413_MidStream_AndTheAppNeverRuns()
    {
        int before = (await AppLogAsync()).Length;
        await using var connection = await RawHttpConnection.ConnectAsync(fx.Port);
        await connection.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        string chunk = $"{40000:x}\r\n{new string('d', 40000)}\r\n";
        for (int i = 0; i < 3; i++)
        {
            await connection.SendAsync(chunk);
        }
        var refused = await connection.ReadResponseAsync();
        Assert.True(refused.Status == 413, refused.ToString());
        Assert.Equal("close", refused.Header("Connection"));

        // Buffered (the default): the body was refused before a worker was taken.
        Assert.Equal(before, (await AppLogAsync()).Length);
    }

    [Theory]
    [InlineData("--max-request-body-size -1")]
    [InlineData("--max-request-body-size lots")]
    [InlineData("--limit-request-line 2000000")]
    [InlineData("--limit-request-fields 40000")]
    [InlineData("--limit-request-field-size -5")]
    [InlineData("--max-request-header-size 0")]
    [InlineData("--backlog 0")]
    [InlineData("--keep-alive 0")]
    [InlineData("--request-headers-timeout -3")]
    [InlineData("--min-request-body-rate -1")]
    [InlineData("--min-response-rate NaN")]
    [InlineData("--buffer-request-body true --no-buffer-request-body")]
    [InlineData("--tmp-dir /nonexistent_kwsgi_tmp")]
    public async Task BadLimitOption_ExitsWithCode2_NamingIt(string option)
    {
        string[] args = [.. option.Split(' '), "--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"];
        var exit = await KwsgiProcess.RunToExitAsync(args, TimeSpan.FromSeconds(30));
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Contains(option.Split(' ')[0], exit.Stderr);
    }
}

/// <summary>
/// Bodies that stream to the worker (<c>--no-buffer-request-body</c>). A chunked body is still read whole first (its
/// length becomes CONTENT_LENGTH), so one past the limit is refused before the app runs. A Content-Length body
/// streams: when its client leaves half-way, the app is already reading; its next read raises instead of hanging,
/// and the worker thread is freed.
/// </summary>
public sealed class StreamedBodyLimitTests
{
    private static async Task<JsonElement[]> AppLogAsync(KwsgiProcess server, int entries)
    {
        JsonElement[] log = [];
        await Poll.UntilAsync(async () =>
        {
            log = Json.Parse(await server.Client.GetByteArrayAsync("/log")).EnumerateArray().ToArray();
            return log.Length >= entries;
        }, TimeSpan.FromSeconds(20));
        return log;
    }

    [Fact]
    public async Task ChunkedBody_PastLimit_Answers413_BeforeTheAppRuns()
    {
        await using var server = await KwsgiProcess.StartAsync("readerror:app",
            "--workers", "1", "--threads", "1", "--pipeline", "0", "--max-request-body-size", "100000", "--no-buffer-request-body");
        await using (var connection = await RawHttpConnection.ConnectAsync(server.Port))
        {
            await connection.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            string chunk = $"{40000:x}\r\n{new string('d', 40000)}\r\n";
            for (int i = 0; i < 3; i++)
            {
                await connection.SendAsync(chunk);
            }
            var refused = await connection.ReadResponseAsync();
            Assert.True(refused.Status == 413, refused.ToString());
        }

        // The one worker thread answers /log at once, and the app never saw the refused body.
        Assert.Empty(await AppLogAsync(server, 0));
        Assert.DoesNotContain("Traceback", server.Stderr);
    }

    [Fact]
    public async Task ContentLengthBody_ClientLeavesHalfway_TheAppsReadRaises_AndTheThreadIsFreed()
    {
        await using var server = await KwsgiProcess.StartAsync("readerror:app",
            "--workers", "1", "--threads", "1", "--pipeline", "0", "--no-buffer-request-body");
        await using (var connection = await RawHttpConnection.ConnectAsync(server.Port))
        {
            await connection.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
            await connection.SendAsync(new string('d', 100000));
            // Time for the head to reach the app, which then waits in its read for the rest; the client goes.
            await Task.Delay(1000);
        }

        JsonElement[] log = await AppLogAsync(server, 1);
        JsonElement entry = Assert.Single(log);
        Assert.Equal("ClientDisconnected", entry.GetProperty("ended").GetString());
        Assert.True(entry.GetProperty("oserror").GetBoolean());
        Assert.True(entry.GetProperty("read").GetInt32() < 1000000);
        Assert.DoesNotContain("Traceback", server.Stderr);
    }
}

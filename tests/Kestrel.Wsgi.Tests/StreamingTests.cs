using System.Diagnostics;
using System.Net;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class StreamFixture : ServerFixture
{
    protected override string App => "stream:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "4"];
}

/// <summary>A generator's chunks reach the client as they are yielded.</summary>
public sealed class StreamingTests(StreamFixture fx) : IClassFixture<StreamFixture>
{
    [Fact]
    public async Task Chunks_ArriveAsYielded_NotBufferedToTheEnd()
    {
        var sw = Stopwatch.StartNew();
        using var resp = await fx.Client.GetAsync("/?n=4&delay=0.5", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.True(resp.Headers.TransferEncodingChunked == true, "a streamed body without Content-Length must be chunked");
        Assert.Null(resp.Content.Headers.ContentLength);

        await using var stream = await resp.Content.ReadAsStreamAsync();
        var received = new MemoryStream();
        var buf = new byte[4096];
        double firstChunkAt = -1;
        int n;
        while ((n = await stream.ReadAsync(buf)) > 0)
        {
            received.Write(buf, 0, n);
            if (firstChunkAt < 0 && Array.IndexOf(received.ToArray(), (byte)'\n') >= 0)
            {
                firstChunkAt = sw.Elapsed.TotalSeconds;
            }
        }
        double total = sw.Elapsed.TotalSeconds;
        Assert.Equal("chunk 0\nchunk 1\nchunk 2\nchunk 3\n", Encoding.ASCII.GetString(received.ToArray()));
        Assert.True(firstChunkAt < 1.0, $"first chunk arrived after {firstChunkAt:0.000} s (should be immediate; total {total:0.000} s)");
        Assert.True(total >= 1.5, $"whole response took only {total:0.000} s; the app sleeps 3 × 0.5 s");
    }

    [Fact]
    public async Task ConcurrentStreams_OnOneWorkerWithFourThreads_Overlap()
    {
        var sw = Stopwatch.StartNew();
        var tasks = Enumerable.Range(0, 3).Select(async _ =>
        {
            using var resp = await fx.Client.GetAsync("/?n=3&delay=0.5");
            return (resp.StatusCode, await resp.Content.ReadAsStringAsync());
        }).ToArray();
        var results = await Task.WhenAll(tasks);
        double total = sw.Elapsed.TotalSeconds;
        Assert.All(results, r =>
        {
            Assert.Equal(HttpStatusCode.OK, r.StatusCode);
            Assert.Equal("chunk 0\nchunk 1\nchunk 2\n", r.Item2);
        });
        // Each takes ~1 s; run one after another they would take ~3 s.
        Assert.True(total < 2.5, $"3 concurrent 1-second streams took {total:0.000} s: they did not run concurrently");
    }
}

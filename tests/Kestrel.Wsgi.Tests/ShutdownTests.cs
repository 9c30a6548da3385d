using System.Diagnostics;
using System.Net;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>SIGTERM drains in-flight requests; no worker outlives the front.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Sigterm_LetsInFlightRequestFinish_ThenExitsZero_AndWorkersAreGone()
    {
        await using var server = await KwsgiProcess.StartAsync("stream:app", "--workers", "2", "--graceful-timeout", "10");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.True(workers.Count == 2, $"expected 2 workers, found {workers.Count}");

        using var resp = await server.Client.GetAsync("/?n=2&delay=1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        await using var stream = await resp.Content.ReadAsStreamAsync();
        var received = new MemoryStream();
        var buf = new byte[1024];
        // Wait until the first chunk is here: the request is certainly in flight.
        while (!Encoding.ASCII.GetString(received.ToArray()).Contains('\n'))
        {
            int n = await stream.ReadAsync(buf);
            Assert.True(n > 0, "response ended before the first chunk");
            received.Write(buf, 0, n);
        }

        Assert.True(server.SendSignal(ProcInfo.SIGTERM));
        int m;
        while ((m = await stream.ReadAsync(buf)) > 0)
        {
            received.Write(buf, 0, m);
        }
        Assert.Equal("chunk 0\nchunk 1\n", Encoding.ASCII.GetString(received.ToArray()));

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(15)), $"kwsgi still running 15 s after SIGTERM\n{server.Describe()}");
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode} after SIGTERM\n{server.Describe()}");
        bool gone = await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(5));
        Assert.True(gone, $"workers still alive after the front exited: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
    }

    [Fact]
    public async Task Sigterm_IdleServer_ExitsZeroPromptly()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "2");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.Equal(2, workers.Count);
        Assert.True(server.SendSignal(ProcInfo.SIGTERM));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(10)), $"idle kwsgi still running 10 s after SIGTERM\n{server.Describe()}");
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}\n{server.Describe()}");
        bool gone = await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(5));
        Assert.True(gone, $"workers still alive: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
    }

    [Fact]
    public async Task Sigkill_OfFront_TakesWorkersDownWithin3Seconds()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "2");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.True(workers.Count == 2, $"expected 2 workers, found {workers.Count}");
        Assert.True(server.SendSignal(ProcInfo.SIGKILL));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(5)));
        var sw = Stopwatch.StartNew();
        bool gone = await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(3), 20);
        Assert.True(gone,
            $"workers still alive {sw.Elapsed.TotalSeconds:0.0} s after SIGKILL of the front: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
    }
}

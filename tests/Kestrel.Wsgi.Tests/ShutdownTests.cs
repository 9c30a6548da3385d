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
        // Wait until the first chunk is here: the request is certainly in flight.
        MemoryStream received = await StreamedBody.ReadFirstLineAsync(stream);
        var buf = new byte[1024];

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

    [Fact]
    public async Task Sigint_RequestOutlastingTheGracefulTimeout_IsCut_AndExitIsStillZero()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "1", "--graceful-timeout", "2");
        var workers = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(120));
        Task<HttpResponseMessage> endless = client.GetAsync("/sleep?s=600");
        await Task.Delay(500); // let it reach the worker
        Assert.True(server.SendSignal(2)); // SIGINT, as Ctrl-C
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"kwsgi still running 30 s after SIGINT with --graceful-timeout 2\n{server.Describe()}");
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}\n{server.Describe()}");
        await Assert.ThrowsAnyAsync<Exception>(async () => (await endless).EnsureSuccessStatusCode());
        Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(5)), "the busy worker outlived the front");
    }

    [Fact]
    public async Task Sigkill_OfFront_WhileEveryWorkerThreadIsBusy_TakesWorkersDown()
    {
        // No thread reads the channel while all are in the app: the parent watch has to notice.
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "1", "--threads", "2");
        var workers = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(120));
        Task[] busy = [client.GetAsync("/sleep?s=600"), client.GetAsync("/sleep?s=600")];
        await Task.Delay(500);
        Assert.True(server.SendSignal(ProcInfo.SIGKILL));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(5)));
        bool gone = await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10), 50);
        Assert.True(gone, $"busy worker still alive 10 s after SIGKILL of the front: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
        await Task.WhenAll(busy.Select(t => t.ContinueWith(_ => { }, TaskScheduler.Default)));
    }
}

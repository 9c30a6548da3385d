using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--max-requests and --max-worker-memory replace workers without failing a single request.</summary>
public sealed class RecycleTests
{
    [Fact]
    public async Task MaxRequests_RecyclesWorkersSeveralTimes_UnderSteadyLoad_WithZeroFailures()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app",
            "--workers", "2", "--threads", "2", "--max-requests", "20", "--max-requests-jitter", "5");
        var initial = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));

        await using var load = new SteadyLoad(server, clients: 4);
        // A worker keeps serving past its limit until its successor is ready, so count recycles, not requests.
        bool recycled = await ProcInfo.WaitUntilAsync(() => server.Stdout.Split("(--max-requests)").Length > 5, TimeSpan.FromSeconds(120), 100);
        Assert.True(recycled, $"fewer than 5 recycles after {load.Succeeded} requests\n{server.Describe()}");
        long served = load.Succeeded;
        Assert.True(await load.WaitForSuccessesAsync(served + 20, TimeSpan.FromSeconds(30)));
        await load.StopAsync();

        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests: {string.Join("; ", load.Failures.Take(5))}\n{server.Describe()}");
        Assert.True(load.Pids.Count >= 5, $"answers came from {load.Pids.Count} worker pids ({string.Join(",", load.Pids)}); expected several recycles\n{server.Describe()}");
        // Retired workers exit: the pool is back to two live workers, none of them an original.
        List<int> now = [];
        bool settled = await ProcInfo.WaitUntilAsync(() => (now = server.WorkerPids()).Count == 2, TimeSpan.FromSeconds(30), 100);
        Assert.True(settled, $"workers alive: {string.Join(",", now)}\n{server.Describe()}");
        Assert.Empty(now.Intersect(initial));
        Assert.All(initial, pid => Assert.False(ProcInfo.IsAlive(pid), $"original worker {pid} is still alive"));
    }

    [Fact]
    public async Task MaxWorkerMemory_WorkerThatGrowsPastIt_IsReplacedGracefully()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "1", "--threads", "2", "--max-worker-memory", "400");
        var initial = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        long before = ProcInfo.RssBytes(initial[0]) ?? 0;
        Assert.True(before < 300L << 20, $"a fresh worker already uses {before >> 20} MiB; the test's limit is too low for this machine");

        await using var load = new SteadyLoad(server, clients: 2);
        Assert.True(await load.WaitForSuccessesAsync(20, TimeSpan.FromSeconds(30)));
        using (var grow = await server.Client.GetAsync("/grow?mb=450"))
        {
            Assert.Equal(HttpStatusCode.OK, grow.StatusCode);
            Assert.Equal(initial[0].ToString(), await grow.Content.ReadAsStringAsync());
        }

        bool replaced = await ProcInfo.WaitUntilAsync(() => !ProcInfo.IsAlive(initial[0]), TimeSpan.FromSeconds(30), 100);
        long after = load.Succeeded;
        Assert.True(await load.WaitForSuccessesAsync(after + 20, TimeSpan.FromSeconds(30)));
        await load.StopAsync();
        Assert.True(replaced, $"worker {initial[0]} (RSS {ProcInfo.RssBytes(initial[0]) >> 20} MiB) is still alive\n{server.Describe()}");
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests: {string.Join("; ", load.Failures.Take(5))}\n{server.Describe()}");
        Assert.Contains("--max-worker-memory", server.Stdout);
        var now = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        Assert.True(now.Count == 1 && now[0] != initial[0], $"workers now: {string.Join(",", now)}");
        Assert.Contains(now[0], load.Pids);
    }
}

using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>SIGHUP and --reload-file replace every worker under load with zero failed requests.</summary>
public sealed class ReloadTests
{
    private const int SIGHUP = 1;

    private static async Task AssertReloadsAsync(KwsgiProcess server, Func<Task> trigger, int times)
    {
        var generation = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        await using var load = new SteadyLoad(server, clients: 4);
        Assert.True(await load.WaitForSuccessesAsync(20, TimeSpan.FromSeconds(30)));
        for (int i = 1; i <= times; i++)
        {
            await trigger();
            bool done = await ProcInfo.WaitUntilAsync(() => Count(server.Stdout, "Reload done") >= i, TimeSpan.FromSeconds(60), 100);
            Assert.True(done, $"reload {i} did not finish\n{server.Describe()}");
            // Every worker of the previous generation leaves once it has finished its requests.
            List<int> now = [];
            bool replaced = await ProcInfo.WaitUntilAsync(() =>
            {
                now = server.WorkerPids();
                return now.Count == 2 && !now.Intersect(generation).Any();
            }, TimeSpan.FromSeconds(30), 100);
            Assert.True(replaced, $"after reload {i}: workers {string.Join(",", now)}, before {string.Join(",", generation)}\n{server.Describe()}");
            long served = load.Succeeded;
            Assert.True(await load.WaitForSuccessesAsync(served + 20, TimeSpan.FromSeconds(30)), "requests stopped after a reload");
            Assert.Contains(now[0], load.Pids);
            generation = now;
        }
        await load.StopAsync();
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests: {string.Join("; ", load.Failures.Take(5))}\n{server.Describe()}");
        Assert.True(ProcInfo.IsAlive(server.Pid));
    }

    private static int Count(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    [Fact]
    public async Task Sighup_ReplacesEveryWorker_UnderLoad_WithZeroFailures()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "2", "--threads", "2", "--ready-when", "all");
        await AssertReloadsAsync(server, () =>
        {
            Assert.True(server.SendSignal(SIGHUP));
            return Task.CompletedTask;
        }, times: 2);
    }

    [Fact]
    public async Task TouchingTheReloadFile_ReplacesEveryWorker_UnderLoad_WithZeroFailures()
    {
        string folder = Directory.CreateTempSubdirectory("kwsgi-reload-").FullName;
        try
        {
            string file = Path.Combine(folder, "reload.touch");
            await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "2", "--threads", "2", "--ready-when", "all", "--reload-file", file);
            int touches = 0;
            await AssertReloadsAsync(server, async () =>
            {
                // The first touch creates the file; the second changes its time.
                await File.WriteAllTextAsync(file, $"{++touches}");
                File.SetLastWriteTimeUtc(file, DateTime.UtcNow.AddSeconds(touches));
            }, times: 2);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}

using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--timeout: the hung request gets 504, its worker is replaced, its worker's other requests get 502, other workers are untouched.</summary>
public sealed class TimeoutTests : IDisposable
{
    private readonly string _tags = Directory.CreateTempSubdirectory("kwsgi-timeout-").FullName;

    public void Dispose() => Directory.Delete(_tags, recursive: true);

    /// <summary>Starts a request that writes its worker's pid to a tag file and then sleeps; returns once it runs.</summary>
    private async Task<(Task<HttpResponseMessage> Response, int Pid)> StartSleeperAsync(HttpClient client, string name, double seconds)
    {
        string tag = Path.Combine(_tags, name);
        Task<HttpResponseMessage> response = client.GetAsync($"/sleep?s={seconds}&tag={Uri.EscapeDataString(tag)}");
        Assert.True(await ProcInfo.WaitUntilAsync(() => File.Exists(tag) && new FileInfo(tag).Length > 0, TimeSpan.FromSeconds(20)), $"{name} never started");
        return (response, int.Parse(await File.ReadAllTextAsync(tag)));
    }

    private static Task DelayUntilAsync(System.Diagnostics.Stopwatch clock, TimeSpan at) =>
        at > clock.Elapsed ? Task.Delay(at - clock.Elapsed) : Task.CompletedTask;

    [Fact]
    public async Task HungRequest_Gets504_ItsWorkersOtherRequestGets502_AndTheWorkerIsReplaced()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "1", "--threads", "2", "--timeout", "3");
        var initial = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(60));

        var started = System.Diagnostics.Stopwatch.StartNew();
        var hung = await StartSleeperAsync(client, "hung", 300);
        await DelayUntilAsync(started, TimeSpan.FromSeconds(1.5));
        // Its own deadline is 1.5 s after the hung request's: when that worker is killed it is only a bystander.
        var bystander = await StartSleeperAsync(client, "bystander", 300);
        Assert.Equal(hung.Pid, bystander.Pid);

        using HttpResponseMessage hungResponse = await hung.Response;
        Assert.True(hungResponse.StatusCode == HttpStatusCode.GatewayTimeout, $"hung request: {(int)hungResponse.StatusCode}\n{server.Describe()}");
        using HttpResponseMessage bystanderResponse = await bystander.Response;
        Assert.True(bystanderResponse.StatusCode == HttpStatusCode.BadGateway, $"bystander: {(int)bystanderResponse.StatusCode}\n{server.Describe()}");

        using HttpResponseMessage next = await client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        int newPid = int.Parse(await next.Content.ReadAsStringAsync());
        Assert.NotEqual(initial[0], newPid);
        Assert.True(await ProcInfo.WaitUntilAsync(() => !ProcInfo.IsAlive(initial[0]), TimeSpan.FromSeconds(10)), "the timed-out worker is still alive");
        Assert.Contains("--timeout", server.Stdout);
    }

    [Fact]
    public async Task HungRequest_LeavesRequestsOnOtherWorkersAlone()
    {
        // One thread per worker and no pipeline: a request sent while the hung one runs must go to the other worker.
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "2", "--threads", "1", "--pipeline", "0", "--timeout", "4", "--ready-when", "all");
        await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(60));

        var started = System.Diagnostics.Stopwatch.StartNew();
        var hung = await StartSleeperAsync(client, "hung", 300);
        await DelayUntilAsync(started, TimeSpan.FromSeconds(2));
        // Runs from about 2 s to 4.5 s: across the moment the hung request's worker is killed (about 4 s).
        var other = await StartSleeperAsync(client, "other", 2.5);
        Assert.NotEqual(hung.Pid, other.Pid);

        using HttpResponseMessage hungResponse = await hung.Response;
        Assert.True(hungResponse.StatusCode == HttpStatusCode.GatewayTimeout, $"hung request: {(int)hungResponse.StatusCode}\n{server.Describe()}");
        using HttpResponseMessage otherResponse = await other.Response;
        Assert.True(otherResponse.StatusCode == HttpStatusCode.OK, $"request on the other worker: {(int)otherResponse.StatusCode}\n{server.Describe()}");
        Assert.Equal(other.Pid.ToString(), await otherResponse.Content.ReadAsStringAsync());
        Assert.True(ProcInfo.IsAlive(other.Pid), "the other worker was killed too");

        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage after = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        }
        // The killed worker may not have been reaped yet when its successor already runs.
        Assert.True(await ProcInfo.WaitUntilAsync(() => !ProcInfo.IsAlive(hung.Pid), TimeSpan.FromSeconds(10)), $"worker {hung.Pid} is still alive");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(hung.Pid, workers);
        Assert.Contains(other.Pid, workers);
    }
}

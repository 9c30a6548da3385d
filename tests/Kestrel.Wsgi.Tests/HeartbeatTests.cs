using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>A worker stuck in C code with the GIL held is found by its heartbeat and replaced.</summary>
public sealed class HeartbeatTests
{
    [Fact]
    public async Task WorkerHoldingTheGil_IsKilledAndReplaced_OtherWorkerKeepsServing()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "2", "--threads", "2", "--heartbeat-timeout", "3");
        var initial = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(120));

        Task<HttpResponseMessage> spin = client.GetAsync("/spin");
        // The spinning request never ends by itself: the only way out is the heartbeat watch.
        using HttpResponseMessage spun = await spin;
        Assert.True(spun.StatusCode == HttpStatusCode.BadGateway, $"spinning request: {(int)spun.StatusCode}\n{server.Describe()}");
        Assert.Contains("GIL has been held", server.Stdout);

        List<int> now = [];
        bool replaced = await ProcInfo.WaitUntilAsync(() => (now = server.WorkerPids()).Count == 2 && now.Except(initial).Count() == 1, TimeSpan.FromSeconds(20), 100);
        Assert.True(replaced, $"workers before {string.Join(",", initial)}, after {string.Join(",", now)}\n{server.Describe()}");
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task WorkerBusyInPythonOrAsleep_IsNotMistakenForStuck()
    {
        await using var server = await KwsgiProcess.StartAsync("lifecycle:app", "--workers", "1", "--threads", "2", "--heartbeat-timeout", "2");
        var initial = await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(60));
        // Both threads asleep for longer than the heartbeat timeout: nobody reads the channel, the GIL is free.
        Task<HttpResponseMessage>[] sleepers = [client.GetAsync("/sleep?s=5"), client.GetAsync("/sleep?s=5")];
        foreach (Task<HttpResponseMessage> sleeper in sleepers)
        {
            using HttpResponseMessage response = await sleeper;
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}\n{server.Describe()}");
        }
        Assert.Equal(initial, server.WorkerPids());
        Assert.DoesNotContain("unresponsive", server.Stdout);
    }
}

using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class CrashFixture : ServerFixture
{
    protected override string App => "crash:app";

    protected override string[] ExtraArgs => ["--workers", "2", "--threads", "2"];
}

/// <summary>A worker that dies: 502 for its request, a respawn, and no other harm.</summary>
public sealed class CrashTests(CrashFixture fx) : IClassFixture<CrashFixture>
{
    [Fact]
    public async Task WorkerExit_Gives502_IsRespawned_AndServiceContinues()
    {
        var before = await fx.Server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.True(before.Count == 2, $"expected 2 workers before the crash, found {before.Count}: {string.Join(",", before)}");

        // Worker pids as seen by the app are worker processes of this server.
        using (var pidResp = await fx.Client.GetAsync("/pid"))
        {
            Assert.Equal(HttpStatusCode.OK, pidResp.StatusCode);
            Assert.Contains(int.Parse(await pidResp.Content.ReadAsStringAsync()), before);
        }

        using (var resp = await fx.Client.GetAsync("/exit"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, resp.StatusCode);
        }

        List<int> after = [];
        bool respawned = await ProcInfo.WaitUntilAsync(() =>
        {
            after = fx.Server.WorkerPids();
            return after.Count == 2 && after.Except(before).Count() == 1;
        }, TimeSpan.FromSeconds(10), 100);
        Assert.True(respawned,
            $"workers before {string.Join(",", before)}, after {string.Join(",", after)}: expected one dead and one new\n{fx.Server.Describe()}");
        Assert.True(ProcInfo.IsAlive(fx.Server.Pid));

        var seenPids = new HashSet<int>();
        for (int i = 0; i < 20; i++)
        {
            using var resp = await fx.Client.GetAsync(i % 2 == 0 ? "/" : "/pid");
            string body = await resp.Content.ReadAsStringAsync();
            Assert.True(resp.StatusCode == HttpStatusCode.OK, $"request {i} after the crash: {(int)resp.StatusCode} {body}");
            if (i % 2 == 0)
            {
                Assert.Equal("ok", body);
            }
            else
            {
                seenPids.Add(int.Parse(body));
            }
        }
        Assert.All(seenPids, p => Assert.Contains(p, after));
    }
}

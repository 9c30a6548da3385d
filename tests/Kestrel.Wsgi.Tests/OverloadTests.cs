using System.Diagnostics;
using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// More requests than the workers, their pipelines and the queue can hold: the excess gets a fast 503 with
/// Retry-After, nothing hangs, the front's memory stays bounded, and the server serves normally the moment
/// the load stops.
/// </summary>
public sealed class OverloadTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    private sealed record Outcome(HttpStatusCode Status, bool HasRetryAfter, double Ms);

    private static async Task<Outcome> TimedGetAsync(HttpClient client, string path)
    {
        var watch = Stopwatch.StartNew();
        using HttpResponseMessage response = await client.GetAsync(path);
        await response.Content.ReadAsByteArrayAsync();
        return new Outcome(response.StatusCode, response.Headers.RetryAfter is not null, watch.Elapsed.TotalMilliseconds);
    }

    private static double Percentile(IEnumerable<double> values, double p)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length == 0 ? 0 : sorted[(int)Math.Min(sorted.Length - 1, Math.Floor(p * sorted.Length))];
    }

    /// <summary>Samples the front's RSS until disposed; <see cref="Peak"/> is the highest seen.</summary>
    private sealed class RssSampler : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public RssSampler(int pid)
        {
            Baseline = Peak = ProcInfo.RssBytes(pid) ?? throw new InvalidOperationException($"no RSS for {pid}");
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    Peak = Math.Max(Peak, ProcInfo.RssBytes(pid) ?? 0);
                    await Task.Delay(50);
                }
            });
        }

        public long Baseline { get; }

        public long Peak { get; private set; }

        public async ValueTask DisposeAsync()
        {
            _stop.Cancel();
            await _loop;
            _stop.Dispose();
        }
    }

    /// <summary>After the load: the very next requests are served, with no 503 left over.</summary>
    private static async Task AssertServesNormallyAsync(KwsgiProcess server)
    {
        // The last served requests release their worker threads a moment after their responses leave.
        bool served = await Poll.UntilAsync(async () => (await server.Client.GetAsync("/?s=0")).StatusCode == HttpStatusCode.OK, TimeSpan.FromSeconds(10));
        Assert.True(served, "the server did not serve again after the load stopped\n" + server.Describe());
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("slept", await server.Client.GetStringAsync("/?s=0"));
        }
    }

    [Fact]
    public async Task Burst_FarPastCapacity_ExcessGetsFast503_NothingHangs_Recovers()
    {
        // Room for 6: two threads and a queue of four. The app holds each for 3 s.
        await using var server = await KwsgiProcess.StartAsync("slow:app", "--workers", "1", "--threads", "2", "--pipeline", "0", "--max-queue", "4");
        using var client = server.CreateClient(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/?s=0")).StatusCode); // warm up

        const int total = 300;
        Outcome[] outcomes;
        long growth;
        await using (var rss = new RssSampler(server.Pid))
        {
            outcomes = await Task.WhenAll(Enumerable.Range(0, total).Select(_ => TimedGetAsync(client, "/?s=3")));
            growth = rss.Peak - rss.Baseline;
        }

        var served = outcomes.Where(o => o.Status == HttpStatusCode.OK).ToList();
        var refused = outcomes.Where(o => o.Status == HttpStatusCode.ServiceUnavailable).ToList();
        output.WriteLine($"{served.Count} served, {refused.Count} refused; 503 latency median {Percentile(refused.Select(o => o.Ms), 0.5):0} ms, " +
            $"p90 {Percentile(refused.Select(o => o.Ms), 0.9):0} ms; front RSS +{growth / MiB} MiB");

        Assert.True(served.Count + refused.Count == total,
            $"answers other than 200 and 503: {string.Join(", ", outcomes.Select(o => (int)o.Status).Where(s => s is not (200 or 503)).Distinct())}");
        Assert.True(served.Count >= 6, $"only {served.Count} requests were served; the workers and the queue hold 6");
        Assert.True(refused.Count >= total / 2, $"only {refused.Count} of {total} were refused");
        Assert.All(refused, o => Assert.True(o.HasRetryAfter, "a 503 without Retry-After"));
        // A 503 never waits for a worker: most come back long before a served request's 3 s of app time.
        Assert.True(Percentile(refused.Select(o => o.Ms), 0.9) < 3000, "the 503s waited as long as the app runs");
        Assert.True(growth < 100 * MiB, $"the front's RSS grew by {growth / MiB} MiB");

        await AssertServesNormallyAsync(server);
    }

    [Fact]
    public async Task TwiceTheSustainableRate_KeepsAnswering_Refuses503_RecoversAtOnce()
    {
        // Two threads, 0.2 s a request: 10 requests a second is what this server can sustain. Send 20 a second
        // for 6 s (open loop: each request starts on schedule, whether or not the earlier ones are answered).
        await using var server = await KwsgiProcess.StartAsync("slow:app", "--workers", "1", "--threads", "2", "--pipeline", "0", "--max-queue", "4");
        using var client = server.CreateClient(TimeSpan.FromSeconds(60));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/?s=0")).StatusCode); // warm up

        const int rate = 20;
        const int seconds = 6;
        var requests = new List<Task<Outcome>>();
        long growth;
        await using (var rss = new RssSampler(server.Pid))
        {
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < rate * seconds; i++)
            {
                TimeSpan due = TimeSpan.FromSeconds((double)i / rate);
                if (due > clock.Elapsed)
                {
                    await Task.Delay(due - clock.Elapsed);
                }
                requests.Add(TimedGetAsync(client, "/?s=0.2"));
            }
            await Task.WhenAll(requests);
            growth = rss.Peak - rss.Baseline;
        }

        Outcome[] outcomes = [.. requests.Select(r => r.Result)];
        var served = outcomes.Where(o => o.Status == HttpStatusCode.OK).ToList();
        var refused = outcomes.Where(o => o.Status == HttpStatusCode.ServiceUnavailable).ToList();
        output.WriteLine($"{served.Count} served (median {Percentile(served.Select(o => o.Ms), 0.5):0} ms), {refused.Count} refused " +
            $"(median {Percentile(refused.Select(o => o.Ms), 0.5):0} ms); front RSS +{growth / MiB} MiB");

        Assert.True(served.Count + refused.Count == outcomes.Length,
            $"answers other than 200 and 503: {string.Join(", ", outcomes.Select(o => (int)o.Status).Where(s => s is not (200 or 503)).Distinct())}");
        Assert.True(refused.Count > 0, "at twice the sustainable rate nothing was refused");
        Assert.True(served.Count >= seconds * 2, $"only {served.Count} requests were served in {seconds} s of load");
        Assert.All(refused, o => Assert.True(o.HasRetryAfter, "a 503 without Retry-After"));
        // Refusals are answered at once; served requests take the app's 0.2 s and their time in the queue.
        Assert.True(Percentile(refused.Select(o => o.Ms), 0.5) < Percentile(served.Select(o => o.Ms), 0.5),
            "503s were not faster than served requests");
        Assert.True(growth < 100 * MiB, $"the front's RSS grew by {growth / MiB} MiB");

        await AssertServesNormallyAsync(server);
    }
}

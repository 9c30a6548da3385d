using System.Diagnostics;
using System.Net;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;
using Kestrel.Wsgi.Tests.Windows;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// The essentials of the end-to-end suite (hello, streaming, an upload under flow control, a worker crash, a
/// drain, the front's death) on a channel transport other than the default socket, forced with KWSGI_CHANNEL;
/// each transport adds what is its own (which names may stay on disk, what a worker maps).
/// </summary>
public abstract class ChannelTransportTests(string transport) : IDisposable
{
    protected const long MiB = 1024 * 1024;

    protected PrivateTemp Temp { get; } = new();

    public void Dispose() => Temp.Dispose();

    protected Task<KwsgiProcess> StartAsync(string app, params string[] args) =>
        Temp.StartAsync(app, args, ("KWSGI_CHANNEL", transport));

    /// <summary>Nothing of this server's channels is left with a name on disk.</summary>
    protected abstract void AssertNoChannelLeft(KwsgiProcess server);

    /// <summary>What identifies a worker's channel from outside (its mapping), to tell a respawned worker got a fresh one; null where nothing does.</summary>
    protected virtual string? ChannelOf(int workerPid) => null;

    protected void AssertWorkersOnTransport(KwsgiProcess server, List<int> workers)
    {
        Assert.NotEmpty(workers);
        foreach (int pid in workers)
        {
            string commandLine = ProcInfo.CommandLine(pid);
            Assert.True(commandLine.Contains($" --channel {transport}:", StringComparison.Ordinal), $"worker {pid} is not on {transport}: {commandLine}\n{server.Describe()}");
        }
    }

    [Fact]
    public async Task Hello_AndNoChannelNameStaysOnDisk()
    {
        await using var server = await StartAsync("hello:app", "--workers", "2", "--threads", "2");
        AssertWorkersOnTransport(server, await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10)));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));
        }
        // Many requests at once over both workers' channels.
        string[] bodies = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => server.Client.GetStringAsync("/")));
        Assert.All(bodies, body => Assert.Equal("Hello, World!", body));
        AssertNoChannelLeft(server);
    }

    [Fact]
    public async Task Streaming_ChunksArriveAsYielded()
    {
        await using var server = await StartAsync("stream:app", "--workers", "1");
        using var resp = await server.Client.GetAsync("/?n=3&delay=1", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        await using var stream = await resp.Content.ReadAsStreamAsync();
        MemoryStream received = await StreamedBody.ReadFirstLineAsync(stream);
        var afterFirst = Stopwatch.StartNew();
        await stream.CopyToAsync(received);
        // The app sleeps 2 x 1 s after the first chunk: had the first chunk been held back with the rest, the
        // remainder would have arrived at once.
        Assert.True(afterFirst.Elapsed >= TimeSpan.FromSeconds(1.5), $"the rest came {afterFirst.Elapsed.TotalSeconds:0.00} s after the first chunk");
        Assert.Equal("chunk 0\nchunk 1\nchunk 2\n", Encoding.ASCII.GetString(received.ToArray()));
    }

    [Fact]
    public async Task Upload_StreamsUnderFlowControl_InBoundedMemory()
    {
        await using var server = await StartAsync("upload:app", "--workers", "1");
        using var client = server.CreateClient(TimeSpan.FromSeconds(180));
        using (var warm = await client.PostAsync("/", new GeneratedContent(2 * MiB, chunked: false)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }
        int worker = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        int[] pids = [server.Pid, worker];
        var baseline = pids.ToDictionary(p => p, p => ProcInfo.RssBytes(p) ?? 0);
        var peak = new Dictionary<int, long>(baseline);
        using var stop = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (int p in pids)
                {
                    peak[p] = Math.Max(peak[p], ProcInfo.RssBytes(p) ?? 0);
                }
                await Task.Delay(50);
            }
        });

        const long size = 64 * MiB;
        string text;
        try
        {
            using var resp = await client.PostAsync("/", new GeneratedContent(size, chunked: true));
            text = await resp.Content.ReadAsStringAsync();
            Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{(int)resp.StatusCode}: {text}");
        }
        finally
        {
            stop.Cancel();
            await sampler;
        }
        var result = Json.Parse(text);
        Assert.Equal(size, result.GetProperty("length").GetInt64());
        Assert.Equal(DataPattern.Sha256Hex(size), result.GetProperty("sha256").GetString());
        foreach (int p in pids)
        {
            // A 1 MiB window per stream each way: nothing near the body's 64 MiB may pile up on either side.
            long growth = peak[p] - baseline[p];
            Assert.True(growth < 40 * MiB, $"{(p == server.Pid ? "front" : "worker")} grew by {growth / (double)MiB:0.0} MiB during a 64 MiB upload");
        }
    }

    [Fact]
    public async Task WorkerCrash_Gives502_AndANewWorkerServes()
    {
        await using var server = await StartAsync("crash:app", "--workers", "1", "--threads", "2");
        int before = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        string? channelBefore = ChannelOf(before);
        using (var resp = await server.Client.GetAsync("/exit"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, resp.StatusCode);
        }
        List<int> after = [];
        Assert.True(await ProcInfo.WaitUntilAsync(() => (after = server.WorkerPids()).Count == 1 && after[0] != before, TimeSpan.FromSeconds(15), 100),
            $"no new worker after the crash of {before}\n{server.Describe()}");
        AssertWorkersOnTransport(server, after);
        // The respawned worker may still be loading the app; requests wait for it, none fails.
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(after[0].ToString(), await server.Client.GetStringAsync("/pid"));
        }
        if (channelBefore is not null)
        {
            Assert.NotEqual(channelBefore, ChannelOf(after[0]));
        }
        AssertNoChannelLeft(server);
    }

    [Fact]
    public async Task Sigterm_DrainsTheInFlightRequest_ThenWorkersExit()
    {
        await using var server = await StartAsync("stream:app", "--workers", "2", "--graceful-timeout", "10");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        using var resp = await server.Client.GetAsync("/?n=2&delay=1", HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await resp.Content.ReadAsStreamAsync();
        MemoryStream received = await StreamedBody.ReadFirstLineAsync(stream);
        Assert.True(server.SendSignal(ProcInfo.SIGTERM));
        await stream.CopyToAsync(received);
        Assert.Equal("chunk 0\nchunk 1\n", Encoding.ASCII.GetString(received.ToArray()));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(20)), $"kwsgi still running after SIGTERM\n{server.Describe()}");
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}\n{server.Describe()}");
        Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10)),
            $"workers still alive: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
        AssertNoChannelLeft(server);
    }

    [Fact]
    public async Task Sigkill_OfTheFront_TakesTheWorkersDown()
    {
        await using var server = await StartAsync("hello:app", "--workers", "2");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.Equal(2, workers.Count);
        Assert.True(server.SendSignal(ProcInfo.SIGKILL));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10), 50),
            $"workers still alive after SIGKILL of the front: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
        AssertNoChannelLeft(server);
    }

    [Fact]
    public async Task Sigkill_OfTheFront_WhileAWorkerImportsTheApp_TakesItDown()
    {
        int port = KwsgiProcess.FreePort();
        string[] args = ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "slowimport:app"];
        await using var server = KwsgiProcess.Launch(args, Temp.Environment(("KWSGI_CHANNEL", transport), ("IMPORT_SECONDS", "4")));
        int worker = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        await Task.Delay(500); // the worker has connected its channel and is importing the app
        Assert.True(server.SendSignal(ProcInfo.SIGKILL));
        // The import takes 4 s; a worker that noticed its front only once loaded would finish it and live on.
        Assert.True(await ProcInfo.WaitUntilAsync(() => !ProcInfo.IsAlive(worker), TimeSpan.FromSeconds(10), 50),
            $"worker {worker} still alive after SIGKILL of the front during start-up");
    }
}

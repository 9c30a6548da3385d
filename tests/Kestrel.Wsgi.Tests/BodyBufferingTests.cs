using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// <c>--buffer-request-body</c> (the default): the front reads the whole body before a worker is taken, larger
/// bodies in a temp file that has no name, is the owner's only, and is closed (so freed) when the request ends,
/// however it ends. <c>--no-buffer-request-body</c> streams the body to a worker taken at once.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")] // reads /proc and Unix file modes
public sealed class BodyBufferingTests(ITestOutputHelper output) : IDisposable
{
    private const long MiB = 1024 * 1024;

    // A fresh --tmp-dir per test: whatever the front spools there is this test's.
    private readonly string _spool = Directory.CreateTempSubdirectory("kwsgi-test-spool-").FullName;

    public void Dispose() => Directory.Delete(_spool, recursive: true);

    private Task<KwsgiProcess> StartAsync(string app, params string[] extra) =>
        KwsgiProcess.StartAsync(app, [.. extra, "--tmp-dir", _spool]);

    /// <summary>Starts a POST of <paramref name="length"/> bytes and sends only the first <paramref name="sent"/>.</summary>
    private static async Task<RawHttpConnection> StartUploadAsync(int port, int length, int sent)
    {
        var connection = await RawHttpConnection.ConnectAsync(port);
        await connection.SendAsync($"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
        await connection.SendAsync(new byte[sent]);
        return connection;
    }

    private async Task<List<(string Link, string Target)>> WaitForSpoolFileAsync(KwsgiProcess server)
    {
        List<(string, string)> files = [];
        bool seen = await ProcInfo.WaitUntilAsync(() => (files = OpenFiles.Under(server.Pid, _spool)).Count > 0, TimeSpan.FromSeconds(20));
        Assert.True(seen, $"the front never opened a spool file in {_spool}\n{server.Describe()}");
        return files;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SlowUpload_HoldsAWorkerOnlyWhenStreamed(bool buffered)
    {
        // One worker thread. Streamed, no queue: the upload holds the thread and every other request gets a 503.
        // Buffered, a queue of one: only so that the upload, dispatched when complete, may wait the moment a
        // finishing request takes to release the thread (a request held behind the upload would time out).
        string[] args = ["--workers", "1", "--threads", "1", "--pipeline", "0"];
        await using var server = await StartAsync("upload:app", buffered ? [.. args, "--max-queue", "1"] : [.. args, "--max-queue", "0", "--no-buffer-request-body"]);
        const int length = 1_000_000;
        RawHttpConnection upload = await StartUploadAsync(server.Port, length, 300_000);
        try
        {
            if (buffered)
            {
                await WaitForSpoolFileAsync(server); // the front is reading it
                for (int i = 0; i < 5; i++)
                {
                    using HttpResponseMessage other = await server.Client.GetAsync("/");
                    Assert.True(other.StatusCode == HttpStatusCode.OK, $"a request waited on a slow upload's worker: {(int)other.StatusCode}");
                    await Task.Delay(100);
                }
            }
            else
            {
                HttpStatusCode status = HttpStatusCode.OK;
                bool held = await Poll.UntilAsync(async () =>
                {
                    using HttpResponseMessage other = await server.Client.GetAsync("/");
                    status = other.StatusCode;
                    if (status == HttpStatusCode.ServiceUnavailable)
                    {
                        return true;
                    }
                    // This request may have reached the worker before the upload's head was parsed, and the upload
                    // been refused (no queue): then the upload starts again.
                    if ((await upload.PeekExtraBytesAsync(TimeSpan.Zero)).Length > 0)
                    {
                        await upload.DisposeAsync();
                        upload = await StartUploadAsync(server.Port, length, 300_000);
                    }
                    return false;
                }, TimeSpan.FromSeconds(20));
                Assert.True(held, $"the streamed upload never took the worker: last status {(int)status}\n{server.Describe()}");
                Assert.Empty(OpenFiles.Under(server.Pid, _spool)); // streamed bodies are never spooled
            }

            await upload.SendAsync(new byte[length - 300_000]);
            var done = await upload.ReadResponseAsync();
            Assert.True(done.Status == 200, done.ToString());
            Assert.Equal(length, Json.Parse(done.Body).GetProperty("length").GetInt64());
        }
        finally
        {
            await upload.DisposeAsync();
        }
    }

    [Fact]
    public async Task SpoolFile_HasNoName_IsOwnerOnly_AndIsClosedWhenTheClientLeavesMidUpload()
    {
        await using var server = await StartAsync("upload:app", "--workers", "1");
        var upload = await StartUploadAsync(server.Port, 10_000_000, 500_000);
        var files = await WaitForSpoolFileAsync(server);

        (string link, string target) = Assert.Single(files);
        Assert.EndsWith(" (deleted)", target);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_spool));
        UnixFileMode mode = File.GetUnixFileMode(link); // stat follows the fd link to the unnamed file
        Assert.True(mode == (UnixFileMode.UserRead | UnixFileMode.UserWrite), $"spool file mode {mode}");

        await upload.DisposeAsync(); // the client gives up mid-upload
        bool closed = await ProcInfo.WaitUntilAsync(() => OpenFiles.Under(server.Pid, _spool).Count == 0, TimeSpan.FromSeconds(20));
        Assert.True(closed, $"the spool file stayed open after the client left\n{server.Describe()}");

        // And the server is none the worse.
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/", new ByteArrayContent(new byte[200_000]))).StatusCode);
        Assert.True(await ProcInfo.WaitUntilAsync(() => OpenFiles.Under(server.Pid, _spool).Count == 0, TimeSpan.FromSeconds(20)),
            "the spool file of a finished request stayed open");
    }

    [Fact]
    public async Task SmallBody_IsHeldInMemory_NotSpooled()
    {
        await using var server = await StartAsync("upload:app", "--workers", "1");
        // 60 KB of a 64,000-byte body: under the 64 KiB memory limit even when complete.
        await using var upload = await StartUploadAsync(server.Port, 64_000, 60_000);
        await Task.Delay(1000); // time for the front to read what was sent; a spool file would appear now
        Assert.Empty(OpenFiles.Under(server.Pid, _spool));
        await upload.SendAsync(new byte[4000]);
        var done = await upload.ReadResponseAsync();
        Assert.True(done.Status == 200, done.ToString());
        Assert.Equal(64_000, Json.Parse(done.Body).GetProperty("length").GetInt64());
    }

    [Fact]
    public async Task Upload1GiB_Chunked_IsSpooledAndReadWhole_FrontMemoryStaysBounded()
    {
        const long size = 1024 * MiB;
        await using var server = await StartAsync("upload:app", "--workers", "1", "--threads", "1");
        Task<string> expected = Task.Run(() => DataPattern.Sha256Hex(size));
        using var client = server.CreateClient(TimeSpan.FromSeconds(300));

        // Warm up (JIT, pools, a first spool file) before the baseline.
        using (var warm = await client.PostAsync("/", new GeneratedContent(4 * MiB, chunked: true)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }
        long baseline = ProcInfo.RssBytes(server.Pid) ?? throw new InvalidOperationException("no RSS for the front");
        long peak = baseline;
        bool spooled = false;
        using var stop = new CancellationTokenSource();
        Task sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, ProcInfo.RssBytes(server.Pid) ?? 0);
                spooled |= OpenFiles.Under(server.Pid, _spool).Count > 0;
                await Task.Delay(50);
            }
        });

        var started = DateTime.UtcNow;
        string text;
        HttpStatusCode status;
        try
        {
            using var response = await client.PostAsync("/", new GeneratedContent(size, chunked: true, writeSize: 256 * 1024));
            status = response.StatusCode;
            text = await response.Content.ReadAsStringAsync();
        }
        finally
        {
            stop.Cancel();
            await sampler;
        }
        output.WriteLine($"1 GiB upload: {(DateTime.UtcNow - started).TotalSeconds:0.0} s; front RSS baseline {baseline / MiB} MiB, peak {peak / MiB} MiB");

        Assert.True(status == HttpStatusCode.OK, $"{(int)status}: {text}");
        var result = Json.Parse(text);
        Assert.Equal(size, result.GetProperty("length").GetInt64());
        Assert.Equal(await expected, result.GetProperty("sha256").GetString());
        Assert.True(spooled, "a 1 GiB body was never spooled to a file");
        Assert.True(peak - baseline < 150 * MiB, $"the front's RSS grew by {(peak - baseline) / MiB} MiB during a 1 GiB upload");
        Assert.True(await ProcInfo.WaitUntilAsync(() => OpenFiles.Under(server.Pid, _spool).Count == 0, TimeSpan.FromSeconds(20)),
            "the spool file stayed open after the upload");
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kestrel.Wsgi.Tests;

public sealed class UploadFixture : ServerFixture
{
    protected override string App => "upload:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2"];
}

/// <summary>The same server with bodies streamed to the worker as they arrive instead of buffered first.</summary>
public sealed class StreamedUploadFixture : ServerFixture
{
    protected override string App => "upload:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2", "--no-buffer-request-body"];
}

/// <summary>Every upload test with bodies buffered in the front first (the default).</summary>
public sealed class UploadTests(UploadFixture fx, ITestOutputHelper output) : UploadTestsBase(fx, output), IClassFixture<UploadFixture>;

/// <summary>Every upload test with <c>--no-buffer-request-body</c>.</summary>
public sealed class StreamedUploadTests(StreamedUploadFixture fx, ITestOutputHelper output) : UploadTestsBase(fx, output), IClassFixture<StreamedUploadFixture>;

/// <summary>Request bodies: large uploads in bounded memory, chunked bodies, readline/iter/readlines.</summary>
public abstract class UploadTestsBase(ServerFixture fx, ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    private async Task<JsonElement> PostAsync(string path, HttpContent content)
    {
        using var client = fx.Server.CreateClient(TimeSpan.FromSeconds(180));
        using var resp = await client.PostAsync(path, content);
        string text = await resp.Content.ReadAsStringAsync();
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"POST {path} → {(int)resp.StatusCode}: {text}\n{fx.Server.Describe()}");
        return Json.Parse(text);
    }

    [Fact]
    public async Task Upload100MiB_Streamed_CorrectLengthAndHash_InBoundedMemory()
    {
        const long size = 100 * MiB;
        string expected = DataPattern.Sha256Hex(size);

        // Warm up (JIT, pools, Python) before taking the baseline.
        var warm = await PostAsync("/", new GeneratedContent(2 * MiB, chunked: false));
        Assert.Equal(2 * MiB, warm.GetProperty("length").GetInt64());

        var workers = await fx.Server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10));
        Assert.True(workers.Count == 1, $"expected 1 worker, found {workers.Count}");
        int[] pids = [fx.Server.Pid, .. workers];
        var baseline = pids.ToDictionary(p => p, p => ProcInfo.RssBytes(p) ?? throw new InvalidOperationException($"no RSS for {p}"));
        var peak = new Dictionary<int, long>(baseline);

        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                foreach (int p in pids)
                {
                    if (ProcInfo.RssBytes(p) is long rss && rss > peak[p])
                    {
                        peak[p] = rss;
                    }
                }
                try
                {
                    await Task.Delay(50, stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        JsonElement result;
        try
        {
            result = await PostAsync("/", new GeneratedContent(size, chunked: false));
        }
        finally
        {
            stop.Cancel();
            await sampler;
        }

        Assert.Equal(size, result.GetProperty("length").GetInt64());
        Assert.Equal(expected, result.GetProperty("sha256").GetString());
        Assert.True(result.GetProperty("max_block").GetInt32() <= 65536);

        foreach (int p in pids)
        {
            long growth = peak[p] - baseline[p];
            string who = p == fx.Server.Pid ? "front" : $"worker {p}";
            output.WriteLine($"{who}: baseline {baseline[p] / (double)MiB:0.0} MiB, peak {peak[p] / (double)MiB:0.0} MiB, growth {growth / (double)MiB:0.0} MiB");
            Assert.True(growth < 60 * MiB,
                $"{who}: RSS grew by {growth / (double)MiB:0.0} MiB during a 100 MiB upload (baseline {baseline[p] / (double)MiB:0.0} MiB, peak {peak[p] / (double)MiB:0.0} MiB)");
        }
    }

    [Fact]
    public async Task ChunkedUpload_ReadInBlocks_CorrectLengthAndHash()
    {
        const long size = 8 * MiB + 12345;
        var result = await PostAsync("/", new GeneratedContent(size, chunked: true, writeSize: 10_000));
        Assert.Equal(size, result.GetProperty("length").GetInt64());
        Assert.Equal(DataPattern.Sha256Hex(size), result.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task EmptyBody_ReadsAsZeroBytes()
    {
        var result = await PostAsync("/", new ByteArrayContent([]));
        Assert.Equal(0, result.GetProperty("length").GetInt64());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Array.Empty<byte>())), result.GetProperty("sha256").GetString());
    }

    private static (byte[] Data, int Lines) TextBody()
    {
        var ms = new MemoryStream();
        int lines = 0;
        for (int i = 0; i < 5000; i++)
        {
            ms.Write(Encoding.ASCII.GetBytes($"line {i} " + new string((char)('a' + i % 26), i % 300) + "\n"));
            lines++;
        }
        ms.Write(Encoding.ASCII.GetBytes(new string('L', 200_000) + "\n")); // longer than any read buffer
        lines++;
        ms.Write("\n\n"u8); // empty lines count too
        lines += 2;
        ms.Write("last line without newline"u8);
        lines++;
        return (ms.ToArray(), lines);
    }

    [Theory]
    [InlineData("/readline")]
    [InlineData("/iter")]
    [InlineData("/readlines")]
    public async Task ChunkedUpload_LineReaders_SeeEveryLine(string path)
    {
        var (data, lines) = TextBody();
        var result = await PostAsync(path, new PiecewiseChunkedContent(data, pieceSize: 997));
        Assert.Equal(lines, result.GetProperty("lines").GetInt32());
        Assert.Equal(data.Length, result.GetProperty("length").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), result.GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task ContentLengthUpload_Readline_SeesEveryLine()
    {
        var (data, lines) = TextBody();
        var result = await PostAsync("/readline", new ByteArrayContent(data));
        Assert.Equal(lines, result.GetProperty("lines").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), result.GetProperty("sha256").GetString());
    }
}

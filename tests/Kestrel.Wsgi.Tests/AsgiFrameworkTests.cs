using System.Net;
using System.Security.Cryptography;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>FastAPI (Debian's 0.92) on two ASGI workers, with a lifespan that writes to a file the tests read.</summary>
public sealed class FastApiFixture : IAsyncLifetime
{
    public string LogFile { get; } = Path.Combine(Path.GetTempPath(), $"kwsgi-fastapi-{Guid.NewGuid():N}.log");

    public KwsgiProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await KwsgiProcess.StartAndWaitAsync(["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir,
            "--python", "/usr/bin/python3", "--workers", "2", "--ready-when", "all", "asgi_fastapi:app"],
            new Dictionary<string, string?> { ["KWSGI_TEST_LIFESPAN_LOG"] = LogFile }, null);

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        File.Delete(LogFile);
    }

    public string[] LogLines() => File.Exists(LogFile) ? File.ReadAllLines(LogFile) : [];
}

/// <summary>Real ASGI frameworks end to end: FastAPI, Starlette, Django's ASGI handler, and uvicorn and hypercorn beside kwsgi on the same scope.</summary>
public sealed class AsgiFrameworkTests(FastApiFixture fx) : IClassFixture<FastApiFixture>
{
    [Fact]
    public async Task FastApi_JsonEndpoint()
    {
        using HttpResponseMessage response = await fx.Server.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{\"message\":\"Hello, World!\"}", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task FastApi_LifespanOpenedTheResourceEachRequestUses_OncePerWorker()
    {
        JsonElement item = Json.Parse(await fx.Server.Client.GetStringAsync("/items/42?q=kw"));
        Assert.Equal(42, item.GetProperty("item_id").GetInt32());
        Assert.Equal("kw", item.Str("q"));
        List<int> workers = fx.Server.WorkerPids();
        Assert.Contains(item.Str("resource"), workers.Select(pid => $"resource of {pid}"));
        string[] startups = fx.LogLines().Where(line => line.StartsWith("startup ", StringComparison.Ordinal)).Order().ToArray();
        Assert.Equal(workers.Order().Select(pid => $"startup {pid}").ToArray(), startups);
    }

    [Fact]
    public async Task FastApi_StreamingResponse()
    {
        using HttpResponseMessage response = await fx.Server.Client.GetAsync("/stream?n=4", HttpCompletionOption.ResponseHeadersRead);
        Assert.True(response.Headers.TransferEncodingChunked);
        Assert.Equal("piece 0\npiece 1\npiece 2\npiece 3\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task FastApi_FileUpload_ParsedByMultipart()
    {
        byte[] data = RandomNumberGenerator.GetBytes(700_000);
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(data), "file", "blob.bin" },
            { new StringContent("a note"), "note" },
        };
        using HttpResponseMessage response = await fx.Server.Client.PostAsync("/upload", form);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement result = await Json.ReadAsync(response);
        Assert.Equal("blob.bin", result.Str("filename"));
        Assert.Equal(data.Length, result.GetProperty("length").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), result.Str("sha256"));
        Assert.Equal("a note", result.Str("note"));
    }

    [Fact]
    public async Task FastApi_BackgroundTask_RunsAfterTheResponse()
    {
        string tag = Guid.NewGuid().ToString("N");
        using HttpResponseMessage response = await fx.Server.Client.PostAsync($"/background?tag={tag}", null);
        Assert.Equal("queued", await response.Content.ReadAsStringAsync());
        Assert.True(await ProcInfo.WaitUntilAsync(() => fx.LogLines().Contains($"background {tag}"), TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Starlette_LifespanStateReachesRequests_AndUrlsCarryTheRootPath()
    {
        await using var server = await KwsgiProcess.StartAsync("asgi_starlette:app", "--python", "/usr/bin/python3", "--workers", "1", "--url-prefix", "/app");
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/app/"));
        JsonElement state = Json.Parse(await server.Client.GetStringAsync("/app/state?x=1"));
        Assert.Equal("from the lifespan", state.Str("greeting"));
        Assert.Equal("/app", state.Str("root_path"));
        Assert.Equal($"http://127.0.0.1:{server.Port}/app/state?x=1", state.Str("url"));
    }

    [Fact]
    public async Task Django_AsgiHandler_ReadsTheBody()
    {
        await using var server = await KwsgiProcess.StartAndWaitAsync(["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(),
            "--chdir", Path.Combine(TestPaths.AppsDir, "djangosite"), "--python", "/usr/bin/python3", "--workers", "1", "djangosite.asgi:application"], null, null);
        byte[] data = RandomNumberGenerator.GetBytes(300_000);
        using HttpResponseMessage response = await server.Client.PostAsync("/body/", new ByteArrayContent(data));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement result = await Json.ReadAsync(response);
        Assert.Equal(data.Length, result.GetProperty("length").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(data)), result.Str("sha256"));
        // Django 3.2 raises on the lifespan scope: --lifespan auto went on without it.
        Assert.Contains("ASGI workers", server.Stdout);
    }

    /// <summary>The same request to a peer server (uvicorn 0.17 with httptools, hypercorn 0.13) and to kwsgi: the scope's request fields agree.</summary>
    [Theory]
    [InlineData("uvicorn")]
    [InlineData("hypercorn")]
    public async Task SameRequest_PeerServerAndKwsgi_AgreeOnTheScope(string peer)
    {
        await using var kwsgi = await KwsgiProcess.StartAsync("asgi_raw:app", "--python", "/usr/bin/python3", "--workers", "1");
        int port = KwsgiProcess.FreePort();
        string[] command = peer == "uvicorn"
            ? ["-m", "uvicorn", "--host", "127.0.0.1", "--port", port.ToString(), "--http", "httptools", "--lifespan", "off", "--log-level", "warning", "asgi_raw:app"]
            : ["-m", "hypercorn", "--bind", $"127.0.0.1:{port}", "--log-level", "warning", "asgi_raw:app"];
        var uvicorn = new System.Diagnostics.ProcessStartInfo("/usr/bin/python3", command)
        {
            WorkingDirectory = TestPaths.AppsDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(uvicorn)!;
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.True(await Poll.UntilAsync(async () =>
            {
                try
                {
                    return (await client.GetAsync($"http://127.0.0.1:{port}/state")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(20)), $"{peer} did not start");

            const string target = "/scope/caf%C3%A9%2Fx?a=1&b=%2F&a=2";
            const string headers = "X-Dup: one\r\nX-Dup: two\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n";
            JsonElement ours = await ScopeAsync(kwsgi.Port, target, headers);
            JsonElement theirs = await ScopeAsync(port, target, headers);
            foreach (string key in new[] { "type", "http_version", "method", "scheme", "path", "raw_path", "query_string", "root_path" })
            {
                Assert.True(ours.Str(key) == theirs.Str(key), $"{key}: kwsgi {ours.GetProperty(key)}, {peer} {theirs.GetProperty(key)}");
            }
            Assert.Equal(3, ours.GetProperty("body_length").GetInt32());
            Assert.Equal(theirs.GetProperty("body_length").GetInt32(), ours.GetProperty("body_length").GetInt32());
            Assert.True(Sorted(theirs).SequenceEqual(Sorted(ours)), $"headers: kwsgi {string.Join(" | ", Sorted(ours))}; {peer} {string.Join(" | ", Sorted(theirs))}");
            Assert.Equal(theirs.GetProperty("client")[0].GetString(), ours.GetProperty("client")[0].GetString());
            Assert.Equal(theirs.GetProperty("server")[0].GetString(), ours.GetProperty("server")[0].GetString());
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        static string[] Sorted(JsonElement scope) =>
            scope.GetProperty("headers").EnumerateArray().Select(h => h[0].GetString() + ": " + h[1].GetString()).Order(StringComparer.Ordinal).ToArray();
    }

    private static async Task<JsonElement> ScopeAsync(int port, string target, string headers)
    {
        await using var connection = await RawHttpConnection.ConnectAsync(port);
        RawResponse response = await connection.RequestAsync($"POST {target} HTTP/1.1\r\nHost: example.test\r\n{headers}\r\nabc");
        Assert.Equal(200, response.Status);
        return Json.Parse(response.Body);
    }
}

using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// ASGI apps on kwsgi driven by the Python clients their users test with: httpx for HTTP and websockets (10.4) for
/// WebSockets (tests/clients/asgi_clients.py, run by Debian's python3, which has both).
/// </summary>
public sealed class AsgiPythonClientTests
{
    private static async Task<JsonElement> RunClientAsync(string kind, int port)
    {
        ToolRun run = await ExternalTool.RunAsync("/usr/bin/python3",
            [Path.Combine(TestPaths.RepoRoot, "tests", "clients", "asgi_clients.py"), kind, port.ToString()], TimeSpan.FromSeconds(60));
        Assert.True(run.ExitCode == 0, $"asgi_clients.py {kind} failed; {run}");
        return Json.Parse(run.Stdout);
    }

    private static Task<KwsgiProcess> StartAsync(string app) =>
        KwsgiProcess.StartAsync(app, "--python", "/usr/bin/python3", "--workers", "1");

    [Fact]
    public async Task Httpx_GetsJson_ReadsAStream_AndUploadsAFile_FromFastApi()
    {
        await using var server = await StartAsync("asgi_fastapi:app");
        JsonElement seen = await RunClientAsync("http", server.Port);

        JsonElement json = seen.GetProperty("json");
        Assert.Equal(200, json.GetProperty("status").GetInt32());
        Assert.Equal("application/json", json.Str("type"));
        Assert.Equal(7, json.GetProperty("body").GetProperty("item_id").GetInt32());
        Assert.Equal("café", json.GetProperty("body").Str("q"));

        Assert.Equal(200, seen.GetProperty("stream_status").GetInt32());
        Assert.Equal("chunked", seen.Str("stream_chunked")); // a StreamingResponse has no length
        Assert.Equal(["piece 0", "piece 1", "piece 2", "piece 3"], seen.GetProperty("stream").EnumerateArray().Select(e => e.GetString()));

        JsonElement upload = seen.GetProperty("upload");
        Assert.Equal(200, upload.GetProperty("status").GetInt32());
        Assert.Equal("data.bin", upload.GetProperty("body").Str("filename"));
        Assert.Equal(256_000, upload.GetProperty("body").GetProperty("length").GetInt32());
        Assert.Equal(upload.Str("sha256"), upload.GetProperty("body").Str("sha256"));
        Assert.Equal("hi", upload.GetProperty("body").Str("note"));
    }

    [Fact]
    public async Task Websockets_TwoClientsChat_ThroughFastApi()
    {
        await using var server = await StartAsync("ws_chat:app");
        JsonElement seen = await RunClientAsync("chat", server.Port);

        Assert.Equal("ann joined", seen.Str("ann_first"));
        Assert.Equal("bob joined", seen.Str("bob_first"));
        Assert.Equal("bob joined", seen.Str("ann_sees_bob"));
        Assert.Equal("bob: hello from bob", seen.Str("ann_msg"));
        Assert.Equal("bob: hello from bob", seen.Str("bob_msg"));
    }

    [Fact]
    public async Task Websockets_Echo_NegotiatesTheSubprotocol_AndSeesTheAppsCloseCode()
    {
        await using var server = await StartAsync("ws_echo:app");
        JsonElement seen = await RunClientAsync("echo", server.Port);

        Assert.Equal("kwsgi.test", seen.Str("subprotocol"));
        Assert.Equal("text ü", seen.Str("text"));
        Assert.Equal([0, 1, 255], seen.GetProperty("bytes").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(4001, seen.GetProperty("close_code").GetInt32());
        Assert.Equal("bye", seen.Str("close_reason"));
    }
}

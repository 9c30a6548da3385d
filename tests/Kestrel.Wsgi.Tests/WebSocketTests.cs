using System.Net;
using System.Net.WebSockets;
using System.Text;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>One kwsgi serving the raw ASGI WebSocket app (tests/apps/ws_echo.py) on HTTP/1.1 and h2c, one worker.</summary>
public sealed class WebSocketServerFixture : IAsyncLifetime
{
    public const int MaxMessage = 65536;

    public int HttpPort { get; } = KwsgiProcess.FreePort();
    public int H2cPort { get; } = KwsgiProcess.FreePort();

    public KwsgiProcess Server { get; private set; } = null!;

    public async Task InitializeAsync() =>
        Server = await KwsgiProcess.StartAndWaitAsync(["--chdir", TestPaths.AppsDir, "--python", "/usr/bin/python3", "--workers", "1",
            "--listen", $"http://127.0.0.1:{HttpPort}", "--listen", $"h2c://127.0.0.1:{H2cPort}",
            "--ws-max-message-size", MaxMessage.ToString(), "ws_echo:app"], null, null);

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>
/// WebSockets of ASGI apps end to end: a real kwsgi, its ASGI worker and .NET's ClientWebSocket over real sockets —
/// the handshake as the app answers it, messages both ways, close codes both ways, limits, HTTP/2, and what a
/// worker's death or a graceful stop does to open sockets.
/// </summary>
public sealed class WebSocketTests(WebSocketServerFixture fixture) : IClassFixture<WebSocketServerFixture>
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    private Uri Ws(string path) => new($"ws://127.0.0.1:{fixture.HttpPort}{path}");

    private static async Task<ClientWebSocket> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null)
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        configure?.Invoke(socket.Options);
        using var timeout = new CancellationTokenSource(s_wait);
        await socket.ConnectAsync(uri, timeout.Token);
        return socket;
    }

    private static async Task SendTextAsync(WebSocket socket, string text)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, timeout.Token);
    }

    private static async Task<(WebSocketMessageType Type, byte[] Bytes)> ReceiveAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        var message = new MemoryStream();
        byte[] buffer = new byte[16384];
        while (true)
        {
            WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, timeout.Token);
            message.Write(buffer, 0, result.Count);
            if (result.EndOfMessage || result.MessageType == WebSocketMessageType.Close)
            {
                return (result.MessageType, message.ToArray());
            }
        }
    }

    private static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        var (type, bytes) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Text, type);
        return Encoding.UTF8.GetString(bytes);
    }

    [Fact]
    public async Task Echo_TextAndBytes_WithTheAppsSubprotocolAndHeader()
    {
        using ClientWebSocket socket = await ConnectAsync(Ws("/echo"), o =>
        {
            o.AddSubProtocol("chat.v2");
            o.AddSubProtocol("chat.v1");
        });
        Assert.Equal(HttpStatusCode.SwitchingProtocols, socket.HttpStatusCode);
        Assert.Equal("chat.v2", socket.SubProtocol); // the app picked the first one offered
        Assert.Equal("yes", socket.HttpResponseHeaders!["x-echo"].Single());

        await SendTextAsync(socket, "grüße");
        Assert.Equal("grüße", await ReceiveTextAsync(socket));

        byte[] bytes = new byte[40_000];
        new Random(5).NextBytes(bytes);
        await socket.SendAsync(bytes, WebSocketMessageType.Binary, true, default);
        var (type, echoed) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(bytes, echoed);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
    }

    [Fact]
    public async Task Scope_IsTheWebSocketScope()
    {
        using ClientWebSocket socket = await ConnectAsync(Ws("/scope?room=1"), o => o.AddSubProtocol("p1"));
        string scope = await ReceiveTextAsync(socket);
        Assert.Equal("[('http_version', '1.1'), ('path', '/scope'), ('query_string', 'room=1'), ('root_path', ''), ('scheme', 'ws'), ('subprotocols', ['p1'])]", scope);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
    }

    [Fact]
    public async Task AppClose_TheClientSeesItsCodeAndReason()
    {
        using ClientWebSocket socket = await ConnectAsync(Ws("/echo"));
        await SendTextAsync(socket, "close 4001 see you");
        var (type, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(4001, (int)socket.CloseStatus!);
        Assert.Equal("see you", socket.CloseStatusDescription);
    }

    [Fact]
    public async Task ClientClose_TheAppSeesItsCodeAndReason()
    {
        using (ClientWebSocket leaving = await ConnectAsync(Ws("/echo")))
        {
            await leaving.CloseAsync((WebSocketCloseStatus)4002, "leaving", default);
            Assert.Equal(4002, (int)leaving.CloseStatus!); // the front answered with the same code
        }
        using ClientWebSocket socket = await ConnectAsync(Ws("/echo"));
        // One worker: the app's websocket.disconnect of the first socket is what it remembers.
        string last = "";
        Assert.True(await ProcInfo.WaitUntilAsync(() =>
        {
            SendTextAsync(socket, "last").GetAwaiter().GetResult();
            last = ReceiveTextAsync(socket).GetAwaiter().GetResult();
            return last == "4002 leaving";
        }, s_wait), last);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
    }

    [Fact]
    public async Task ClientVanishes_TheAppGets1006()
    {
        ClientWebSocket vanishing = await ConnectAsync(Ws("/echo"));
        await SendTextAsync(vanishing, "here");
        Assert.Equal("here", await ReceiveTextAsync(vanishing));
        vanishing.Abort(); // the connection drops without a close frame
        vanishing.Dispose();

        using ClientWebSocket socket = await ConnectAsync(Ws("/echo"));
        string last = "";
        Assert.True(await ProcInfo.WaitUntilAsync(() =>
        {
            SendTextAsync(socket, "last").GetAwaiter().GetResult();
            last = ReceiveTextAsync(socket).GetAwaiter().GetResult();
            return last.StartsWith("1006", StringComparison.Ordinal);
        }, s_wait), last);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
    }

    [Fact]
    public async Task CloseBeforeAccept_403()
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Ws("/deny"), default));
        Assert.Equal(HttpStatusCode.Forbidden, socket.HttpStatusCode);
    }

    [Fact]
    public async Task DenialResponse_TheAppsOwnStatusAndHeaders()
    {
        var socket = new ClientWebSocket();
        socket.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => socket.ConnectAsync(Ws("/custom"), default));
        Assert.Equal(HttpStatusCode.Unauthorized, socket.HttpStatusCode);
        Assert.Equal("Bearer", socket.HttpResponseHeaders!["www-authenticate"].Single());
    }

    [Fact]
    public async Task AppRaisesBeforeAccept_500_AfterAccept_1011()
    {
        var refused = new ClientWebSocket();
        refused.Options.CollectHttpResponseDetails = true;
        await Assert.ThrowsAsync<WebSocketException>(() => refused.ConnectAsync(Ws("/fail"), default));
        Assert.Equal(HttpStatusCode.InternalServerError, refused.HttpStatusCode);

        using ClientWebSocket socket = await ConnectAsync(Ws("/boom"));
        var (type, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, socket.CloseStatus);
    }

    [Fact]
    public async Task MessageOverTheLimit_1009()
    {
        using ClientWebSocket socket = await ConnectAsync(Ws("/echo"));
        await socket.SendAsync(new byte[WebSocketServerFixture.MaxMessage], WebSocketMessageType.Binary, true, default);
        Assert.Equal(WebSocketServerFixture.MaxMessage, (await ReceiveAsync(socket)).Bytes.Length); // at the limit: fine
        await socket.SendAsync(new byte[WebSocketServerFixture.MaxMessage + 1], WebSocketMessageType.Binary, true, default);
        var (type, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, type);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
    }

    [Fact]
    public async Task Http2ExtendedConnect_OverH2c()
    {
        using var handler = new SocketsHttpHandler();
        using var invoker = new HttpMessageInvoker(handler);
        var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.CollectHttpResponseDetails = true;
        using var timeout = new CancellationTokenSource(s_wait);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{fixture.H2cPort}/scope"), invoker, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode); // RFC 8441: a 2xx answers the CONNECT
        Assert.Contains("('http_version', '2')", await ReceiveTextAsync(socket));
        await SendTextAsync(socket, "over h2");
        Assert.Equal("over h2", await ReceiveTextAsync(socket));
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
        socket.Dispose();
    }
}

/// <summary>WebSockets across a worker's death and a graceful stop, and a FastAPI chat: servers of their own.</summary>
public sealed class WebSocketLifetimeTests
{
    private static readonly TimeSpan s_wait = TimeSpan.FromSeconds(20);

    private static async Task<ClientWebSocket> ConnectAsync(KwsgiProcess server, string path)
    {
        var socket = new ClientWebSocket();
        using var timeout = new CancellationTokenSource(s_wait);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{server.Port}{path}"), timeout.Token);
        return socket;
    }

    private static async Task<string> ReceiveTextAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        byte[] buffer = new byte[4096];
        WebSocketReceiveResult result = await socket.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal(WebSocketMessageType.Text, result.MessageType);
        return Encoding.UTF8.GetString(buffer, 0, result.Count);
    }

    private static async Task<WebSocketCloseStatus?> ClosedWithAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(s_wait);
        WebSocketReceiveResult result = await socket.ReceiveAsync(new byte[4096], timeout.Token);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        return socket.CloseStatus;
    }

    [Fact]
    public async Task WorkerKilled_OpenSocketsClose1011_AndTheWorkerIsReplaced()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("ws_echo:app", "--python", "/usr/bin/python3", "--workers", "1");
        int worker = Assert.Single(await server.WaitForWorkersAsync(1, s_wait));
        using ClientWebSocket socket = await ConnectAsync(server, "/echo");
        await socket.SendAsync("ping"u8.ToArray(), WebSocketMessageType.Text, true, default);
        Assert.Equal("ping", await ReceiveTextAsync(socket));

        Assert.True(ProcInfo.Signal(worker, ProcInfo.SIGKILL));
        Assert.Equal(WebSocketCloseStatus.InternalServerError, await ClosedWithAsync(socket));

        // A new worker takes its place and takes new sockets.
        Assert.True(await ProcInfo.WaitUntilAsync(() => server.WorkerPids() is [int pid] && pid != worker, s_wait), server.Describe());
        ClientWebSocket? again = null;
        Assert.True(await ProcInfo.WaitUntilAsync(() =>
        {
            try
            {
                again = ConnectAsync(server, "/echo").GetAwaiter().GetResult();
                return true;
            }
            catch (WebSocketException)
            {
                return false; // 502/503 while the successor loads
            }
        }, s_wait), server.Describe());
        using (again)
        {
            await again!.SendAsync("again"u8.ToArray(), WebSocketMessageType.Text, true, default);
            Assert.Equal("again", await ReceiveTextAsync(again));
        }
    }

    [Fact]
    public async Task GracefulStop_ClosesOpenSockets1001_BeforeTheDeadline()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("ws_echo:app", "--python", "/usr/bin/python3", "--workers", "1", "--graceful-timeout", "3");
        using ClientWebSocket socket = await ConnectAsync(server, "/echo");
        var stopping = System.Diagnostics.Stopwatch.StartNew();
        Assert.True(server.SendSignal(ProcInfo.SIGTERM));
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, await ClosedWithAsync(socket));
        Assert.InRange(stopping.Elapsed, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)); // held open for the grace period, closed before its end
        await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, null, default);
        Assert.True(await server.WaitForExitAsync(s_wait), server.Describe());
        Assert.Equal(0, server.ExitCode);
    }

    [Fact]
    public async Task FastApiChat_BroadcastsBetweenTwoClients()
    {
        await using KwsgiProcess server = await KwsgiProcess.StartAsync("ws_chat:app", "--python", "/usr/bin/python3", "--workers", "1");
        using ClientWebSocket ann = await ConnectAsync(server, "/chat/ann");
        Assert.Equal("ann joined", await ReceiveTextAsync(ann));
        using ClientWebSocket bob = await ConnectAsync(server, "/chat/bob");
        Assert.Equal("bob joined", await ReceiveTextAsync(bob));
        Assert.Equal("bob joined", await ReceiveTextAsync(ann));

        await bob.SendAsync("hi ann"u8.ToArray(), WebSocketMessageType.Text, true, default);
        Assert.Equal("bob: hi ann", await ReceiveTextAsync(ann));
        Assert.Equal("bob: hi ann", await ReceiveTextAsync(bob));
        await ann.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
        await bob.CloseAsync(WebSocketCloseStatus.NormalClosure, null, default);
    }
}

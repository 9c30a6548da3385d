using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front;
using Kestrel.Wsgi.Front.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// The front's side of a WebSocket, frame by frame: the app (played over an in-memory channel) decides whether the
/// handshake is accepted, and messages and close codes cross both ways. The client is a real .NET WebSocket over an
/// in-memory stream, standing in for Kestrel's upgraded connection; the end-to-end suite (WebSocketTests) drives the
/// same paths with real workers and real sockets.
/// </summary>
public sealed class WebSocketForwarderTests : IAsyncLifetime
{
    private readonly InMemoryWorker _worker = new(asgi: true);
    private readonly OpenWebSockets _open = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _worker.DisposeAsync();

    private Forwarder NewForwarder(long maxMessage = 1 << 20)
    {
        var pool = new WorkerPool(1, 4, 8);
        pool.Add(0, _worker.Process);
        return new Forwarder(pool, new FrontOptions(""), new RequestLimits(1 << 20, null, true, Path.GetTempPath()), NullLogger<Forwarder>.Instance,
            new WebSocketSettings(maxMessage, TimeSpan.Zero, TimeSpan.Zero), _open) { AcceptsWebSockets = true };
    }

    [Fact]
    public async Task Accept_SubprotocolAndHeaders_ThenMessagesBothWays_AndTheAppsCloseCode()
    {
        var client = new WebSocketClient("/chat?room=1");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);

        var (head, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.ScopeHead, head.Type);
        Assert.Equal(FrameFlags.End, head.Flags);
        string[] scope = Encoding.Latin1.GetString(payload, 2, payload.Length - 2).Split('\0');
        Assert.Equal("websocket", scope[0]); // the scope type
        Assert.Equal("/chat", scope[5]); // raw_path
        Assert.Equal("room=1", scope[6]); // query_string
        Assert.Null(client.Accepted); // nothing is accepted before the app says so

        await _worker.SendAsync(FrameType.WebSocketAccept, head.StreamId, Encoding.Latin1.GetBytes("chat.v2\0x-room\0one"));
        WebSocket socket = await client.ConnectedAsync();
        Assert.Equal("chat.v2", client.Accepted!.SubProtocol);
        Assert.Equal("one", client.Context.Response.Headers["x-room"]);

        await socket.SendAsync("hello"u8.ToArray(), WebSocketMessageType.Text, true, default);
        var (message, text) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.WebSocketReceive, message.Type);
        Assert.Equal(FrameFlags.End | FrameFlags.Text, message.Flags);
        Assert.Equal("hello", Encoding.UTF8.GetString(text));

        await _worker.SendAsync(FrameType.WebSocketSend, head.StreamId, [1, 2]);
        await _worker.SendAsync(FrameType.WebSocketSend, head.StreamId, [3], end: true);
        var (type, bytes) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Binary, type);
        Assert.Equal(new byte[] { 1, 2, 3 }, bytes);

        await _worker.SendAsync(FrameType.WebSocketClose, head.StreamId, WebSocketClosePayload.Encode(4001, "bye"));
        var (closed, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, closed);
        Assert.Equal(4001, (int)socket.CloseStatus!);
        Assert.Equal("bye", socket.CloseStatusDescription);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WsgiApp_GetsTheUpgradeAsAPlainRequest()
    {
        await using var wsgi = new InMemoryWorker();
        var pool = new WorkerPool(1, 4, 8);
        pool.Add(0, wsgi.Process);
        var forwarder = new Forwarder(pool, new FrontOptions(""), new RequestLimits(1 << 20, null, true, Path.GetTempPath()), NullLogger<Forwarder>.Instance,
            WebSocketSettings.Default, _open) { AcceptsWebSockets = true }; // as a server started with it: the WSGI worker decides
        var client = new WebSocketClient("/");
        Task forwarding = forwarder.InvokeAsync(client.Context);
        var (head, payload) = await wsgi.ReadFrameAsync();
        Assert.Equal(FrameType.RequestHead, head.Type);
        Assert.Equal("websocket", InMemoryWorker.Environ(payload)["HTTP_UPGRADE"]);
        await wsgi.SendHeadAsync(head.StreamId, "400 Bad Request");
        await wsgi.SendAsync(FrameType.ResponseBody, head.StreamId, [], end: true);
        await forwarding;
        Assert.Equal(400, client.Context.Response.StatusCode);
        Assert.Null(client.Accepted);
    }

    [Fact]
    public async Task CloseBeforeAccept_403()
    {
        var client = new WebSocketClient("/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (head, _) = await _worker.ReadFrameAsync();
        await _worker.SendAsync(FrameType.WebSocketClose, head.StreamId, WebSocketClosePayload.Encode(1000, ""));
        await forwarding;
        Assert.Equal(403, client.Context.Response.StatusCode);
        Assert.Null(client.Accepted);
    }

    [Fact]
    public async Task DenialResponse_IsTheAppsOwn()
    {
        var client = new WebSocketClient("/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (head, _) = await _worker.ReadFrameAsync();
        await _worker.SendHeadAsync(head.StreamId, "401 Unauthorized", ("WWW-Authenticate", "Bearer"));
        await _worker.SendAsync(FrameType.ResponseBody, head.StreamId, "who are you"u8.ToArray(), end: true);
        await forwarding;
        Assert.Equal(401, client.Context.Response.StatusCode);
        Assert.Equal("Bearer", client.Context.Response.Headers.WWWAuthenticate);
        Assert.Equal("who are you", await client.BodyAsync());
        Assert.Null(client.Accepted);
    }

    [Fact]
    public async Task DenialBody_IsCreditedAsItIsWritten()
    {
        var client = new WebSocketClient("/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        var (head, _) = await _worker.ReadFrameAsync();
        await _worker.SendHeadAsync(head.StreamId, "400 Bad Request");
        byte[] piece = new byte[FlowWindow.MaxChunk];
        int sent = 0;
        while (sent < FlowWindow.AckThreshold)
        {
            await _worker.SendAsync(FrameType.ResponseBody, head.StreamId, piece);
            sent += piece.Length;
        }
        var (credit, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.ResponseCredit, credit.Type);
        Assert.Equal(FlowWindow.AckThreshold, BinaryPrimitives.ReadInt32LittleEndian(payload));
        await _worker.SendAsync(FrameType.ResponseBody, head.StreamId, [], end: true);
        await forwarding;
        Assert.Equal(400, client.Context.Response.StatusCode);
        Assert.Equal(FlowWindow.AckThreshold, (await client.BodyAsync()).Length);
    }

    [Fact]
    public async Task ClientCloseCode_ReachesTheApp()
    {
        var (client, head, socket, forwarding) = await AcceptedAsync();
        await socket.CloseOutputAsync((WebSocketCloseStatus)4002, "leaving", default);
        var (frame, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.WebSocketDisconnect, frame.Type);
        Assert.Equal(head.StreamId, frame.StreamId);
        Assert.Equal((4002, "leaving"), WebSocketClosePayload.Decode(payload));
        // The front answers the close handshake with the client's code.
        var (closed, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, closed);
        Assert.Equal(4002, (int)socket.CloseStatus!);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
        GC.KeepAlive(client);
    }

    [Fact]
    public async Task ClientVanishes_TheAppGets1006()
    {
        var (client, _, _, forwarding) = await AcceptedAsync();
        await client.VanishAsync();
        var (frame, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.WebSocketDisconnect, frame.Type);
        Assert.Equal(1006, WebSocketClosePayload.Decode(payload).Code);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task MessageOverTheLimit_Closes1009_AndTellsTheApp()
    {
        var (_, _, socket, forwarding) = await AcceptedAsync(maxMessage: 100);
        await socket.SendAsync(new byte[60], WebSocketMessageType.Binary, false, default);
        await socket.SendAsync(new byte[60], WebSocketMessageType.Binary, true, default);
        var (first, _) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.WebSocketReceive, first.Type); // the first 60 bytes were within the limit
        var (frame, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.WebSocketDisconnect, frame.Type);
        Assert.Equal(1009, WebSocketClosePayload.Decode(payload).Code);
        var (closed, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, closed);
        Assert.Equal(WebSocketCloseStatus.MessageTooBig, socket.CloseStatus);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WorkerDiesAfterAccept_Closes1011()
    {
        var (_, _, socket, forwarding) = await AcceptedAsync();
        await _worker.DieAsync();
        var (closed, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, closed);
        Assert.Equal(WebSocketCloseStatus.InternalServerError, socket.CloseStatus);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task WorkerDiesBeforeAccept_502()
    {
        var client = new WebSocketClient("/");
        Task forwarding = NewForwarder().InvokeAsync(client.Context);
        await _worker.ReadFrameAsync();
        await _worker.DieAsync();
        await forwarding;
        Assert.Equal(502, client.Context.Response.StatusCode);
        Assert.Null(client.Accepted);
    }

    [Fact]
    public async Task ServerStopping_Closes1001()
    {
        var (_, _, socket, forwarding) = await AcceptedAsync();
        _open.CloseBefore(TimeSpan.FromMilliseconds(200));
        var (closed, _) = await ReceiveAsync(socket);
        Assert.Equal(WebSocketMessageType.Close, closed);
        Assert.Equal(WebSocketCloseStatus.EndpointUnavailable, socket.CloseStatus);
        await socket.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, null, default);
        var (frame, payload) = await _worker.ReadFrameAsync();
        Assert.Equal(FrameType.WebSocketDisconnect, frame.Type);
        Assert.Equal(1001, WebSocketClosePayload.Decode(payload).Code);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ClientMessages_WaitForTheWorkersCredit()
    {
        var (_, head, socket, forwarding) = await AcceptedAsync(maxMessage: 8 << 20);
        byte[] message = new byte[FlowWindow.Size * 2];
        Task sending = socket.SendAsync(message, WebSocketMessageType.Binary, true, default);
        long received = 0;
        while (received < FlowWindow.Size)
        {
            var (frame, payload) = await _worker.ReadFrameAsync();
            Assert.Equal(FrameType.WebSocketReceive, frame.Type);
            received += payload.Length;
        }
        Assert.Equal(FlowWindow.Size, received); // a whole window, then nothing without credit
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => _worker.ReadFrameAsync(TimeSpan.FromMilliseconds(300)));

        byte[] credit = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(credit, FlowWindow.Size);
        await _worker.SendAsync(FrameType.RequestCredit, head.StreamId, credit);
        while (received < message.Length)
        {
            var (_, payload) = await _worker.ReadFrameAsync();
            received += payload.Length;
        }
        await sending;
        await _worker.SendAsync(FrameType.WebSocketClose, head.StreamId, WebSocketClosePayload.Encode(1000, ""));
        await ReceiveAsync(socket);
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, default);
        await forwarding.WaitAsync(TimeSpan.FromSeconds(10));
    }

    private async Task<(WebSocketClient Client, FrameHeader Head, WebSocket Socket, Task Forwarding)> AcceptedAsync(long maxMessage = 1 << 20)
    {
        var client = new WebSocketClient("/");
        Task forwarding = NewForwarder(maxMessage).InvokeAsync(client.Context);
        var (head, _) = await _worker.ReadFrameAsync();
        await _worker.SendAsync(FrameType.WebSocketAccept, head.StreamId, []);
        return (client, head, await client.ConnectedAsync(), forwarding);
    }

    private static async Task<(WebSocketMessageType Type, byte[] Bytes)> ReceiveAsync(WebSocket socket)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var message = new MemoryStream();
        byte[] buffer = new byte[4096];
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

    /// <summary>
    /// An HTTP/1.1 upgrade request whose accept (Kestrel's part) joins a server WebSocket to a client WebSocket over two
    /// in-memory pipes.
    /// </summary>
    private sealed class WebSocketClient : IHttpWebSocketFeature, IHttpRequestLifetimeFeature
    {
        private readonly Pipe _toServer = new();
        private readonly Pipe _toClient = new();
        private readonly MemoryStream _responseBody = new();
        private readonly StreamResponseBodyFeature _bodyFeature;
        private readonly TaskCompletionSource<WebSocket> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CancellationTokenSource _aborted = new();

        public WebSocketClient(string target)
        {
            Context = new DefaultHttpContext();
            IHttpRequestFeature request = Context.Features.Get<IHttpRequestFeature>()!;
            request.Method = "GET";
            request.RawTarget = target;
            request.Protocol = "HTTP/1.1";
            request.Scheme = "http";
            Context.Request.Headers.Host = "localhost";
            Context.Request.Headers.Upgrade = "websocket";
            Context.Connection.RemoteIpAddress = IPAddress.Loopback;
            Context.Connection.LocalIpAddress = IPAddress.Loopback;
            _bodyFeature = new StreamResponseBodyFeature(_responseBody);
            Context.Features.Set<IHttpResponseBodyFeature>(_bodyFeature);
            Context.Features.Set<IHttpWebSocketFeature>(this);
            Context.Features.Set<IHttpRequestLifetimeFeature>(this);
            RequestAborted = _aborted.Token;
        }

        public DefaultHttpContext Context { get; }

        /// <summary>What the front accepted with; null until it accepts.</summary>
        public WebSocketAcceptContext? Accepted { get; private set; }

        public bool IsWebSocketRequest => true;

        public CancellationToken RequestAborted { get; set; }

        public Task<WebSocket> AcceptAsync(WebSocketAcceptContext context)
        {
            Accepted = context;
            Context.Response.StatusCode = 101;
            WebSocket server = WebSocket.CreateFromStream(new DuplexStream(_toServer.Reader, _toClient.Writer),
                new WebSocketCreationOptions { IsServer = true, SubProtocol = context.SubProtocol });
            _connected.SetResult(WebSocket.CreateFromStream(new DuplexStream(_toClient.Reader, _toServer.Writer), new WebSocketCreationOptions()));
            return Task.FromResult(server);
        }

        public Task<WebSocket> ConnectedAsync() => _connected.Task.WaitAsync(TimeSpan.FromSeconds(10));

        /// <summary>The client's connection drops without a close frame.</summary>
        public async Task VanishAsync()
        {
            await _toServer.Writer.CompleteAsync();
            _aborted.Cancel();
        }

        public void Abort() => _aborted.Cancel();

        public async Task<string> BodyAsync()
        {
            await _bodyFeature.CompleteAsync();
            return Encoding.UTF8.GetString(_responseBody.ToArray());
        }
    }
}

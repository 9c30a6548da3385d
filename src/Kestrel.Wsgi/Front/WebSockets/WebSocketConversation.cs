using System.Buffers;
using System.Net.WebSockets;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Front.WebSockets;

/// <summary>
/// An accepted WebSocket between its client and the app: client messages go to the worker in frames of at most
/// <see cref="FlowWindow.MaxChunk"/> within the worker's credit, the app's messages go to the client as the channel
/// reader hands them over, and the worker gets credit once they are sent; so neither a slow client nor a slow app
/// makes either side hold more than a window. Close codes travel both ways (docs/asgi.md, WebSockets).
/// </summary>
internal sealed class WebSocketConversation(WebSocket socket, Exchange exchange, WebSocketSettings settings)
{
    /// <summary>RFC 6455 7.4.1: the close code when the connection ended without a close frame.</summary>
    public const int Vanished = 1006;

    private readonly SemaphoreSlim _sendLock = new(1, 1); // a WebSocket takes one send at a time, close frames included
    private int _closeSent;
    private volatile bool _appClosed;

    /// <summary>Why the front closed the socket with 1009 or 1011, for the log; null when the app or the client closed it.</summary>
    public string? ClosedBecause { get; private set; }

    /// <summary>Relays messages both ways until the socket closes; <paramref name="goingAway"/> closes it with 1001.</summary>
    public async Task RunAsync(CancellationToken goingAway)
    {
        using var stop = new CancellationTokenSource();
        using CancellationTokenRegistration away = goingAway.Register(() => _ = CloseAsync(WebSocketCloseStatus.EndpointUnavailable, "server shutting down"));
        Task receiving = ReceiveAsync(stop.Token);
        Task sending = SendAsync(stop.Token);
        if (await Task.WhenAny(receiving, sending).ConfigureAwait(false) == receiving)
        {
            // The client closed or vanished: the app's later messages have nowhere to go.
            exchange.Close();
            stop.Cancel();
            await EndAsync(sending, stop).ConfigureAwait(false);
            return;
        }
        // The app closed, or its worker is gone: the client's answer to the close frame ends the receiving side.
        await EndAsync(receiving, stop).ConfigureAwait(false);
        stop.Cancel();
    }

    /// <summary>
    /// Waits for one side to end by itself, then drops the connection. The socket's own calls take no token: a
    /// cancellable one sends every message down .NET's slower path, so a stuck call is ended by aborting instead.
    /// </summary>
    private async Task EndAsync(Task side, CancellationTokenSource stop)
    {
        try
        {
            await side.WaitAsync(WebSocketSettings.CloseHandshakeTimeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            socket.Abort();
            stop.Cancel(); // a side waiting for credit or for the send lock
            await side.ConfigureAwait(false);
        }
    }

    /// <summary>Client → worker, until the client's close frame (answered here) or its disappearance; both reach the app.</summary>
    private async Task ReceiveAsync(CancellationToken stop)
    {
        byte[] buffer = ArrayPool<byte>.Shared.Rent(FlowWindow.MaxChunk);
        long messageLength = 0;
        bool discarding = false; // after a 1009, or once the worker is gone: read on only for the client's close
        try
        {
            while (true)
            {
                ValueWebSocketReceiveResult result = await socket.ReceiveAsync(buffer.AsMemory(0, FlowWindow.MaxChunk), CancellationToken.None).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    WebSocketCloseStatus status = socket.CloseStatus ?? WebSocketCloseStatus.Empty;
                    if (!_appClosed)
                    {
                        exchange.DisconnectOnWorker(status == WebSocketCloseStatus.Empty ? 1005 : (int)status, socket.CloseStatusDescription);
                    }
                    await CloseAsync(status, socket.CloseStatusDescription).ConfigureAwait(false); // RFC 6455 5.5.1: echo the code
                    return;
                }
                if (discarding)
                {
                    continue;
                }
                messageLength += result.Count;
                if (messageLength > settings.MaxMessageSize)
                {
                    discarding = true;
                    ClosedBecause = $"a client message passed --ws-max-message-size ({settings.MaxMessageSize} bytes)";
                    exchange.DisconnectOnWorker((int)WebSocketCloseStatus.MessageTooBig, "message too big");
                    await CloseAsync(WebSocketCloseStatus.MessageTooBig, "message too big").ConfigureAwait(false);
                    continue;
                }
                FrameFlags flags = (result.EndOfMessage ? FrameFlags.End : FrameFlags.None)
                    | (result.MessageType == WebSocketMessageType.Text ? FrameFlags.Text : FrameFlags.None);
                try
                {
                    await exchange.TakeRequestCreditAsync(result.Count, stop).ConfigureAwait(false);
                    await exchange.Connection.SendAsync(FrameType.WebSocketReceive, flags, exchange.Id, buffer.AsMemory(0, result.Count), stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    discarding = true; // the channel broke: the sending side closes the socket with 1011
                }
                if (result.EndOfMessage)
                {
                    messageLength = 0;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            if (!_appClosed)
            {
                exchange.DisconnectOnWorker(Vanished, "");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Worker → client, until the app closes, its worker is lost, or the front closes the exchange.</summary>
    private async Task SendAsync(CancellationToken stop)
    {
        ResponseQueue parts = exchange.Parts;
        int unacknowledged = 0;
        while (await parts.WaitToReadAsync().ConfigureAwait(false))
        {
            while (parts.TryRead(out ResponsePart part))
            {
                try
                {
                    switch (part.Kind)
                    {
                        case ResponsePartKind.WebSocketText or ResponsePartKind.WebSocketBinary:
                            if (Volatile.Read(ref _closeSent) == 0)
                            {
                                var type = part.Kind == ResponsePartKind.WebSocketText ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
                                await _sendLock.WaitAsync(stop).ConfigureAwait(false);
                                try
                                {
                                    await socket.SendAsync(part.Buffer.AsMemory(0, part.Length), type, part.End, CancellationToken.None).ConfigureAwait(false);
                                }
                                finally
                                {
                                    _sendLock.Release();
                                }
                            }
                            unacknowledged += part.Length;
                            if (unacknowledged >= FlowWindow.AckThreshold)
                            {
                                await exchange.Connection.SendCreditAsync(FrameType.ResponseCredit, exchange.Id, unacknowledged).ConfigureAwait(false);
                                unacknowledged = 0;
                            }
                            break;
                        case ResponsePartKind.WebSocketClose:
                            (int code, string reason) = WebSocketClosePayload.Decode(part.Buffer.AsSpan(0, part.Length));
                            _appClosed = true;
                            await CloseAsync((WebSocketCloseStatus)code, reason).ConfigureAwait(false);
                            return;
                        default:
                            // The worker died or timed out, the app failed, or the worker broke the protocol.
                            ClosedBecause = part.Kind switch
                            {
                                ResponsePartKind.WorkerLost => "the worker serving it died",
                                ResponsePartKind.TimedOut => "its worker was killed (--timeout)",
                                ResponsePartKind.Abort => "the app failed",
                                _ => $"the worker sent {part.Kind} on an accepted WebSocket",
                            };
                            _appClosed = true;
                            await CloseAsync(WebSocketCloseStatus.InternalServerError, "").ConfigureAwait(false);
                            return;
                    }
                }
                catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException or System.Net.Sockets.SocketException)
                {
                    return; // the client is gone (the receiving side tells the app), or the channel broke (a WorkerLost part follows, unread)
                }
                finally
                {
                    if (part.Buffer is not null)
                    {
                        ArrayPool<byte>.Shared.Return(part.Buffer);
                    }
                }
            }
        }
    }

    /// <summary>Sends the close frame once, whoever asks first (the app, the client's close, a limit, the server stopping).</summary>
    private async Task CloseAsync(WebSocketCloseStatus status, string? reason)
    {
        if (Interlocked.Exchange(ref _closeSent, 1) != 0)
        {
            return;
        }
        if (status != WebSocketCloseStatus.Empty && !IsSendable((int)status))
        {
            status = WebSocketCloseStatus.InternalServerError; // the worker checks the app's code; this is the last guard
        }
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await socket.CloseOutputAsync(status, status == WebSocketCloseStatus.Empty ? null : reason, CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The client is gone already.
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>RFC 6455 7.4: the codes an endpoint may put in a close frame (1004–1006 and 1015 are reserved).</summary>
    public static bool IsSendable(int code) => code is (>= 1000 and <= 1003) or (>= 1007 and <= 1014) or (>= 3000 and <= 4999);
}

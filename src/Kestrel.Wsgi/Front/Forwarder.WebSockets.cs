using System.Buffers;
using System.Net.WebSockets;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// A WebSocket handshake (HTTP/1.1 Upgrade or HTTP/2 extended CONNECT, RFC 8441) for an ASGI app: the same steps as a
/// request, except that the front does not accept until the app does. (3) choose a worker, (4) offer the handshake (a websocket scope),
/// (6) relay the app's answer — accept (101 or 200 and the conversation), close (403), or an HTTP response of its
/// own (the <c>websocket.http.response</c> extension) — (7) finish.
/// </summary>
internal sealed partial class Forwarder
{
    private async Task ForwardWebSocketAsync(HttpContext context, string rawTarget, string query, ReadOnlyMemory<byte> pathInfo)
    {
        // 3. Choose a worker; the conversation holds its place for as long as it lasts.
        WorkerProcess? worker;
        try
        {
            worker = await pool.AcquireAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (worker is null)
        {
            Answer(context, ForwardError.Overloaded);
            return;
        }
        ForwardError error;
        try
        {
            error = await OfferWebSocketAsync(context, worker, rawTarget, query, pathInfo).ConfigureAwait(false);
        }
        finally
        {
            pool.Release(worker);
        }
        if (error != ForwardError.None)
        {
            Answer(context, error);
        }
    }

    /// <summary>Steps 4 to 7 of a handshake: the error when it did not end with the app's answer.</summary>
    private async Task<ForwardError> OfferWebSocketAsync(HttpContext context, WorkerProcess worker, string rawTarget, string query, ReadOnlyMemory<byte> pathInfo)
    {
        Exchange exchange = worker.OpenWebSocket();
        WorkerConnection connection = exchange.Connection;
        try
        {
            // 4. The handshake is a scope head of type websocket, with no body (docs/asgi.md, WebSockets).
            await connection.SendScopeHeadAsync(exchange.Id, FrameFlags.End, context, options.UrlPrefix, pathInfo, rawTarget, query, "websocket").ConfigureAwait(false);

            // 6. The app's answer to its websocket.connect event.
            ResponseQueue parts = exchange.Parts;
            bool bodyAllowed = true;
            int unacknowledged = 0;
            CancellationTokenRegistration gone = context.RequestAborted.Register(
                static state => ((Exchange)state!).DisconnectOnWorker(WebSocketConversation.Vanished, ""), exchange);
            try
            {
                while (await parts.WaitToReadAsync().ConfigureAwait(false))
                {
                    while (parts.TryRead(out ResponsePart part))
                    {
                        try
                        {
                            switch (part.Kind)
                            {
                                case ResponsePartKind.WebSocketAccept:
                                    WebSocketAccept accept = WebSocketAccept.Read(part.Buffer.AsSpan(0, part.Length));
                                    await gone.DisposeAsync().ConfigureAwait(false); // from here the conversation tells the app
                                    return await ConverseAsync(context, exchange, accept).ConfigureAwait(false);
                                case ResponsePartKind.WebSocketClose:
                                    // ASGI: a close before the accept refuses the handshake with 403.
                                    context.Response.StatusCode = StatusCodes.Status403Forbidden;
                                    context.Response.ContentLength = 0;
                                    LogWebSocketRefused();
                                    return ForwardError.None;
                                case ResponsePartKind.Head:
                                    // The websocket.http.response extension: the app answers the handshake with a response of its own.
                                    SetHead(context, part.Buffer.AsSpan(0, part.Length));
                                    bodyAllowed = context.Response.StatusCode is not (204 or 304);
                                    break;
                                case ResponsePartKind.Body:
                                    if (bodyAllowed && part.Length > 0)
                                    {
                                        await context.Response.BodyWriter.WriteAsync(part.Buffer.AsMemory(0, part.Length), context.RequestAborted).ConfigureAwait(false);
                                    }
                                    // The worker sends a long denial body within the front's credit, as any response body.
                                    unacknowledged += part.Length;
                                    if (unacknowledged >= FlowWindow.AckThreshold)
                                    {
                                        await connection.SendCreditAsync(FrameType.ResponseCredit, exchange.Id, unacknowledged).ConfigureAwait(false);
                                        unacknowledged = 0;
                                    }
                                    break;
                                case ResponsePartKind.Abort:
                                    return ForwardError.AppFailedAfterHead;
                                case ResponsePartKind.WorkerLost:
                                    return ForwardError.WorkerLost;
                                case ResponsePartKind.TimedOut:
                                    return ForwardError.TimedOut;
                                default:
                                    throw new InvalidDataException($"The worker sent {part.Kind} before it accepted a WebSocket.");
                            }
                        }
                        finally
                        {
                            if (part.Buffer is not null)
                            {
                                ArrayPool<byte>.Shared.Return(part.Buffer);
                            }
                        }
                        if (part.End)
                        {
                            return ForwardError.None; // the denial response is complete
                        }
                    }
                }
            }
            finally
            {
                await gone.DisposeAsync().ConfigureAwait(false);
            }
            return ForwardError.ClientGone;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return ForwardError.WorkerLost;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return ForwardError.ClientGone;
        }
        catch (InvalidDataException ex)
        {
            LogBadResponse(ex.Message);
            return ForwardError.BadResponse;
        }
        finally
        {
            // 7. Finish: the worker's late frames for this socket are dropped.
            connection.Close(exchange);
        }
    }

    /// <summary>Accepts the client's handshake as the app did (subprotocol, extra headers), then relays messages until either side closes.</summary>
    private async Task<ForwardError> ConverseAsync(HttpContext context, Exchange exchange, WebSocketAccept accept)
    {
        IHeaderDictionary headers = context.Response.Headers;
        foreach ((string name, string value) in accept.Headers)
        {
            headers.Append(name, value);
        }
        WebSocket socket;
        try
        {
            socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                SubProtocol = accept.SubProtocol,
                KeepAliveInterval = _webSockets.PingInterval,
                KeepAliveTimeout = _webSockets.PingTimeout == TimeSpan.Zero ? Timeout.InfiniteTimeSpan : _webSockets.PingTimeout,
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            exchange.DisconnectOnWorker(WebSocketConversation.Vanished, "");
            return ForwardError.ClientGone;
        }
        using (socket)
        {
            var conversation = new WebSocketConversation(socket, exchange, _webSockets);
            await conversation.RunAsync(_openWebSockets.GoingAway).ConfigureAwait(false);
            if (conversation.ClosedBecause is string why)
            {
                LogWebSocketClosedByFront(why);
            }
        }
        return ForwardError.None;
    }

    [LoggerMessage(90, LogLevel.Debug, "403: the app closed a WebSocket before it accepted it.")]
    private partial void LogWebSocketRefused();

    [LoggerMessage(91, LogLevel.Information, "A WebSocket was closed by the front: {Reason}.")]
    private partial void LogWebSocketClosedByFront(string reason);
}

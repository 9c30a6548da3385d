using System.Buffers;
using System.IO.Pipelines;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Front.WebSockets;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// The terminal step for every request that is not a static file, in numbered steps: (1) validate, (2) read the
/// body whole when it is buffered, (3) choose a worker, (4) send the head, (5) pump the body, (6) relay the
/// response, (7) finish. Every way a request can fail is a <see cref="ForwardError"/>, answered in one place
/// (<see cref="Answer"/>).
/// </summary>
internal sealed partial class Forwarder(WorkerPool pool, FrontOptions options, RequestLimits limits, ILogger<Forwarder> logger,
    WebSocketSettings? webSocketSettings = null, OpenWebSockets? openWebSockets = null)
{
    private readonly byte[] _prefix = System.Text.Encoding.Latin1.GetBytes(options.UrlPrefix);
    private readonly WebSocketSettings _webSockets = webSocketSettings ?? WebSocketSettings.Default;
    private readonly OpenWebSockets _openWebSockets = openWebSockets ?? new OpenWebSockets();

    /// <summary>
    /// WebSocket handshakes go to the app when its workers speak ASGI; set once before the server starts, when the first
    /// worker said which interface the app has (false: every request skips the handshake check).
    /// </summary>
    public bool AcceptsWebSockets { get; set; }

    public async Task InvokeAsync(HttpContext context)
    {
        // 1. Validate what Kestrel lets through and a WSGI app must be able to rely on.
        // A WebSocket handshake goes to an ASGI app, which decides whether to accept it (Forwarder.WebSockets.cs); a WSGI
        // app sees it as a plain request, as before.
        bool webSocket = AcceptsWebSockets && context.WebSockets.IsWebSocketRequest && pool.SpeaksAsgi;
        RequestRejection rejection = RequestValidator.Check(context.Request, limits.MaxFieldSize, webSocket);
        if (rejection != RequestRejection.None)
        {
            Answer(context, ForwardError.RequestRejected, RequestValidator.StatusOf(rejection), RequestValidator.Describe(rejection));
            return;
        }
        string rawTarget = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        byte[] path = ArrayPool<byte>.Shared.Rent(RequestTarget.MaxPathBytes(rawTarget));
        try
        {
            string query = RequestTarget.Split(rawTarget, path, out int pathLength);
            ReadOnlyMemory<byte> pathInfo = path.AsMemory(0, pathLength);
            if (!BelowPrefix(ref pathInfo))
            {
                Answer(context, ForwardError.OutsidePrefix);
                return;
            }
            if (webSocket)
            {
                await ForwardWebSocketAsync(context, rawTarget, query, pathInfo).ConfigureAwait(false);
                return;
            }

            // 2. Read the body whole first when it is buffered, so a slow upload holds a connection, not a worker.
            bool hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
            RequestBodyBuffer? body = null;
            if (hasBody)
            {
                (ForwardError error, int status, body) = await ReadBodyAsync(context).ConfigureAwait(false);
                if (error != ForwardError.None)
                {
                    Answer(context, error, status, DescribeBodyStatus(status));
                    return;
                }
            }
            using (body)
            {
                // 3. Choose a worker: the least loaded one with room, or a place in the queue, or 503.
                WorkerProcess? worker;
                try
                {
                    worker = await pool.AcquireAsync(context.RequestAborted).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return; // the client left while queued
                }
                if (worker is null)
                {
                    Answer(context, ForwardError.Overloaded);
                    return;
                }
                (ForwardError error, int status, ResponseSpool? spool) = (ForwardError.None, 0, null);
                try
                {
                    (error, status, spool) = await ForwardAsync(context, worker, rawTarget, query, pathInfo, hasBody, body).ConfigureAwait(false);
                }
                finally
                {
                    pool.Release(worker);
                }
                if (error != ForwardError.None)
                {
                    Answer(context, error, status, DescribeBodyStatus(status));
                }
                if (spool is not null)
                {
                    // The worker is done and free; only the client is still taking the response.
                    await spool.FinishAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(path);
        }
    }

    /// <summary>Cuts <c>--url-prefix</c> (SCRIPT_NAME) off the decoded path; false when the path is outside it.</summary>
    private bool BelowPrefix(ref ReadOnlyMemory<byte> pathInfo)
    {
        if (_prefix.Length == 0)
        {
            return true;
        }
        ReadOnlySpan<byte> decoded = pathInfo.Span;
        bool inside = decoded.StartsWith(_prefix)
            || (options.PrefixIgnoresCase && decoded.Length >= _prefix.Length && System.Text.Ascii.EqualsIgnoreCase(decoded[.._prefix.Length], _prefix));
        if (!inside || (decoded.Length > _prefix.Length && decoded[_prefix.Length] != '/'))
        {
            return false;
        }
        pathInfo = pathInfo[_prefix.Length..];
        return true;
    }

    /// <summary>Step 2: the body read whole (buffered mode, or a length the request did not declare), or null to stream it.</summary>
    private async ValueTask<(ForwardError Error, int Status, RequestBodyBuffer? Body)> ReadBodyAsync(HttpContext context)
    {
        long? declared = context.Request.ContentLength;
        if (limits.MaxBodySize is long max && declared > max)
        {
            // Refused before a byte of it is read (and before 100-continue) and before a worker is taken.
            return (ForwardError.BodyRejected, StatusCodes.Status413PayloadTooLarge, null);
        }
        // A body of undeclared length (chunked; HTTP/2 without content-length) is read whole even when bodies
        // are streamed: most apps read exactly CONTENT_LENGTH bytes, so it must be known (docs/limits.md).
        if (!limits.BufferBody && declared is not null)
        {
            return (ForwardError.None, 0, null);
        }
        try
        {
            return (ForwardError.None, 0, await RequestBodyBuffer.ReadAsync(context.Request.BodyReader, limits.TempFolder, limits.MaxBodySize, context.RequestAborted).ConfigureAwait(false));
        }
        catch (BadHttpRequestException ex)
        {
            return (ForwardError.BodyRejected, ex.StatusCode, null);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The client left mid-upload, or the spool file could not be written; the spool file is already closed.
            return (ForwardError.ClientGone, 0, null);
        }
    }

    /// <summary>
    /// Steps 4 to 7 on the chosen worker: the error (and a rejected body's status) when it did not end with the app's
    /// answer, and the spool holding what a slow client has not taken yet, if it fell behind.
    /// </summary>
    private async Task<(ForwardError Error, int Status, ResponseSpool? Spool)> ForwardAsync(HttpContext context, WorkerProcess worker, string rawTarget, string query, ReadOnlyMemory<byte> pathInfo, bool hasBody, RequestBodyBuffer? body)
    {
        Exchange exchange = worker.Open();
        WorkerConnection connection = exchange.Connection;
        CancellationTokenSource? bodyDone = hasBody ? new CancellationTokenSource() : null; // none for a bodiless request
        Task pump = Task.CompletedTask;
        try
        {
            // 4. Send the head; a body whose length the request did not declare goes with its decoded length.
            long? decodedLength = body is not null && context.Request.ContentLength is null ? body.Length : null;
            FrameFlags headFlags = hasBody ? FrameFlags.None : FrameFlags.End;
            if (connection.IsAsgi)
            {
                // ASGI gets the raw headers and path (docs/asgi.md); the body streams the same way for both.
                await connection.SendScopeHeadAsync(exchange.Id, headFlags, context, options.UrlPrefix, pathInfo, rawTarget, query).ConfigureAwait(false);
            }
            else
            {
                await connection.SendRequestHeadAsync(exchange.Id, headFlags, context, options.UrlPrefix, pathInfo, rawTarget, query, decodedLength).ConfigureAwait(false);
            }

            // 5. Pump the body beside the response: the app may answer before it has read it all.
            if (bodyDone is not null)
            {
                pump = PumpBodyAsync(context, exchange, body, limits.MaxBodySize, bodyDone.Token);
            }

            // 6. Relay the response as the worker sends it.
            using (context.RequestAborted.Register(static state => ((Exchange)state!).CancelOnWorker(), exchange))
            {
                return await RelayResponseAsync(context, exchange).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return (ForwardError.WorkerLost, 0, null); // the channel broke under us: the worker died
        }
        catch (InvalidDataException ex)
        {
            LogBadResponse(ex.Message);
            return (ForwardError.BadResponse, 0, null);
        }
        finally
        {
            // 7. Finish: the body pump has ended before the response does (Kestrel then drains what the app did not
            // read), and the worker's late frames are dropped.
            if (bodyDone is not null)
            {
                bodyDone.Cancel();
                if (!pump.IsCompleted)
                {
                    context.Request.BodyReader.CancelPendingRead(); // a pump waiting for body bytes
                }
                await pump.ConfigureAwait(false);
                bodyDone.Dispose();
            }
            connection.Close(exchange);
        }
    }

    /// <summary>
    /// Step 6: writes the worker's head and body parts to the client, giving the worker credit as its bytes are
    /// passed on. While the client keeps up, bytes go straight to Kestrel; once a write finds Kestrel's buffer full,
    /// the rest goes to a <see cref="ResponseSpool"/>, returned for the caller to finish once the worker is released.
    /// </summary>
    private async Task<(ForwardError Error, int Status, ResponseSpool? Spool)> RelayResponseAsync(HttpContext context, Exchange exchange)
    {
        HttpResponse response = context.Response;
        bool bodyAllowed = true;
        long? limit = null;
        long written = 0;
        int unacknowledged = 0;
        ResponseSpool? spool = null;
        ResponseQueue parts = exchange.Parts;
        try
        {
            while (await parts.WaitToReadAsync().ConfigureAwait(false))
            {
                while (parts.TryRead(out ResponsePart part))
                {
                    bool spooled = false; // the spool took part.Buffer
                    try
                    {
                        switch (part.Kind)
                        {
                            case ResponsePartKind.Head:
                                SetHead(context, part.Buffer.AsSpan(0, part.Length));
                                bodyAllowed = !HttpMethods.IsHead(context.Request.Method) && response.StatusCode is not (204 or 304);
                                limit = response.ContentLength;
                                break;
                            case ResponsePartKind.Body when part.Length > 0:
                                if (bodyAllowed)
                                {
                                    // PEP 3333: never more than the app's own Content-Length.
                                    int length = limit is long max ? (int)Math.Min(part.Length, Math.Max(0, max - written)) : part.Length;
                                    written += length;
                                    if (length > 0)
                                    {
                                        spooled = WriteOrSpool(context, part.Buffer!, length, ref spool);
                                    }
                                }
                                unacknowledged += part.Length;
                                if (unacknowledged >= FlowWindow.AckThreshold)
                                {
                                    await exchange.Connection.SendCreditAsync(FrameType.ResponseCredit, exchange.Id, unacknowledged).ConfigureAwait(false);
                                    unacknowledged = 0;
                                }
                                break;
                            case ResponsePartKind.File:
                                if (spool is not null)
                                {
                                    // The file follows what the client has not taken yet.
                                    await spool.FinishAsync().ConfigureAwait(false);
                                    spool = null;
                                }
                                written += await SendFileAsync(context, exchange, FileReference.Read(part.Buffer.AsSpan(0, part.Length)), bodyAllowed, limit is long cap ? cap - written : null).ConfigureAwait(false);
                                break;
                            case ResponsePartKind.Trailers:
                                SetTrailers(context, part.Buffer.AsSpan(0, part.Length));
                                break;
                            case ResponsePartKind.Abort:
                                return (ForwardError.AppFailedAfterHead, 0, spool);
                            case ResponsePartKind.WorkerLost:
                                return (ForwardError.WorkerLost, 0, spool);
                            case ResponsePartKind.TimedOut:
                                return (ForwardError.TimedOut, 0, spool);
                            case ResponsePartKind.BadRequestBody:
                                return (ForwardError.BodyRejected, part.Length, spool);
                        }
                    }
                    finally
                    {
                        if (part.Buffer is not null && !spooled)
                        {
                            ArrayPool<byte>.Shared.Return(part.Buffer);
                        }
                    }
                    if (part.End)
                    {
                        spool?.Complete();
                        return (ForwardError.None, 0, spool);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the worker has been told.
        }
        catch when (spool is not null)
        {
            context.Abort(); // the channel broke mid-response: the client cannot get the rest
            await spool.FinishAsync().ConfigureAwait(false);
            throw;
        }
        return (ForwardError.ClientGone, 0, spool);
    }

    /// <summary>
    /// Hands a body part to Kestrel, or to the spool once Kestrel's buffer is full; true when the spool took the
    /// (pooled) buffer. The fast path is Kestrel's own write, completed at once: no copy, no allocation of ours.
    /// </summary>
    private bool WriteOrSpool(HttpContext context, byte[] buffer, int length, ref ResponseSpool? spool)
    {
        if (spool is not null)
        {
            spool.Append(buffer, length);
            return true;
        }
        PipeWriter output = context.Response.BodyWriter;
        ValueTask<FlushResult> write = output.WriteAsync(buffer.AsMemory(0, length), context.RequestAborted);
        if (write.IsCompleted)
        {
            write.GetAwaiter().GetResult();
        }
        else
        {
            // The bytes are in Kestrel's buffer already; the client is not taking them as fast as the app makes them.
            spool = ResponseSpool.Start(output, write, limits.TempFolder, context.RequestAborted);
        }
        return false;
    }

    /// <summary>
    /// Sends a file range the app handed to wsgi.file_wrapper straight from the file. The worker waits for
    /// the answer: if the file cannot be opened here, it streams the bytes itself instead.
    /// </summary>
    private static async Task<long> SendFileAsync(HttpContext context, Exchange exchange, FileReference file, bool bodyAllowed, long? room)
    {
        Microsoft.Win32.SafeHandles.SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            await exchange.Connection.SendFileOpenedAsync(exchange.Id, opened: false).ConfigureAwait(false);
            return 0;
        }
        using (handle)
        {
            await exchange.Connection.SendFileOpenedAsync(exchange.Id, opened: true).ConfigureAwait(false);
            long remaining = Math.Min(file.Length, Math.Max(0, RandomAccess.GetLength(handle) - file.Offset));
            if (room is long max)
            {
                remaining = Math.Min(remaining, Math.Max(0, max));
            }
            if (!bodyAllowed)
            {
                return 0;
            }
            HttpResponse response = context.Response;
            if (!response.HasStarted && response.ContentLength is null && !response.Headers.ContainsKey("Transfer-Encoding"))
            {
                response.ContentLength = remaining;
            }
            return await FileBody.CopyAsync(response.BodyWriter, handle, file.Offset, remaining, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private static void SetHead(HttpContext context, ReadOnlySpan<byte> payload)
    {
        var head = new ResponseHead(payload);
        HttpResponse response = context.Response;
        response.StatusCode = head.StatusCode;
        context.Features.Get<IHttpResponseFeature>()!.ReasonPhrase = head.ReasonPhrase;
        IHeaderDictionary headers = response.Headers;
        foreach ((string name, string value) in head)
        {
            if (name.Length == 6 && name.Equals("Server", StringComparison.OrdinalIgnoreCase))
            {
                headers.Server = value; // the app's own replaces --server-header's
                continue;
            }
            headers.Append(name, value);
        }
    }

    /// <summary>Trailers after the body; the worker sends them only where the scope said they can go (HTTP/2).</summary>
    private static void SetTrailers(HttpContext context, ReadOnlySpan<byte> payload)
    {
        HttpResponse response = context.Response;
        if (!response.SupportsTrailers())
        {
            return;
        }
        foreach ((string name, string value) in new ResponseHead.Enumerator(payload))
        {
            response.AppendTrailer(name, value);
        }
    }

    /// <summary>
    /// Step 5: streams the request body to the worker as it arrives (or from its spool file), never more than the
    /// worker's credit ahead. A body buffered in memory is read from the request pipe like a streamed one.
    /// </summary>
    private static async Task PumpBodyAsync(HttpContext context, Exchange exchange, RequestBodyBuffer? buffered, long? maxLength, CancellationToken cancellationToken)
    {
        WorkerConnection connection = exchange.Connection;
        if (buffered is { Spooled: true })
        {
            try
            {
                await buffered.SendAsync(exchange, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The response finished first (the app did not read the whole body) or the client left.
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                exchange.CancelOnWorker();
            }
            return;
        }
        PipeReader body = context.Request.BodyReader;
        long length = 0;
        try
        {
            while (true)
            {
                // No token: a read cancelled by one leaves Kestrel's body reader "in progress", and its drain of
                // the unread body then fails. Step 7 stops a waiting read with CancelPendingRead instead.
                ReadResult result = await RequestBodyReader.ReadAsync(body, CancellationToken.None).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                ReadOnlySequence<byte> rest = buffer;
                try
                {
                    if (result.IsCanceled || cancellationToken.IsCancellationRequested)
                    {
                        return; // the response finished first
                    }
                    length += buffer.Length;
                    RequestBodyLimit.Check(length, maxLength);
                    // Kestrel hands the body over in small pooled blocks; frames gather them up to MaxChunk,
                    // so a large upload costs one frame and one send per 64 KiB, not per block.
                    while (!rest.IsEmpty)
                    {
                        ReadOnlySequence<byte> piece = rest.Slice(0, Math.Min(rest.Length, FlowWindow.MaxChunk));
                        await exchange.TakeRequestCreditAsync((int)piece.Length, cancellationToken).ConfigureAwait(false);
                        await connection.SendAsync(FrameType.RequestBody, exchange.Id, piece, cancellationToken).ConfigureAwait(false);
                        rest = rest.Slice(piece.End);
                    }
                }
                finally
                {
                    // Always, even when stopped mid-read: what was not sent is left for Kestrel to drain.
                    body.AdvanceTo(rest.Start);
                }
                if (result.IsCompleted)
                {
                    break;
                }
            }
            await connection.SendAsync(FrameType.RequestEnd, FrameFlags.None, exchange.Id, default, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The response finished first (the app did not read the whole body) or the client left.
        }
        catch (BadHttpRequestException ex)
        {
            // The answer first: once cancelled, the worker's abort could otherwise overtake it and drop the connection.
            exchange.Post(new ResponsePart(ResponsePartKind.BadRequestBody, null, ex.StatusCode, true));
            exchange.CancelOnWorker();
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException or Microsoft.AspNetCore.Connections.ConnectionResetException)
        {
            exchange.CancelOnWorker();
        }
    }

    /// <summary>Why a body was refused, for the one-line answer.</summary>
    private string? DescribeBodyStatus(int status) => status switch
    {
        StatusCodes.Status413PayloadTooLarge => $"the request body is larger than {limits.MaxBodySize} bytes",
        StatusCodes.Status408RequestTimeout => "the request body arrived too slowly",
        StatusCodes.Status400BadRequest => "the request body is malformed",
        _ => null,
    };

    /// <summary>The one place a <see cref="ForwardError"/> is answered: its status and one-line body, or a dropped connection.</summary>
    private void Answer(HttpContext context, ForwardError error, int detail = 0, string? why = null)
    {
        LogError(error, detail);
        switch (error)
        {
            case ForwardError.None:
                return;
            case ForwardError.AppFailedAfterHead or ForwardError.ClientGone:
                // Nothing honest to send: never Kestrel's default 200 for a request that did not run to its end.
                context.Abort();
                return;
        }
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            // Something was sent already: the only honest signal left is to drop the connection.
            context.Abort();
            return;
        }
        int status = ForwardErrors.StatusOf(error, detail);
        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        byte[] body = System.Text.Encoding.UTF8.GetBytes(ForwardErrors.Describe(error, status, why));
        response.ContentLength = body.Length;
        if (error == ForwardError.Overloaded)
        {
            response.Headers.RetryAfter = "1";
        }
        if (ForwardErrors.ClosesConnection(error))
        {
            // The rest of the request was never read, so the connection cannot carry another one.
            response.Headers.Connection = "close";
        }
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            response.BodyWriter.Write(body);
        }
    }

    private void LogError(ForwardError error, int detail)
    {
        switch (error)
        {
            case ForwardError.RequestRejected: LogRequestRejected(detail); break;
            case ForwardError.OutsidePrefix: LogOutsidePrefix(); break;
            case ForwardError.BodyRejected: LogBodyRejected(detail); break;
            case ForwardError.Overloaded: Hosting.Metrics.KwsgiMetrics.Refused.Add(1); LogOverloaded(); break;
            case ForwardError.WorkerLost: LogWorkerLost(); break;
            case ForwardError.TimedOut: LogTimedOut(); break;
            case ForwardError.AppFailedAfterHead: LogAppFailedAfterHead(); break;
            case ForwardError.ClientGone: LogClientGone(); break;
        }
    }

    [LoggerMessage(30, LogLevel.Debug, "Refused a request the front's checks do not pass: {Status}.")]
    private partial void LogRequestRejected(int status);

    [LoggerMessage(31, LogLevel.Debug, "404: the path is outside --url-prefix.")]
    private partial void LogOutsidePrefix();

    [LoggerMessage(32, LogLevel.Debug, "Refused a request body: {Status}.")]
    private partial void LogBodyRejected(int status);

    [LoggerMessage(33, LogLevel.Debug, "503: every worker is busy and the queue is full.")]
    private partial void LogOverloaded();

    [LoggerMessage(34, LogLevel.Warning, "502: the worker serving a request died.")]
    private partial void LogWorkerLost();

    [LoggerMessage(35, LogLevel.Error, "502: a worker sent an invalid response: {Reason}")]
    private partial void LogBadResponse(string reason);

    [LoggerMessage(36, LogLevel.Warning, "504: a request ran past --timeout.")]
    private partial void LogTimedOut();

    [LoggerMessage(37, LogLevel.Debug, "The app failed after its response head was sent; the connection is dropped.")]
    private partial void LogAppFailedAfterHead();

    [LoggerMessage(38, LogLevel.Debug, "The client left before its response was complete.")]
    private partial void LogClientGone();
}

using System.Buffers;
using System.IO.Pipelines;
using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Dispatch;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// The terminal step for every request that is not a static file: reserve a worker thread, send the head
/// and stream the body to it, and write what the app answers back to the client.
/// </summary>
internal sealed partial class WsgiHandler(WorkerPool pool, FrontOptions options, RequestLimits limits, ILogger<WsgiHandler> logger)
{
    private readonly byte[] _prefix = System.Text.Encoding.Latin1.GetBytes(options.UrlPrefix);

    public async Task InvokeAsync(HttpContext context)
    {
        RequestRejection rejection = RequestValidator.Check(context.Request, limits.MaxFieldSize);
        if (rejection != RequestRejection.None)
        {
            int status = RequestValidator.StatusOf(rejection);
            Fail(context, status, $"{ReasonPhrases.GetReasonPhrase(status)}: {RequestValidator.Describe(rejection)}\n");
            context.Response.Headers.Connection = "close";
            return;
        }
        string rawTarget = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        byte[] path = ArrayPool<byte>.Shared.Rent(RequestTarget.MaxPathBytes(rawTarget));
        try
        {
            string query = RequestTarget.Split(rawTarget, path, out int pathLength);
            await DispatchAsync(context, rawTarget, query, path.AsMemory(0, pathLength)).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(path);
        }
    }

    private async Task DispatchAsync(HttpContext context, string rawTarget, string query, ReadOnlyMemory<byte> pathInfo)
    {
        if (_prefix.Length > 0)
        {
            // SCRIPT_NAME is the prefix; a path outside it belongs to no app here.
            ReadOnlySpan<byte> decoded = pathInfo.Span;
            bool inside = decoded.StartsWith(_prefix)
                || (options.PrefixIgnoresCase && decoded.Length >= _prefix.Length && System.Text.Ascii.EqualsIgnoreCase(decoded[.._prefix.Length], _prefix));
            if (!inside || (decoded.Length > _prefix.Length && decoded[_prefix.Length] != '/'))
            {
                Fail(context, StatusCodes.Status404NotFound, "Not Found\n");
                return;
            }
            pathInfo = pathInfo[_prefix.Length..];
        }

        bool hasBody = context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody ?? true;
        RequestBodyBuffer? body = null;
        if (hasBody)
        {
            if (limits.MaxBodySize is long max && context.Request.ContentLength > max)
            {
                // Refused before a byte of it is read (and before 100-continue) and before a worker is taken.
                FailBody(context, StatusCodes.Status413PayloadTooLarge);
                return;
            }
            if (limits.BufferBody)
            {
                try
                {
                    body = await RequestBodyBuffer.ReadAsync(context.Request.BodyReader, limits.TempFolder, limits.MaxBodySize, context.RequestAborted).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex)
                {
                    FailBody(context, ex.StatusCode);
                    return;
                }
                catch (Exception ex) when (ex is OperationCanceledException or IOException)
                {
                    // The client left mid-upload, or the spool file could not be written: close, never the default 200.
                    // The spool file is already closed, so gone.
                    context.Abort();
                    return;
                }
            }
        }
        using (body)
        {
            await AcquireAndForwardAsync(context, rawTarget, query, pathInfo, hasBody, body).ConfigureAwait(false);
        }
    }

    private async Task AcquireAndForwardAsync(HttpContext context, string rawTarget, string query, ReadOnlyMemory<byte> pathInfo, bool hasBody, RequestBodyBuffer? body)
    {
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
            Fail(context, StatusCodes.Status503ServiceUnavailable, "Service Unavailable: every worker is busy and the queue is full\n");
            context.Response.Headers.RetryAfter = "1";
            return;
        }

        try
        {
            await ForwardAsync(context, worker, rawTarget, query, pathInfo, hasBody, body).ConfigureAwait(false);
        }
        finally
        {
            pool.Release(worker);
        }
    }

    private async Task ForwardAsync(HttpContext context, WorkerProcess worker, string rawTarget, string query, ReadOnlyMemory<byte> pathInfo, bool hasBody, RequestBodyBuffer? body)
    {
        Exchange exchange = worker.Open();
        using var bodyDone = new CancellationTokenSource();
        Task pump = Task.CompletedTask;
        try
        {
            await worker.SendRequestHeadAsync(exchange.Id, hasBody ? FrameFlags.None : FrameFlags.End, context, options.UrlPrefix, pathInfo, rawTarget, query).ConfigureAwait(false);
            if (hasBody)
            {
                pump = PumpBodyAsync(context, exchange, body, limits.MaxBodySize, bodyDone.Token);
            }
            using (context.RequestAborted.Register(static state => ((Exchange)state!).CancelOnWorker(), exchange))
            {
                await WriteResponseAsync(context, exchange).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // The channel broke under us: the worker died.
            Fail(context, StatusCodes.Status502BadGateway, "Bad Gateway: the worker serving this request died\n");
        }
        catch (InvalidDataException ex)
        {
            LogBadResponse(ex.Message);
            Fail(context, StatusCodes.Status502BadGateway, "Bad Gateway: the worker sent an invalid response\n");
        }
        finally
        {
            bodyDone.Cancel();
            await pump.ConfigureAwait(false);
            worker.Close(exchange);
        }
    }

    private async Task WriteResponseAsync(HttpContext context, Exchange exchange)
    {
        HttpResponse response = context.Response;
        bool bodyAllowed = true;
        long? limit = null;
        long written = 0;
        int unacknowledged = 0;
        var parts = exchange.Parts;
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
                            case ResponsePartKind.Head:
                                SetHead(context, part.Buffer.AsSpan(0, part.Length));
                                bodyAllowed = !HttpMethods.IsHead(context.Request.Method) && response.StatusCode is not (204 or 304);
                                limit = response.ContentLength;
                                break;
                            case ResponsePartKind.Body when part.Length > 0:
                                if (bodyAllowed)
                                {
                                    int length = limit is long max ? (int)Math.Min(part.Length, Math.Max(0, max - written)) : part.Length;
                                    written += length;
                                    if (length > 0)
                                    {
                                        await response.BodyWriter.WriteAsync(part.Buffer.AsMemory(0, length), context.RequestAborted).ConfigureAwait(false);
                                    }
                                }
                                unacknowledged += part.Length;
                                if (unacknowledged >= FlowWindow.AckThreshold)
                                {
                                    await exchange.Worker.SendCreditAsync(FrameType.ResponseCredit, exchange.Id, unacknowledged).ConfigureAwait(false);
                                    unacknowledged = 0;
                                }
                                break;
                            case ResponsePartKind.File:
                                written += await SendFileAsync(context, exchange, FileReference.Read(part.Buffer.AsSpan(0, part.Length)), bodyAllowed, limit is long cap ? cap - written : null).ConfigureAwait(false);
                                break;
                            case ResponsePartKind.Abort:
                                context.Abort();
                                return;
                            case ResponsePartKind.WorkerLost:
                                Fail(context, StatusCodes.Status502BadGateway, "Bad Gateway: the worker serving this request died\n");
                                return;
                            case ResponsePartKind.TimedOut:
                                Fail(context, StatusCodes.Status504GatewayTimeout, "Gateway Timeout: the app did not answer within the server's time limit\n");
                                return;
                            case ResponsePartKind.BadRequestBody:
                                FailBody(context, part.Length);
                                return;
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
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away; the worker has been told.
        }
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
            await exchange.Worker.SendFileOpenedAsync(exchange.Id, opened: false).ConfigureAwait(false);
            return 0;
        }
        using (handle)
        {
            await exchange.Worker.SendFileOpenedAsync(exchange.Id, opened: true).ConfigureAwait(false);
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
            headers.Append(name, value);
        }
    }

    /// <summary>Answers with an error status if nothing was sent yet; otherwise the only honest signal left is to drop the connection.</summary>
    private static void Fail(HttpContext context, int status, string message)
    {
        HttpResponse response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return;
        }
        response.Clear();
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        byte[] body = System.Text.Encoding.UTF8.GetBytes(message);
        response.ContentLength = body.Length;
        if (!HttpMethods.IsHead(context.Request.Method))
        {
            response.BodyWriter.Write(body);
        }
    }

    /// <summary>
    /// Streams the request body to the worker as it arrives (or from its spool file), never more than the
    /// worker's credit ahead. A body buffered in memory is read from the request pipe like a streamed one.
    /// </summary>
    private static async Task PumpBodyAsync(HttpContext context, Exchange exchange, RequestBodyBuffer? buffered, long? maxLength, CancellationToken cancellationToken)
    {
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
                ReadResult result = await RequestBodyReader.ReadAsync(body, cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                length += buffer.Length;
                RequestBodyLimit.Check(length, maxLength);
                // Kestrel hands the body over in small pooled blocks; frames gather them up to MaxChunk,
                // so a large upload costs one frame and one send per 64 KiB, not per block.
                ReadOnlySequence<byte> rest = buffer;
                while (!rest.IsEmpty)
                {
                    ReadOnlySequence<byte> piece = rest.Slice(0, Math.Min(rest.Length, FlowWindow.MaxChunk));
                    await exchange.TakeRequestCreditAsync((int)piece.Length, cancellationToken).ConfigureAwait(false);
                    await exchange.Worker.SendAsync(FrameType.RequestBody, exchange.Id, piece, cancellationToken).ConfigureAwait(false);
                    rest = rest.Slice(piece.End);
                }
                body.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
            await exchange.Worker.SendAsync(FrameType.RequestEnd, FrameFlags.None, exchange.Id, default, cancellationToken).ConfigureAwait(false);
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

    /// <summary>
    /// The answer to a body Kestrel refused while it was read (too large, too slow, malformed). The rest of the
    /// body is not read, so the connection cannot carry another request.
    /// </summary>
    private void FailBody(HttpContext context, int status)
    {
        string why = status switch
        {
            StatusCodes.Status413PayloadTooLarge => $"the request body is larger than {limits.MaxBodySize} bytes",
            StatusCodes.Status408RequestTimeout => "the request body arrived too slowly",
            _ => "the request body is malformed",
        };
        Fail(context, status, $"{ReasonPhrases.GetReasonPhrase(status)}: {why}\n");
        context.Response.Headers.Connection = "close";
    }

    [LoggerMessage(10, LogLevel.Error, "A worker sent an invalid response: {Reason}")]
    private partial void LogBadResponse(string reason);
}

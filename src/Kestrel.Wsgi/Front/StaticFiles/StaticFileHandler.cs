using System.Globalization;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// Middleware ahead of <see cref="Forwarder"/>: a request whose decoded path is a static mount or below it is
/// answered here, from the file system, and never reaches Python — a path that names no servable file is 404
/// rather than the app's business. Only GET and HEAD (405 otherwise). Every other request goes on to the app.
/// </summary>
internal sealed class StaticFileHandler(StaticFileSettings settings, StaticFileCache cache, RequestLimits limits)
{
    private static readonly StringValues s_allow = "GET, HEAD";
    private static readonly StringValues s_bytes = "bytes";
    private static readonly StringValues s_plainText = "text/plain; charset=utf-8";
    private static readonly byte[] s_notFound = "Not Found\n"u8.ToArray();
    private static readonly byte[] s_methodNotAllowed = "Method Not Allowed: static files answer GET and HEAD only\n"u8.ToArray();
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly StaticRoot[] _roots = settings.Roots;

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        string rawTarget = context.Features.Get<IHttpRequestFeature>()!.RawTarget;
        ReadOnlySpan<char> path = RequestTarget.PathOf(rawTarget, out _);
        bool servable = true;
        if (path.Contains('%'))
        {
            // Matched and looked up decoded, as PATH_INFO is: %2e%2e is "..", %2f is "/", and both are refused below.
            path = Decode(path, out servable);
        }
        StaticRoot? root = RootOf(path);
        if (root is null || RequestValidator.Check(context.Request, limits.MaxFieldSize) != RequestRejection.None)
        {
            // Not a static file, or a request the front refuses: the forwarder's first step answers that.
            return next(context);
        }
        string method = context.Request.Method;
        if (!HttpMethods.IsGet(method) && !HttpMethods.IsHead(method))
        {
            context.Response.Headers.Allow = s_allow;
            return Reply(context, StatusCodes.Status405MethodNotAllowed, s_methodNotAllowed);
        }
        StaticFile? file = servable ? cache.Find(root, path) : null;
        return file is null ? Reply(context, StatusCodes.Status404NotFound, s_notFound) : Serve(context, file);
    }

    private static Task Serve(HttpContext context, StaticFile file)
    {
        HttpRequest request = context.Request;
        HttpResponse response = context.Response;
        IHeaderDictionary asked = request.Headers;
        IHeaderDictionary headers = response.Headers;
        StaticRepresentation representation = file.HasSiblings
            ? file.Select(AcceptEncoding.Choose(asked.AcceptEncoding, file.Brotli is not null, file.Gzip is not null))
            : file.Identity;

        // What a 304 must repeat from the 200 it stands for (RFC 9110 15.4.5).
        headers.ETag = representation.ETag;
        headers.LastModified = representation.LastModifiedHeader;
        headers.CacheControl = file.CacheControl;
        if (file.HasSiblings)
        {
            headers.Vary = file.Vary;
        }
        switch (Precondition.Evaluate(asked, representation))
        {
            case PreconditionResult.NotModified:
                response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            case PreconditionResult.Failed:
                response.StatusCode = StatusCodes.Status412PreconditionFailed;
                response.ContentLength = 0;
                return Task.CompletedTask;
        }

        long length = representation.Length;
        long first = 0;
        long count = length;
        // Range is defined for GET only (RFC 9110 14.2): HEAD gets the 200 headers.
        if (asked.Range.Count > 0 && HttpMethods.IsGet(request.Method) && Precondition.RangeStillValid(asked, representation))
        {
            switch (ByteRange.Parse(asked.Range, length, out first, out long last))
            {
                case RangeRequest.Partial:
                    response.StatusCode = StatusCodes.Status206PartialContent;
                    headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes {first}-{last}/{length}");
                    count = last - first + 1;
                    break;
                case RangeRequest.Unsatisfiable:
                    response.StatusCode = StatusCodes.Status416RangeNotSatisfiable;
                    headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{length}");
                    response.ContentLength = 0;
                    return Task.CompletedTask;
                default:
                    first = 0;
                    break;
            }
        }
        headers.ContentType = file.ContentType;
        headers.AcceptRanges = s_bytes;
        if (representation.Coding != ContentCoding.Identity)
        {
            headers.ContentEncoding = representation.ContentEncoding;
        }
        response.ContentLength = count;
        if (HttpMethods.IsHead(request.Method) || count == 0)
        {
            return Task.CompletedTask;
        }
        if (representation.Body is byte[] body)
        {
            ValueTask<FlushResult> write = response.BodyWriter.WriteAsync(body.AsMemory((int)first, (int)count), context.RequestAborted);
            return write.IsCompletedSuccessfully ? Task.CompletedTask : AwaitWriteAsync(context, write);
        }
        return SendFromDiskAsync(context, representation.PhysicalPath, first, count);
    }

    private static async Task AwaitWriteAsync(HttpContext context, ValueTask<FlushResult> write)
    {
        try
        {
            await write.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client left
        }
    }

    /// <summary>Large files come from disk, copied once into the response (<see cref="FileBody"/>).</summary>
    private static async Task SendFromDiskAsync(HttpContext context, string path, long offset, long count)
    {
        try
        {
            using Microsoft.Win32.SafeHandles.SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (await FileBody.CopyAsync(context.Response.BodyWriter, file, offset, count, context.RequestAborted).ConfigureAwait(false) < count
                && !context.RequestAborted.IsCancellationRequested)
            {
                context.Abort(); // the file became shorter since it was checked: cut the response short
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // the client left
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Deleted, shortened or locked since it was checked: 404 while nothing went out, else cut the response short.
            if (context.Response.HasStarted)
            {
                context.Abort();
                return;
            }
            context.Response.Clear();
            await Reply(context, StatusCodes.Status404NotFound, s_notFound).ConfigureAwait(false);
        }
    }

    private static Task Reply(HttpContext context, int status, byte[] message)
    {
        HttpResponse response = context.Response;
        response.StatusCode = status;
        response.Headers.ContentType = s_plainText;
        response.ContentLength = message.Length;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }
        ValueTask<FlushResult> write = response.BodyWriter.WriteAsync(message, context.RequestAborted);
        return write.IsCompletedSuccessfully ? Task.CompletedTask : AwaitWriteAsync(context, write);
    }

    private StaticRoot? RootOf(ReadOnlySpan<char> path)
    {
        foreach (StaticRoot root in _roots)
        {
            string prefix = root.UrlPath;
            if (path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] == '/'))
            {
                return root;
            }
        }
        return null;
    }

    /// <summary>Percent-decodes to bytes and reads them as UTF-8; not <paramref name="utf8"/> (no file has that name) when they are not.</summary>
    private static string Decode(ReadOnlySpan<char> path, out bool utf8)
    {
        byte[] buffer = System.Buffers.ArrayPool<byte>.Shared.Rent(Math.Max(1, path.Length * 3));
        try
        {
            int length = RequestTarget.Decode(path, buffer);
            try
            {
                utf8 = true;
                return s_strictUtf8.GetString(buffer, 0, length);
            }
            catch (DecoderFallbackException)
            {
                utf8 = false;
                return Encoding.Latin1.GetString(buffer, 0, length);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

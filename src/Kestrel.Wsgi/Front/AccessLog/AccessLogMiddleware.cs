using System.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Kestrel.Wsgi.Front.AccessLog;

/// <summary>
/// The first step of every request when <c>--access-log</c> is on: runs the rest, then captures what the line needs
/// (references and numbers, no formatting) and queues it for <see cref="AccessLogWriter"/>.
/// </summary>
internal sealed class AccessLogMiddleware(AccessLogWriter writer)
{
    private readonly AccessLogFormat _format = writer.Format;

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        long start = Stopwatch.GetTimestamp();
        IHttpResponseBodyFeature original = context.Features.Get<IHttpResponseBodyFeature>()!;
        var body = new CountingResponseBody(original);
        context.Features.Set<IHttpResponseBodyFeature>(body);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            context.Features.Set(original);
            Record(context, start, body.Written);
        }
    }

    private void Record(HttpContext context, long start, long written)
    {
        long elapsed = Stopwatch.GetTimestamp() - start;
        HttpRequest request = context.Request;
        IHeaderDictionary headers = request.Headers;
        var entry = new AccessLogEntry
        {
            ClientAddress = context.Connection.RemoteIpAddress,
            ClientPort = context.Connection.RemotePort,
            Method = request.Method,
            RawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "",
            Protocol = request.Protocol,
            Scheme = request.Scheme,
            Host = request.Host.HasValue ? request.Host.Value : null,
            Referer = NullIfEmpty(headers[HeaderNames.Referer]),
            UserAgent = NullIfEmpty(headers[HeaderNames.UserAgent]),
            Authorization = _format.NeedsAuthorization ? NullIfEmpty(headers[HeaderNames.Authorization]) : null,
            RequestId = _format.NeedsRequestId ? context.TraceIdentifier : null,
            Status = context.Response.StatusCode,
            BodyBytes = written,
            // UTC here (no time-zone lookup on the request path); the writer shows it in local time.
            Start = new DateTimeOffset(DateTime.UtcNow.AddTicks(-Stopwatch.GetElapsedTime(start, start + elapsed).Ticks)),
            ElapsedTicks = elapsed,
        };
        if (_format.RequestHeaders.Length > 0)
        {
            entry.RequestHeaders = _format.RequestHeaders.Select(name => NullIfEmpty(headers[name])).ToArray();
        }
        if (_format.ResponseHeaders.Length > 0)
        {
            IHeaderDictionary responseHeaders = context.Response.Headers;
            entry.ResponseHeaders = _format.ResponseHeaders.Select(name => NullIfEmpty(responseHeaders[name])).ToArray();
        }
        writer.TryWrite(entry);
    }

    private static string? NullIfEmpty(Microsoft.Extensions.Primitives.StringValues value) => value.Count == 0 ? null : value.ToString();
}

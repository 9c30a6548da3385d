using Kestrel.Wsgi.Dispatch;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Front;

/// <summary>
/// <c>--health-path</c>, answered by the front without Python: 200 when every slot of the pool holds a worker that
/// has loaded the app, 503 while workers start, after one died until its replacement is ready, and once the server
/// drains. For load balancers' and Kubernetes' probes (docs/https.md, deploy/kubernetes/): a worker busy with long
/// requests is still healthy, so the answer never waits for one.
/// </summary>
internal sealed class HealthEndpoint(string path, WorkerPool pool, CancellationToken draining)
{
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (!string.Equals(context.Request.Path.Value, path, StringComparison.Ordinal))
        {
            return next(context);
        }
        HttpResponse response = context.Response;
        response.Headers.CacheControl = "no-store";
        if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
        {
            response.StatusCode = StatusCodes.Status405MethodNotAllowed;
            response.Headers.Allow = "GET, HEAD";
            return Task.CompletedTask;
        }
        (int status, string body) = State(pool.ReadyCount, pool.Size, draining.IsCancellationRequested);
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength = body.Length;
        return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : response.WriteAsync(body, context.RequestAborted);
    }

    /// <summary>The status and the one-line body for a pool with <paramref name="ready"/> of <paramref name="size"/> workers ready.</summary>
    internal static (int Status, string Body) State(int ready, int size, bool draining) =>
        draining ? (StatusCodes.Status503ServiceUnavailable, "draining: kwsgi is stopping\n")
        : ready == 0 ? (StatusCodes.Status503ServiceUnavailable, $"starting: 0 of {size} workers ready\n")
        : ready < size ? (StatusCodes.Status503ServiceUnavailable, $"degraded: {ready} of {size} workers ready\n")
        : (StatusCodes.Status200OK, $"ready: {ready} of {size} workers\n");
}

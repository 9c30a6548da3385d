using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Kestrel.Wsgi.Hosting;

/// <summary>The limits Kestrel enforces for kwsgi, from the command line (docs/limits.md has the mapping and the defaults).</summary>
internal static class KestrelLimits
{
    /// <summary>Kestrel's own: the rates apply after this much time, so a connection's start-up is not held against it.</summary>
    private static readonly TimeSpan s_rateGrace = TimeSpan.FromSeconds(5);

    public static void Apply(KestrelServerLimits limits, KwsgiOptions options)
    {
        // The front enforces --max-request-body-size itself (Front/RequestBodyLimit): Kestrel's limit counts a chunked
        // body's framing too, so it would refuse a chunked body smaller than the limit.
        limits.MaxRequestBodySize = null;
        limits.MaxRequestLineSize = options.LimitRequestLine;                     // 414
        limits.MaxRequestHeaderCount = options.LimitRequestFields;                // 431
        limits.MaxRequestHeadersTotalSize = options.MaxRequestHeaderSize;         // 431
        // HTTP/2 also caps each HPACK field (16 KiB by default); the total is the limit the user set.
        limits.Http2.MaxRequestHeaderFieldSize = Math.Max(limits.Http2.MaxRequestHeaderFieldSize, options.MaxRequestHeaderSize);
        limits.KeepAliveTimeout = options.KeepAliveTimeout;
        limits.MaxConcurrentConnections = options.ConnectionLimit;              // past it, a new connection is closed at once
        limits.RequestHeadersTimeout = options.RequestHeadersTimeout;             // 408, then close
        limits.MinRequestBodyDataRate = options.MinRequestBodyRate is double up ? new MinDataRate(up, s_rateGrace) : null;
        limits.MinResponseDataRate = options.MinResponseRate is double down ? new MinDataRate(down, s_rateGrace) : null;
    }
}

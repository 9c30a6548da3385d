using System.Net;

namespace Kestrel.Wsgi.Front.AccessLog;

/// <summary>
/// What the request path captures for one access-log line: references to strings Kestrel already made and a few
/// numbers. The line itself is formatted later, by the writer's thread.
/// </summary>
internal sealed class AccessLogEntry
{
    public IPAddress? ClientAddress;
    public int ClientPort;
    public string Method = "";
    public string RawTarget = "";
    public string Protocol = "";
    public string Scheme = "";
    public string? Host;
    public string? Referer;
    public string? UserAgent;
    public string? Authorization;
    public string? RequestId;
    public int Status;
    public long BodyBytes;
    /// <summary>Wall-clock time the request arrived.</summary>
    public DateTimeOffset Start;
    /// <summary>Duration in Stopwatch ticks.</summary>
    public long ElapsedTicks;
    /// <summary>Values of the <c>{name}i</c> atoms, in the format's order of request-header names.</summary>
    public string?[]? RequestHeaders;
    /// <summary>Values of the <c>{name}o</c> atoms, in the format's order of response-header names.</summary>
    public string?[]? ResponseHeaders;
}

namespace Kestrel.Wsgi.Front.WebSockets;

/// <summary>
/// What the front does with an ASGI app's WebSockets (docs/asgi.md, WebSockets).
/// </summary>
/// <param name="MaxMessageSize">Largest message a client may send; past it the socket closes with 1009.</param>
/// <param name="PingInterval">How often the front pings an idle client (TimeSpan.Zero: never).</param>
/// <param name="PingTimeout">How long a ping may go unanswered before the socket is dropped (TimeSpan.Zero: forever).</param>
internal sealed record WebSocketSettings(long MaxMessageSize, TimeSpan PingInterval, TimeSpan PingTimeout)
{
    /// <summary>uvicorn's ws_max_size.</summary>
    public const long DefaultMaxMessageSize = 16 * 1024 * 1024;

    /// <summary>uvicorn's ws_ping_interval and ws_ping_timeout.</summary>
    public static readonly TimeSpan DefaultPing = TimeSpan.FromSeconds(20);

    /// <summary>How long the front waits for the client's answer to its close frame before it drops the connection.</summary>
    public static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    public static WebSocketSettings Default { get; } = new(DefaultMaxMessageSize, DefaultPing, DefaultPing);
}

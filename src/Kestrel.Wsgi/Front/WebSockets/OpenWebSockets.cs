namespace Kestrel.Wsgi.Front.WebSockets;

/// <summary>
/// The WebSockets the front holds open, so a graceful stop can close them with 1001 (Going Away) before its deadline:
/// a conversation never ends by itself the way a request does, and Kestrel would otherwise cut it without a close frame.
/// </summary>
internal sealed class OpenWebSockets
{
    private readonly CancellationTokenSource _goingAway = new();

    /// <summary>Cancelled when every open WebSocket must close with 1001.</summary>
    public CancellationToken GoingAway => _goingAway.Token;

    /// <summary>
    /// Closes every WebSocket shortly before the graceful deadline: a second before it (half of it when it is under two
    /// seconds), so the close handshake completes before Kestrel drops the connections that are left.
    /// </summary>
    public void CloseBefore(TimeSpan gracefulTimeout)
    {
        TimeSpan margin = gracefulTimeout >= TimeSpan.FromSeconds(2) ? TimeSpan.FromSeconds(1) : gracefulTimeout / 2;
        _goingAway.CancelAfter(gracefulTimeout - margin);
    }
}

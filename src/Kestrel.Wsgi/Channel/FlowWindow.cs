namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Per-stream flow control in both directions: a sender keeps at most <see cref="Size"/> bytes of body
/// unacknowledged, so neither side ever buffers more than that for one request (a 1 GiB upload or a
/// slow client costs a window, not the whole body). The receiver acknowledges in batches of
/// <see cref="AckThreshold"/> bytes to keep credit frames rare.
/// </summary>
internal static class FlowWindow
{
    public const int Size = 1024 * 1024;
    public const int AckThreshold = Size / 4;

    /// <summary>Largest body frame a sender writes.</summary>
    public const int MaxChunk = 64 * 1024;

    /// <summary>
    /// A request body's window until the app first reads it: one frame. A request waiting in a worker's pipeline
    /// holds this much, not a whole window; the first read opens the window to <see cref="Size"/>.
    /// </summary>
    public const int InitialRequestWindow = MaxChunk;
}

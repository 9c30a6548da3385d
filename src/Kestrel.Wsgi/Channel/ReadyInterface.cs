namespace Kestrel.Wsgi.Channel;

/// <summary>The payload byte of a <see cref="FrameType.Ready"/> frame: which interface the worker's app speaks.</summary>
internal static class ReadyInterface
{
    /// <summary>A WSGI app (also an empty payload): request heads are <see cref="FrameType.RequestHead"/> environ pairs.</summary>
    public const byte Wsgi = 0;

    /// <summary>An ASGI 3 app: request heads are <see cref="FrameType.ScopeHead"/> frames (<see cref="ScopeHeadWriter"/>).</summary>
    public const byte Asgi = 1;
}

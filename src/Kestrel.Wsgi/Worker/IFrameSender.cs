using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Worker;

/// <summary>Sends one frame to the front from any thread: the WSGI worker's <see cref="WorkerChannel"/> or the ASGI worker's <see cref="AsgiChannel"/>.</summary>
internal interface IFrameSender
{
    void Send(FrameType type, FrameFlags flags, uint streamId, ReadOnlySpan<byte> payload);
}

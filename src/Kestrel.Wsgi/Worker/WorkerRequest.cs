using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// One request as the worker sees it: its environ head, the body pieces delivered and not yet read by
/// <c>wsgi.input</c>, and the response credit left. All mutable state is guarded by the
/// <see cref="WorkerChannel"/>'s lock.
/// </summary>
internal sealed class WorkerRequest(uint id, byte[] head, bool hasNoBody)
{
    public uint Id { get; } = id;

    public byte[] Head { get; } = head;

    /// <summary>The request came without a body (so <c>wsgi.input</c> need not ask the channel at all).</summary>
    public bool HasNoBody { get; } = hasNoBody;

    public Queue<byte[]> Body { get; } = new();

    /// <summary>No more body pieces will come.</summary>
    public bool BodyComplete { get; set; } = hasNoBody;

    /// <summary>The client went away (or the front did).</summary>
    public bool Cancelled { get; set; }

    /// <summary>Response body bytes that may still be sent before the front acknowledges more.</summary>
    public int ResponseCredit { get; set; } = FlowWindow.Size;

    /// <summary>The front's answer to a file reference: null while none came, true when it sends the file.</summary>
    public bool? FileOpened { get; set; }

    /// <summary>Body bytes consumed and not yet acknowledged; touched only by the thread running the request.</summary>
    public int Unacknowledged { get; set; }

    /// <summary>Whether the app's first read has opened the request body's window to its full size.</summary>
    public bool BodyWindowOpen { get; set; }
}

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Where a worker finds its channel, as passed on its command line: a socket's path as it is, a named pipe
/// as <c>pipe:NAME</c>, a shared-memory file as <c>shm:PATH</c> (a temp-folder path never starts with "pipe:" or
/// "shm:", so they cannot be confused).
/// </summary>
internal readonly record struct ChannelAddress(ChannelTransport Transport, string Name)
{
    private const string PipePrefix = "pipe:";
    private const string SharedMemoryPrefix = "shm:";

    public override string ToString() => Transport switch
    {
        ChannelTransport.Pipe => PipePrefix + Name,
        ChannelTransport.SharedMemory => SharedMemoryPrefix + Name,
        _ => Name,
    };

    public static ChannelAddress Parse(string text) =>
        text.StartsWith(PipePrefix, StringComparison.Ordinal) ? new ChannelAddress(ChannelTransport.Pipe, text[PipePrefix.Length..])
        : text.StartsWith(SharedMemoryPrefix, StringComparison.Ordinal) ? new ChannelAddress(ChannelTransport.SharedMemory, text[SharedMemoryPrefix.Length..])
        : new ChannelAddress(ChannelTransport.Socket, text);
}

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Where a worker finds its channel, as passed on its command line: a socket's path as it is, a named pipe
/// as <c>pipe:NAME</c> (a temp-folder path never starts with "pipe:", so the two cannot be confused).
/// </summary>
internal readonly record struct ChannelAddress(ChannelTransport Transport, string Name)
{
    private const string PipePrefix = "pipe:";

    public override string ToString() => Transport == ChannelTransport.Pipe ? PipePrefix + Name : Name;

    public static ChannelAddress Parse(string text) =>
        text.StartsWith(PipePrefix, StringComparison.Ordinal)
            ? new ChannelAddress(ChannelTransport.Pipe, text[PipePrefix.Length..])
            : new ChannelAddress(ChannelTransport.Socket, text);
}

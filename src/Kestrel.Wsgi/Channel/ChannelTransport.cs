namespace Kestrel.Wsgi.Channel;

/// <summary>
/// What carries a channel's bytes. A Unix domain socket wherever the OS has AF_UNIX (Linux, macOS, Windows 10
/// 1803 and later); a named pipe on a Windows without it. Both are plain byte streams: the frames are the same.
/// </summary>
internal enum ChannelTransport
{
    Socket,
    Pipe,
}

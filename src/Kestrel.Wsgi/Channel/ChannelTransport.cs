namespace Kestrel.Wsgi.Channel;

/// <summary>
/// What carries a channel's bytes. A Unix domain socket wherever the OS has AF_UNIX (Linux, macOS, Windows 10
/// 1803 and later); a named pipe on a Windows without it; shared memory (a ring each way, Linux only) when
/// <c>KWSGI_CHANNEL=shm</c> asks for it. All carry the same frames as a byte stream.
/// </summary>
internal enum ChannelTransport
{
    Socket,
    Pipe,
    SharedMemory,
}

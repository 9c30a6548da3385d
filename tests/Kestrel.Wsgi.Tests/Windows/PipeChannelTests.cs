using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Windows;

/// <summary>
/// The named-pipe channel (the fallback for a Windows without AF_UNIX), forced with KWSGI_CHANNEL=pipe. On Linux
/// .NET's NamedPipeServerStream/ClientStream are real (over Unix sockets), so the same front and worker code runs
/// as on such a Windows: the essentials of the socket tests, over the pipe.
/// </summary>
public sealed class PipeChannelTests() : ChannelTransportTests("pipe")
{
    /// <summary>The pipe's name (a socket path on Unix) is removed as soon as the worker has connected.</summary>
    protected override void AssertNoChannelLeft(KwsgiProcess server) => Assert.Empty(Temp.ChannelFiles());
}

using System.IO.Pipes;
using System.Net.Sockets;
using Kestrel.Wsgi.Channel.Transports;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The worker's end of its channel as a byte stream: a connected Unix domain socket, a named pipe where the
/// front could not use AF_UNIX, or a shared-memory ring pair. Sealed and branch-on-null rather than virtual, so
/// the socket path is the very same Socket.Receive/Socket.Send calls as before, inlined.
/// </summary>
internal sealed class ChannelConnection : IDisposable
{
    private static readonly TimeSpan s_connectTimeout = TimeSpan.FromSeconds(30);

    private readonly Socket? _socket;
    private readonly PipeStream? _pipe;
    private readonly SharedMemoryChannel? _memory;

    private ChannelConnection(Socket? socket, PipeStream? pipe, SharedMemoryChannel? memory = null)
    {
        _socket = socket;
        _pipe = pipe;
        _memory = memory;
    }

    public static ChannelConnection Connect(ChannelAddress address)
    {
        if (address.Transport == ChannelTransport.Socket)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                socket.Connect(new UnixDomainSocketEndPoint(address.Name));
            }
            catch
            {
                socket.Dispose();
                throw;
            }
            return new ChannelConnection(socket, null);
        }
        if (address.Transport == ChannelTransport.SharedMemory)
        {
            return new ChannelConnection(null, null, SharedMemoryChannel.Open(address.Name));
        }
        // Asynchronous (overlapped) on purpose: Windows serializes I/O on a synchronous handle, so one thread
        // blocked reading would hold up every other thread's response write.
        var pipe = new NamedPipeClientStream(".", address.Name, PipeDirection.InOut, PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly);
        try
        {
            pipe.Connect(s_connectTimeout);
        }
        catch
        {
            pipe.Dispose();
            throw;
        }
        return new ChannelConnection(null, pipe);
    }

    /// <summary>True on the socket transport, the only one an ASGI worker's event loop can watch.</summary>
    public bool IsSocket => _socket is not null;

    /// <summary>
    /// Switches the socket to non-blocking mode for an ASGI worker's event loop and returns its descriptor, which the
    /// loop watches and reads directly from then on (<c>Worker/AsgiChannel</c>); the blocking calls here are not used again.
    /// </summary>
    public nint MakeNonBlocking()
    {
        Socket socket = _socket ?? throw new InvalidOperationException("Only the socket channel can be watched by an event loop.");
        socket.Blocking = false;
        return socket.Handle;
    }

    /// <summary>One blocking read; 0 at end of stream (the front has gone).</summary>
    public int Receive(byte[] buffer, int offset, int count) =>
        _socket is not null ? _socket.Receive(buffer, offset, count, SocketFlags.None)
        : _memory is not null ? _memory.Receive(buffer.AsSpan(offset, count))
        : _pipe!.Read(buffer, offset, count);

    /// <summary>Writes all of <paramref name="data"/>; callers serialize.</summary>
    public void SendAll(ReadOnlySpan<byte> data)
    {
        if (_socket is null)
        {
            if (_memory is not null)
            {
                _memory.Send(data);
                return;
            }
            _pipe!.Write(data);
            return;
        }
        while (!data.IsEmpty)
        {
            int sent = _socket.Send(data, SocketFlags.None);
            data = data[sent..];
        }
    }

    public void Dispose()
    {
        _socket?.Dispose();
        _pipe?.Dispose();
        _memory?.Dispose(); // closes: the front's reader sees end of stream
    }
}

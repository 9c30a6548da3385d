using System.Runtime.InteropServices;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The ASGI worker's end of its channel, driven by its event loop: the loop watches the socket
/// (<c>add_reader</c>) and, when it is readable, takes every complete frame in one non-blocking read
/// (<see cref="Fill"/>, <see cref="TryNextFrame"/>); responses are appended to one outgoing buffer and sent
/// with non-blocking writes (<see cref="Flush"/>), the rest waiting for the loop's <c>add_writer</c>. No
/// thread waits on the socket and no frame crosses a thread: a batch of requests is one wake-up of the loop.
/// </summary>
internal sealed unsafe class AsgiChannel : IFrameSender
{
    private readonly ChannelConnection _connection; // owns the socket behind _fd
    private readonly nint _fd;
    private readonly Lock _sendLock = new(); // the heartbeat thread appends too

    private byte[] _in = new byte[256 * 1024];
    private int _inStart, _inEnd;

    private byte[] _out = new byte[256 * 1024]; // guarded by _sendLock
    private int _outStart, _outEnd;

    /// <summary>Puts the connection's socket in non-blocking mode; only this channel uses it from then on.</summary>
    public AsgiChannel(ChannelConnection connection)
    {
        _connection = connection;
        _fd = connection.MakeNonBlocking();
    }

    /// <summary>The socket the loop watches.</summary>
    public nint FileDescriptor => _fd;

    /// <summary>Reads what the socket holds (up to the buffer's room) without waiting; false when the front has gone.</summary>
    public bool Fill()
    {
        MakeRoom();
        nint received;
        fixed (byte* buffer = _in)
        {
            received = SocketIo.Receive(_fd, buffer + _inEnd, _in.Length - _inEnd);
        }
        if (received > 0)
        {
            // One read per wake-up: its frames are taken before the next read, so a flood cannot grow the buffer
            // (the socket stays readable and the loop calls again).
            _inEnd += (int)received;
            return true;
        }
        return received < 0 && SocketIo.LastErrorIsWouldBlock();
    }

    /// <summary>The next complete frame read, with its payload's offset in <see cref="Payload"/>; false when none is whole yet.</summary>
    public bool TryNextFrame(out FrameHeader header, out ReadOnlySpan<byte> payload)
    {
        if (_inEnd - _inStart < FrameHeader.Size)
        {
            header = default;
            payload = default;
            return false;
        }
        header = FrameHeader.Read(_in.AsSpan(_inStart));
        int total = FrameHeader.Size + header.Length;
        if (_inEnd - _inStart < total)
        {
            payload = default;
            return false;
        }
        payload = _in.AsSpan(_inStart + FrameHeader.Size, header.Length);
        _inStart += total;
        return true;
    }

    /// <summary>Moves a partial frame to the buffer's start when room runs short, growing it for a frame larger than the buffer.</summary>
    private void MakeRoom()
    {
        if (_inStart == _inEnd)
        {
            _inStart = _inEnd = 0;
            return;
        }
        if (_in.Length - _inEnd >= FrameHeader.Size + FlowWindow.MaxChunk)
        {
            return; // room for a whole body frame
        }
        int pending = _inEnd - _inStart;
        int needed = pending;
        if (pending >= FrameHeader.Size)
        {
            needed = Math.Max(pending, FrameHeader.Size + FrameHeader.Read(_in.AsSpan(_inStart)).Length);
        }
        int room = FrameHeader.Size + FlowWindow.MaxChunk;
        byte[] target = needed + room > _in.Length ? new byte[Math.Max(_in.Length * 2, needed + room)] : _in;
        Buffer.BlockCopy(_in, _inStart, target, 0, pending);
        _in = target;
        _inStart = 0;
        _inEnd = pending;
    }

    /// <summary>Appends one frame to the outgoing buffer; <see cref="Flush"/> sends it.</summary>
    public void Append(FrameType type, FrameFlags flags, uint streamId, ReadOnlySpan<byte> payload)
    {
        lock (_sendLock)
        {
            AppendLocked(type, flags, streamId, payload);
        }
    }

    private void AppendLocked(FrameType type, FrameFlags flags, uint streamId, ReadOnlySpan<byte> payload)
    {
        int size = FrameHeader.Size + payload.Length;
        if (_out.Length - _outEnd < size)
        {
            int pending = _outEnd - _outStart;
            byte[] target = pending + size > _out.Length ? new byte[Math.Max(_out.Length * 2, pending + size)] : _out;
            Buffer.BlockCopy(_out, _outStart, target, 0, pending);
            _out = target;
            _outStart = 0;
            _outEnd = pending;
        }
        new FrameHeader(payload.Length, type, flags, streamId).Write(_out.AsSpan(_outEnd));
        payload.CopyTo(_out.AsSpan(_outEnd + FrameHeader.Size));
        _outEnd += size;
    }

    /// <summary>
    /// Sends what the outgoing buffer holds without waiting: true when all of it went, false when the socket is
    /// full (the loop then waits for it to be writable). Throws <see cref="IOException"/> when the front has gone.
    /// </summary>
    public bool Flush()
    {
        lock (_sendLock)
        {
            while (_outStart < _outEnd)
            {
                nint sent;
                fixed (byte* buffer = _out)
                {
                    sent = SocketIo.Send(_fd, buffer + _outStart, _outEnd - _outStart);
                }
                if (sent > 0)
                {
                    _outStart += (int)sent;
                    continue;
                }
                if (sent < 0 && SocketIo.LastErrorIsWouldBlock())
                {
                    return false;
                }
                throw new IOException("The channel to the front is closed.");
            }
            _outStart = _outEnd = 0;
            return true;
        }
    }

    /// <summary>
    /// A frame from another thread (the heartbeat) or before the loop runs (Ready): appended and flushed at once. If
    /// the socket is full the frame waits in the buffer for the loop's next flush, which the loop is waiting to make.
    /// </summary>
    public void Send(FrameType type, FrameFlags flags, uint streamId, ReadOnlySpan<byte> payload)
    {
        lock (_sendLock)
        {
            AppendLocked(type, flags, streamId, payload);
            Flush();
        }
    }

    /// <summary>Non-blocking socket calls that return an error code instead of throwing (EAGAIN is the common case here).</summary>
    private static class SocketIo
    {
        private const int EAGAIN = 11, EWOULDBLOCK_MAC = 35, EINTR = 4, WSAEWOULDBLOCK = 10035;

        public static nint Receive(nint fd, byte* buffer, int length)
        {
            while (true)
            {
                nint result = OperatingSystem.IsWindows() ? recv_win(fd, buffer, length, 0) : recv((int)fd, buffer, length, 0);
                if (result >= 0 || Marshal.GetLastPInvokeError() != EINTR || OperatingSystem.IsWindows())
                {
                    return result;
                }
            }
        }

        public static nint Send(nint fd, byte* buffer, int length)
        {
            while (true)
            {
                nint result = OperatingSystem.IsWindows() ? send_win(fd, buffer, length, 0) : send((int)fd, buffer, length, 0);
                if (result >= 0 || Marshal.GetLastPInvokeError() != EINTR || OperatingSystem.IsWindows())
                {
                    return result;
                }
            }
        }

        public static bool LastErrorIsWouldBlock()
        {
            int error = Marshal.GetLastPInvokeError();
            return OperatingSystem.IsWindows() ? error == WSAEWOULDBLOCK : error is EAGAIN || (OperatingSystem.IsMacOS() && error == EWOULDBLOCK_MAC);
        }

        [DllImport("libc", SetLastError = true)]
        private static extern nint recv(int fd, byte* buffer, nint length, int flags);

        [DllImport("libc", SetLastError = true)]
        private static extern nint send(int fd, byte* buffer, nint length, int flags);

        [DllImport("ws2_32", EntryPoint = "recv", SetLastError = true)]
        private static extern int recv_win(nint socket, byte* buffer, int length, int flags);

        [DllImport("ws2_32", EntryPoint = "send", SetLastError = true)]
        private static extern int send_win(nint socket, byte* buffer, int length, int flags);
    }
}

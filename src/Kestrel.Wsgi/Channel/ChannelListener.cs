using System.Diagnostics;
using System.IO.Pipes;
using System.Net.Sockets;
using Kestrel.Wsgi.Channel.Transports;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The front's end of one worker's channel before the worker connects: a fresh Unix domain socket in the
/// temp folder, a named pipe where AF_UNIX is missing (or <c>KWSGI_CHANNEL=pipe</c> asks for one), or a
/// shared-memory file when <c>KWSGI_CHANNEL=shm</c> asks for one. It accepts exactly one connection, hands it
/// over as a <see cref="Stream"/>, and removes its name at once, so a running server has no channel files on disk.
/// </summary>
internal sealed class ChannelListener : IDisposable
{
    /// <summary>Test and diagnostic switch: <c>socket</c>, <c>pipe</c> or <c>shm</c> forces a transport; unset, AF_UNIX is tried first.</summary>
    public const string TransportVariable = "KWSGI_CHANNEL";

    private static readonly Lazy<ChannelTransport?> s_forced = new(ReadForcedTransport);
    private static readonly Lazy<bool> s_swept = new(SweepStaleFiles);
    private static volatile bool s_noUnixSockets;

    private Socket? _socket;
    private NamedPipeServerStream? _pipe;
    private SharedMemoryChannel? _memory;
    private readonly string? _file;

    private ChannelListener(ChannelAddress address, Socket? socket, NamedPipeServerStream? pipe, string? file, SharedMemoryChannel? memory = null)
    {
        Address = address;
        _socket = socket;
        _pipe = pipe;
        _file = file;
        _memory = memory;
    }

    /// <summary>
    /// Where shared-memory files go: /dev/shm where it exists (tmpfs: the pages are never written back to a disk),
    /// else the temp folder.
    /// </summary>
    public static string SharedMemoryFolder { get; } = Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath();

    /// <summary>What the worker is told to connect to.</summary>
    public ChannelAddress Address { get; }

    /// <summary>Listens on a new, unique name (pid + GUID: never one a killed front could have left behind).</summary>
    public static ChannelListener Create()
    {
        _ = s_swept.Value;
        string name = $"kwsgi-{Environment.ProcessId}-{Guid.NewGuid():N}";
        ChannelTransport? forced = s_forced.Value;
        if (forced == ChannelTransport.SharedMemory)
        {
            string file = Path.Combine(SharedMemoryFolder, name + ".shm");
            return new ChannelListener(new ChannelAddress(ChannelTransport.SharedMemory, file), null, null, file, SharedMemoryChannel.Create(file));
        }
        if (forced == ChannelTransport.Pipe || (forced is null && s_noUnixSockets))
        {
            return ForPipe(name);
        }
        Socket socket;
        try
        {
            socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        }
        catch (SocketException ex) when (forced is null && ex.SocketErrorCode is SocketError.AddressFamilyNotSupported or SocketError.ProtocolNotSupported)
        {
            // Windows before 10 1803 (or AF_UNIX turned off): decided once, every later worker goes straight to a pipe.
            s_noUnixSockets = true;
            return ForPipe(name);
        }
        string path = Path.Combine(Path.GetTempPath(), name + ".sock");
        try
        {
            socket.Bind(new UnixDomainSocketEndPoint(path));
            socket.Listen(1);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return new ChannelListener(new ChannelAddress(ChannelTransport.Socket, path), socket, null, path);
    }

    private static ChannelListener ForPipe(string name)
    {
        // On Unix .NET implements a named pipe as a Unix socket at a path; a rooted name is that path, so it sits
        // beside the sockets and goes the same way. On Windows the name lives in \\.\pipe\ and no file exists.
        string pipeName = OperatingSystem.IsWindows() ? name : Path.Combine(Path.GetTempPath(), name + ".pipe");
        // One instance (Windows then creates it with FILE_FLAG_FIRST_PIPE_INSTANCE: nobody can have squatted the
        // name); CurrentUserOnly: only a process of this user may connect. Asynchronous: the front reads and
        // writes it at the same time through a PipeReader and a PipeWriter.
        var pipe = new NamedPipeServerStream(pipeName, PipeDirection.InOut, 1, PipeTransmissionMode.Byte,
            PipeOptions.Asynchronous | PipeOptions.CurrentUserOnly,
            inBufferSize: OperatingSystem.IsWindows() ? 256 * 1024 : 0, outBufferSize: OperatingSystem.IsWindows() ? 256 * 1024 : 0);
        return new ChannelListener(new ChannelAddress(ChannelTransport.Pipe, pipeName), null, pipe, OperatingSystem.IsWindows() ? null : pipeName);
    }

    /// <summary>
    /// To call once the worker's process is started: a shared-memory channel has no kernel object that breaks
    /// when the worker dies, so its process's exit closes the channel (the front's reader then sees end of stream).
    /// </summary>
    public void Watch(Process worker) => _memory?.CloseWhenExited(worker);

    /// <summary>Waits for the worker to connect; the returned stream is the caller's.</summary>
    public async Task<Stream> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_memory is not null)
            {
                // The worker maps the file and sets a flag; polled, as it happens once per worker start.
                while (!_memory.IsAttached)
                {
                    if (_memory.IsClosed)
                    {
                        throw new IOException("The worker exited before it mapped its channel.");
                    }
                    await Task.Delay(2, cancellationToken).ConfigureAwait(false);
                }
                var stream = new SharedMemoryStream(_memory);
                _memory = null;
                return stream;
            }
            if (_socket is not null)
            {
                Socket accepted = await _socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                return new NetworkStream(accepted, ownsSocket: true);
            }
            await _pipe!.WaitForConnectionAsync(cancellationToken).ConfigureAwait(false);
            Stream connected = _pipe;
            _pipe = null;
            return connected;
        }
        finally
        {
            RemoveName();
        }
    }

    public void Dispose()
    {
        _socket?.Dispose();
        _socket = null;
        _pipe?.Dispose();
        _pipe = null;
        _memory?.Dispose();
        _memory = null;
        RemoveName();
    }

    private void RemoveName()
    {
        if (_file is null)
        {
            return;
        }
        try
        {
            File.Delete(_file);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Harmless: the name is unique, and the next start's sweep removes it.
        }
    }

    private static ChannelTransport? ReadForcedTransport() =>
        Environment.GetEnvironmentVariable(TransportVariable) switch
        {
            null or "" => null,
            "socket" => ChannelTransport.Socket,
            "pipe" => ChannelTransport.Pipe,
            "shm" when Futex.IsSupported => ChannelTransport.SharedMemory,
            "shm" => throw new UsageException($"{TransportVariable}=shm needs Linux on x86-64 or arm64 (futex); use 'socket' or 'pipe' here"),
            string other => throw new UsageException($"{TransportVariable} must be 'socket', 'pipe' or 'shm', not '{other}'"),
        };

    private static bool SweepStaleFiles()
    {
        StaleChannelFiles.Remove(Path.GetTempPath(), DateTime.UtcNow);
        if (SharedMemoryFolder != Path.GetTempPath())
        {
            StaleChannelFiles.Remove(SharedMemoryFolder, DateTime.UtcNow);
        }
        return true;
    }
}

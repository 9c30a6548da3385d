using System.Net.Sockets;

namespace Kestrel.Wsgi.Hosting;

/// <summary>The file of a Unix domain socket listener: a stale one is removed before the bind, the new one gets its mode after it.</summary>
internal static class UnixSocketFile
{
    /// <summary>
    /// Removes the socket file a server that died left behind, as waitress does at start; a socket something still
    /// answers on, or a file that is not a socket, is refused instead.
    /// </summary>
    public static void RemoveStale(string path)
    {
        var file = new FileInfo(path);
        if (!file.Exists)
        {
            return;
        }
        // A socket's file has no length; anything with content is some other file, named by mistake.
        if (file.Length > 0)
        {
            throw new UsageException($"cannot listen on unix:{path}: the file exists and is not a socket");
        }
        using (var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
        {
            try
            {
                probe.Connect(new UnixDomainSocketEndPoint(path));
                throw new UsageException($"cannot listen on unix:{path}: the address is already in use");
            }
            catch (SocketException)
            {
                // Nobody listens: a stale file.
            }
        }
        file.Delete();
    }

    /// <summary>Gives the bound socket its permissions (waitress's unix_socket_perms); until then it had the umask's.</summary>
    public static void SetMode(string path, int mode)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)mode);
        }
    }
}

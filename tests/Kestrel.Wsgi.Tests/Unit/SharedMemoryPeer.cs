using System.Diagnostics;
using Kestrel.Wsgi.Channel.Transports;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// The worker's end of a shared-memory channel in a child process: this test assembly re-run as
/// <c>shm-peer MODE PATH</c>, using the same SharedMemoryChannel a kwsgi worker uses.
/// </summary>
internal static class SharedMemoryPeer
{
    public static int Run(string[] args)
    {
        using SharedMemoryChannel channel = SharedMemoryChannel.Open(args[1]);
        switch (args[0])
        {
            case "echo":
                // Everything back, until the front closes: then Receive returns 0 and the peer exits 0.
                var buffer = new byte[64 * 1024];
                int received;
                while ((received = channel.Receive(buffer)) > 0)
                {
                    channel.Send(buffer.AsSpan(0, received));
                }
                return 0;
            case "flood":
                // Writes until killed; mostly blocked on a full ring.
                for (long sent = 0; ; sent += 10_000)
                {
                    channel.Send(SharedMemoryPair.Patterned(10_000, sent));
                }
            case "half-frame":
                // Half a frame header, then death without closing anything.
                channel.Send([10, 0, 0, 0, 19]);
                Process.GetCurrentProcess().Kill();
                return 3;
            default:
                return 2;
        }
    }

    /// <summary>Starts a peer on a new channel file; returns once it has mapped the file, whose name is then gone.</summary>
    public static (Process Peer, SharedMemoryStream Stream) Start(string mode, int ringCapacity)
    {
        string path = Path.Combine(Kestrel.Wsgi.Channel.ChannelListener.SharedMemoryFolder, $"kwsgi-shm-test-{Guid.NewGuid():N}.shm");
        SharedMemoryChannel channel = SharedMemoryChannel.Create(path, ringCapacity);
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        };
        foreach (string argument in new[] { "exec", typeof(SharedMemoryPeer).Assembly.Location, "shm-peer", mode, path })
        {
            start.ArgumentList.Add(argument);
        }
        Process peer = Process.Start(start)!;
        channel.CloseWhenExited(peer); // as the front does right after starting a worker
        try
        {
            // Polled, as the front does (ChannelListener.AcceptAsync); synchronously, as the callers are not async.
            var waited = Stopwatch.StartNew();
            while (!channel.IsAttached && !channel.IsClosed && waited.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(2);
            }
            if (!channel.IsAttached)
            {
                Assert.Fail($"the peer did not map the channel: {(peer.HasExited ? peer.StandardError.ReadToEnd() : "still running")}");
            }
        }
        finally
        {
            File.Delete(path);
        }
        return (peer, new SharedMemoryStream(channel));
    }
}

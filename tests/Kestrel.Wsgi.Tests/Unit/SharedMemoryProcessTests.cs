using System.Diagnostics;
using static Kestrel.Wsgi.Tests.Unit.SharedMemoryPair;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// The shared-memory channel between two processes, as between the front and a worker: this process is the
/// front (a SharedMemoryStream), a child re-running the test assembly is the worker (a SharedMemoryChannel).
/// </summary>
public class SharedMemoryProcessTests
{
    private const int SmallRing = 4096;

    [Fact]
    public async Task Echo_AcrossProcesses_ThroughATinyRing_AndTheFrontsCloseEndsThePeer()
    {
        var (peer, stream) = SharedMemoryPeer.Start("echo", SmallRing);
        using (peer)
        {
            const int total = 1024 * 1024;
            byte[] sent = Patterned(total);
            var received = new byte[total];
            Task reader = OnThread(() =>
            {
                int at = 0;
                while (at < total)
                {
                    int n = stream.Read(received.AsSpan(at));
                    Assert.True(n > 0, "end of stream before the echo was complete");
                    at += n;
                }
            });
            for (int at = 0; at < total; at += 10_000)
            {
                await stream.WriteAsync(sent.AsMemory(at, Math.Min(10_000, total - at))).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
            }
            AssertFinishes(reader);
            Assert.Equal(sent, received);

            // The front closing normally (Stop, shutdown): the peer's blocked Receive returns 0 and it exits by itself.
            stream.Dispose();
            Assert.True(peer.WaitForExit(TimeSpan.FromSeconds(60)), "the peer still waits after the front closed");
            Assert.Equal(0, peer.ExitCode);
        }
    }

    [Fact]
    public void PeerKilled_WhileBlockedWritingIntoAFullRing_TheReaderDrainsThenSeesEndOfStream()
    {
        var (peer, stream) = SharedMemoryPeer.Start("flood", SmallRing);
        using (peer)
        using (stream)
        {
            var buffer = new byte[1000];
            long received = 0;
            while (received < 100_000)
            {
                int n = stream.Read(buffer);
                Assert.True(n > 0);
                for (int i = 0; i < n; i++)
                {
                    Assert.Equal(Pattern(received + i), buffer[i]);
                }
                received += n;
            }
            peer.Kill(); // mid-write: it is in Send, the ring full, nobody closes anything
            long after = 0;
            Task reader = OnThread(() =>
            {
                int n;
                while ((n = stream.Read(buffer)) > 0)
                {
                    after += n;
                }
            });
            AssertFinishes(reader);
            Assert.True(after <= SmallRing + 10_000, $"{after} bytes after the kill");
            Assert.Throws<IOException>(() => stream.Write(new byte[1]));
        }
    }

    [Fact]
    public void PeerDead_AfterHalfAFrame_TheReaderGetsTheHalf_ThenEndOfStream()
    {
        var (peer, stream) = SharedMemoryPeer.Start("half-frame", SmallRing);
        using (peer)
        using (stream)
        {
            var buffer = new byte[16];
            var got = new List<byte>();
            Task reader = OnThread(() =>
            {
                int n;
                while ((n = stream.Read(buffer)) > 0)
                {
                    got.AddRange(buffer[..n]);
                }
            });
            AssertFinishes(reader);
            Assert.Equal(new byte[] { 10, 0, 0, 0, 19 }, got);
            Assert.True(peer.WaitForExit(TimeSpan.FromSeconds(60)));
        }
    }
}

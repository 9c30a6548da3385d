using System.Buffers;
using System.IO.Pipelines;
using Kestrel.Wsgi.Channel.Transports;
using static Kestrel.Wsgi.Tests.Unit.SharedMemoryPair;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>The shared-memory ring with two threads, one per end: order, wrap-around, a full ring, the wake protocol.</summary>
public class SharedMemoryRingTests
{
    private const int SmallRing = 4096;

    [Fact]
    public void File_IsPrivateToTheUser_AndTheWorkerSaysWhenItHasMappedIt()
    {
        string folder = Path.Combine(Path.GetTempPath(), $"kwsgi-shm-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "channel.shm");
            using SharedMemoryChannel front = SharedMemoryChannel.Create(path, SmallRing);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
            Assert.Equal(SharedMemoryLayout.FileSize(SmallRing), new FileInfo(path).Length);
            Assert.False(front.IsAttached);
            using SharedMemoryChannel worker = SharedMemoryChannel.Open(path);
            Assert.True(front.IsAttached);
            // Once both have it mapped the name can go; the channel lives on in the two mappings.
            File.Delete(path);
            front.Send("ping"u8);
            var buffer = new byte[16];
            Assert.Equal(4, worker.Receive(buffer));
            Assert.Equal("ping"u8.ToArray(), buffer[..4]);
            Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void Create_RefusesAnExistingFile()
    {
        string path = Path.GetTempFileName();
        try
        {
            Assert.Throws<IOException>(() => SharedMemoryChannel.Create(path, SmallRing));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void FullRing_TakesWhatFits_AndMoreOnceTheReaderHasRead()
    {
        using var pair = new SharedMemoryPair(SmallRing);
        byte[] data = Patterned(SmallRing + 100);
        Assert.Equal(SmallRing, pair.Front.TrySend(data));
        Assert.Equal(0, pair.Front.TrySend(data.AsSpan(SmallRing)));
        var buffer = new byte[60];
        Assert.Equal(60, pair.Worker.Receive(buffer));
        Assert.Equal(data[..60], buffer);
        // Room for 60 more, across the end of the ring: the write wraps around.
        Assert.Equal(60, pair.Front.TrySend(data.AsSpan(SmallRing)));
        var rest = new byte[SmallRing + 100];
        int read = 60;
        Array.Copy(buffer, rest, 60);
        while (read < SmallRing + 60)
        {
            read += pair.Worker.Receive(rest.AsSpan(read));
        }
        Assert.Equal(data[..(SmallRing + 60)], rest[..read]);
        Assert.Equal(-1, pair.Worker.TryReceive(buffer));
    }

    [Theory]
    [InlineData(1, 3000)]        // small pieces: the ring wraps at every offset
    [InlineData(2000, 5000)]     // around the ring's size
    [InlineData(20_000, 70_000)] // frames far larger than the ring pass in pieces
    public void Stream_ArrivesWhole_InOrder_WhateverThePieceSizes(int minPiece, int maxPiece)
    {
        using var pair = new SharedMemoryPair(SmallRing);
        const int total = 2 * 1024 * 1024;
        Task writer = OnThread(() =>
        {
            var random = new Random(minPiece);
            long sent = 0;
            while (sent < total)
            {
                int piece = (int)Math.Min(random.Next(minPiece, maxPiece + 1), total - sent);
                pair.Worker.Send(Patterned(piece, sent));
                sent += piece;
            }
            pair.Worker.Close();
        });
        long received = 0;
        long wrong = -1;
        Task reader = OnThread(() =>
        {
            var random = new Random(maxPiece);
            var buffer = new byte[maxPiece];
            while (true)
            {
                int n = pair.Front.Receive(buffer.AsSpan(0, random.Next(1, buffer.Length + 1)));
                if (n == 0)
                {
                    return;
                }
                for (int i = 0; i < n && wrong < 0; i++)
                {
                    if (buffer[i] != Pattern(received + i))
                    {
                        wrong = received + i;
                    }
                }
                received += n;
            }
        });
        AssertFinishes(writer, reader);
        Assert.Equal(-1, wrong);
        Assert.Equal(total, received);
    }

    [Fact]
    public void PingPong_OneByteEachWay_NeverLosesAWakeUp()
    {
        // Each side sleeps between messages, so every round trip runs the waiter/waker race on both rings.
        using var pair = new SharedMemoryPair(SmallRing);
        const int rounds = 5000;
        Task worker = OnThread(() =>
        {
            var one = new byte[1];
            for (int i = 0; i < rounds; i++)
            {
                Assert.Equal(1, pair.Worker.Receive(one));
                one[0]++;
                pair.Worker.Send(one);
            }
        });
        Task front = OnThread(() =>
        {
            var one = new byte[1];
            for (int i = 0; i < rounds; i++)
            {
                one[0] = (byte)i;
                pair.Front.Send(one);
                Assert.Equal(1, pair.Front.Receive(one));
                Assert.Equal((byte)(i + 1), one[0]);
            }
        });
        AssertFinishes(worker, front);
    }

    [Fact]
    public void FullAndEmpty_BothSidesSleeping_InTurn_NeverLosesAWakeUp()
    {
        // A writer of large pieces and a reader of small ones through a tiny ring: the writer sleeps on a full ring
        // and the reader on an empty one, thousands of times each.
        using var pair = new SharedMemoryPair(SmallRing);
        const int pieces = 700;
        const int total = pieces * 3 * SmallRing;
        Task writer = OnThread(() =>
        {
            byte[] piece = Patterned(3 * SmallRing);
            for (int i = 0; i < pieces; i++)
            {
                pair.Front.Send(piece);
            }
        });
        long received = 0;
        Task reader = OnThread(() =>
        {
            var buffer = new byte[SmallRing / 3];
            while (received < total)
            {
                received += pair.Worker.Receive(buffer);
            }
        });
        AssertFinishes(writer, reader);
        Assert.Equal(total, received);
    }

    [Fact]
    public void Close_WakesABlockedReader_AfterWhatWasSent()
    {
        for (int i = 0; i < 50; i++)
        {
            using var pair = new SharedMemoryPair(SmallRing);
            int first = -1, second = -1;
            Task reader = OnThread(() =>
            {
                var buffer = new byte[16];
                first = pair.Front.Receive(buffer);
                second = pair.Front.Receive(buffer);
            });
            pair.Worker.Send("last"u8);
            pair.Worker.Close(); // races with the reader going to sleep
            AssertFinishes(reader);
            Assert.Equal(4, first);
            Assert.Equal(0, second);
        }
    }

    [Fact]
    public void Close_WakesABlockedWriter_WithAnError()
    {
        for (int i = 0; i < 50; i++)
        {
            using var pair = new SharedMemoryPair(SmallRing);
            Exception? error = null;
            Task writer = OnThread(() => error = Record.Exception(() => pair.Front.Send(new byte[3 * SmallRing])));
            pair.Worker.Close(); // the worker gone: nobody will ever make room
            AssertFinishes(writer);
            Assert.IsType<IOException>(error);
        }
    }

    [Fact]
    public void Dispose_WhileTheReaderWaits_EndsTheRead()
    {
        var pair = new SharedMemoryPair(SmallRing);
        var stream = new SharedMemoryStream(pair.Front);
        Exception? error = null;
        int read = -1;
        Task reader = OnThread(() => error = Record.Exception(() => read = stream.Read(new byte[16])));
        stream.Dispose();
        AssertFinishes(reader);
        Assert.True(read == 0 || error is ObjectDisposedException, $"read {read}, {error}");
        pair.Dispose();
    }

    [Fact]
    public async Task Stream_AsyncCalls_CompleteSynchronouslyWhenTheRingAllows()
    {
        using var pair = new SharedMemoryPair(SmallRing);
        using var stream = new SharedMemoryStream(pair.Front);
        ValueTask write = stream.WriteAsync(Patterned(100));
        Assert.True(write.IsCompletedSuccessfully);
        pair.Worker.Send("pong"u8);
        var buffer = new byte[16];
        ValueTask<int> read = stream.ReadAsync(buffer);
        Assert.True(read.IsCompletedSuccessfully);
        Assert.Equal(4, await read);
        // Nothing there: the read waits (on the stream's own thread) and completes when the worker sends.
        ValueTask<int> pending = stream.ReadAsync(buffer);
        Assert.False(pending.IsCompleted);
        pair.Worker.Send("later"u8);
        Assert.Equal(5, await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(60)));
        Assert.Equal("later"u8.ToArray(), buffer[..5]);
    }

    [Fact]
    public async Task Stream_UnderAPipeWriter_WaitsForRoom_ThenCompletes()
    {
        using var pair = new SharedMemoryPair(SmallRing);
        using var stream = new SharedMemoryStream(pair.Front);
        PipeWriter writer = PipeWriter.Create(stream);
        const int total = 1024 * 1024;
        byte[] received = new byte[total];
        Task reader = OnThread(() =>
        {
            int at = 0;
            while (at < total)
            {
                at += pair.Worker.Receive(received.AsSpan(at, Math.Min(1000, total - at)));
            }
        });
        for (int sent = 0; sent < total; sent += 64 * 1024)
        {
            // A body frame's worth per flush: sixteen times the ring, so the flush waits for the reader many times.
            writer.Write(Patterned(64 * 1024, sent));
            await writer.FlushAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        }
        AssertFinishes(reader);
        Assert.Equal(Patterned(total), received);
    }

    [Fact]
    public async Task Stream_PendingWrite_FailsWhenTheWorkerGoes()
    {
        using var pair = new SharedMemoryPair(SmallRing);
        using var stream = new SharedMemoryStream(pair.Front);
        ValueTask write = stream.WriteAsync(Patterned(2 * SmallRing));
        Assert.False(write.IsCompleted);
        pair.Worker.Dispose();
        await Assert.ThrowsAsync<IOException>(() => write.AsTask().WaitAsync(TimeSpan.FromSeconds(60)));
    }
}

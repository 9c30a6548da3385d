using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Channel.Transports;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// Both ends of one shared-memory channel in this process, the way a front and a worker have them: the front
/// creates the file, the worker opens it, the front deletes the name. Two real mappings of one file.
/// </summary>
internal sealed class SharedMemoryPair : IDisposable
{
    private readonly string _folder;

    public SharedMemoryPair(int ringCapacity)
    {
        _folder = Path.Combine(ChannelListener.SharedMemoryFolder, $"kwsgi-shm-test-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_folder);
        FilePath = Path.Combine(_folder, "channel.shm");
        Front = SharedMemoryChannel.Create(FilePath, ringCapacity);
        Worker = SharedMemoryChannel.Open(FilePath);
        File.Delete(FilePath);
    }

    public string FilePath { get; }

    public SharedMemoryChannel Front { get; }

    public SharedMemoryChannel Worker { get; }

    public void Dispose()
    {
        Front.Dispose();
        Worker.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>Byte i of a test stream: never a period shorter than the rings, so a misplaced piece shows.</summary>
    public static byte Pattern(long i) => (byte)((i * 7 + (i >> 12)) & 0xFF);

    public static byte[] Patterned(int length, long start = 0)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++)
        {
            bytes[i] = Pattern(start + i);
        }
        return bytes;
    }

    /// <summary>Runs <paramref name="body"/> on a thread of its own (it blocks on futexes, not on the thread pool).</summary>
    public static Task OnThread(Action body) =>
        Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>A lost wake-up shows as a hang: fail instead of hanging the run (a guard, not a timing assertion).</summary>
    public static void AssertFinishes(params Task[] tasks)
    {
        Assert.True(Task.WaitAll(tasks, TimeSpan.FromSeconds(60)), "a side is still blocked: a wake-up was lost");
    }
}

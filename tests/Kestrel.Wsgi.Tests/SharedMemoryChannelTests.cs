using Kestrel.Wsgi.Channel;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// The shared-memory channel end to end, forced with KWSGI_CHANNEL=shm: the essentials of the socket tests against
/// a real kwsgi, no channel file left in /dev/shm or the temp folder, and a fresh mapping for a respawned worker.
/// </summary>
public sealed class SharedMemoryChannelTests() : ChannelTransportTests("shm")
{
    protected override void AssertNoChannelLeft(KwsgiProcess server)
    {
        // Each file exists only until its worker has mapped it.
        Assert.Empty(Directory.EnumerateFiles(ChannelListener.SharedMemoryFolder, $"kwsgi-{server.Pid}-*"));
        Assert.Empty(Temp.ChannelFiles());
    }

    /// <summary>The channel file a worker has mapped, from /proc/PID/maps (its name is deleted by then).</summary>
    protected override string? ChannelOf(int workerPid) =>
        File.ReadLines($"/proc/{workerPid}/maps").Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(fields => fields.Length >= 6 && Path.GetFileName(fields[5]).StartsWith("kwsgi-", StringComparison.Ordinal))
            .Select(fields => fields[5]).Single();
}

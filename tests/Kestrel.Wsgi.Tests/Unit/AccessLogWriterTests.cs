using System.Diagnostics;
using System.Text;
using Kestrel.Wsgi.Front.AccessLog;
using Microsoft.Extensions.Logging.Abstractions;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>The access log never blocks a request: a full queue drops lines and counts them.</summary>
public class AccessLogWriterTests
{
    /// <summary>A stream whose writes wait until released: a disk that stopped.</summary>
    private sealed class StuckStream : MemoryStream
    {
        public readonly ManualResetEventSlim Release = new();
        public readonly ManualResetEventSlim Entered = new();

        public override void Write(byte[] buffer, int offset, int count)
        {
            Entered.Set();
            Release.Wait();
            base.Write(buffer, offset, count);
        }
    }

    [Fact]
    public async Task FullQueue_DropsAndCounts_WithoutBlocking()
    {
        var output = new StuckStream();
        var writer = AccessLogWriter.ForTests(output, AccessLogFormat.Parse(null), NullLogger.Instance, capacity: 4);
        // The writer takes the first line and sticks writing it.
        Assert.True(writer.TryWrite(Entry(-1)));
        Assert.True(output.Entered.Wait(TimeSpan.FromSeconds(10)));
        var timer = Stopwatch.StartNew();
        int accepted = 0;
        for (int i = 0; i < 1000; i++)
        {
            if (writer.TryWrite(Entry(i)))
            {
                accepted++;
            }
        }
        timer.Stop();
        Assert.True(timer.Elapsed < TimeSpan.FromSeconds(1), $"1000 TryWrite calls took {timer.Elapsed}");
        Assert.Equal(4, accepted);
        Assert.Equal(1000 - accepted, writer.Dropped);
        output.Release.Set();
        await writer.DisposeAsync();
        string written = Encoding.UTF8.GetString(output.ToArray());
        Assert.Equal(accepted + 1, written.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    private static AccessLogEntry Entry(int i) => new()
    {
        ClientAddress = System.Net.IPAddress.Loopback,
        Method = "GET",
        RawTarget = $"/{i}",
        Protocol = "HTTP/1.1",
        Status = 200,
        Start = DateTimeOffset.UtcNow,
    };
}

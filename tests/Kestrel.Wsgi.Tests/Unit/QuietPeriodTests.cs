using Kestrel.Wsgi.Hosting;
using Microsoft.Extensions.Time.Testing;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>The --reload debouncer: a change, then 300 ms without another, is one reload; a burst is one too.</summary>
public class QuietPeriodTests
{
    private static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task NoChange_NeverCompletes()
    {
        var time = new FakeTimeProvider();
        var quiet = new QuietPeriod(Quiet, time);
        Task waiting = quiet.WaitAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromMinutes(10));
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
    }

    [Fact]
    public async Task OneChange_CompletesOnceTheQuietPeriodHasPassed()
    {
        var time = new FakeTimeProvider();
        var quiet = new QuietPeriod(Quiet, time);
        Task waiting = quiet.WaitAsync(CancellationToken.None);
        quiet.Touch();
        time.Advance(TimeSpan.FromMilliseconds(299));
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        await waiting.WaitAsync(Patience);
    }

    [Fact]
    public async Task ABurst_EachChangeWithinTheQuietPeriod_IsOneWait_EndingQuietAfterTheLast()
    {
        var time = new FakeTimeProvider();
        var quiet = new QuietPeriod(Quiet, time);
        Task waiting = quiet.WaitAsync(CancellationToken.None);
        for (int i = 0; i < 5; i++)
        {
            quiet.Touch();
            time.Advance(TimeSpan.FromMilliseconds(200));
            await Task.Delay(20);
            Assert.False(waiting.IsCompleted, $"completed during the burst, after change {i + 1}");
        }
        time.Advance(TimeSpan.FromMilliseconds(100));
        await waiting.WaitAsync(Patience);

        // The burst was consumed: the next wait needs a new change.
        Task next = quiet.WaitAsync(CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(5));
        await Task.Delay(50);
        Assert.False(next.IsCompleted);
        quiet.Touch();
        time.Advance(Quiet);
        await next.WaitAsync(Patience);
    }

    [Fact]
    public async Task AChangeBeforeTheWaitStarts_IsNotLost()
    {
        var time = new FakeTimeProvider();
        var quiet = new QuietPeriod(Quiet, time);
        quiet.Touch(); // made while the previous reload ran
        time.Advance(TimeSpan.FromSeconds(1));
        await quiet.WaitAsync(CancellationToken.None).WaitAsync(Patience);
    }

    [Fact]
    public async Task Cancelling_EndsTheWait()
    {
        var time = new FakeTimeProvider();
        var quiet = new QuietPeriod(Quiet, time);
        using var stop = new CancellationTokenSource();
        Task waiting = quiet.WaitAsync(stop.Token);
        stop.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Patience));
    }
}

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>Polling for a condition that needs I/O to check (an HTTP request), with a generous deadline.</summary>
public static class Poll
{
    /// <summary>Checks <paramref name="condition"/> every <paramref name="pollMs"/> until it holds or the time is up; returns its last value.</summary>
    public static async Task<bool> UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, int pollMs = 100)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await condition())
            {
                return true;
            }
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(pollMs);
        }
    }
}

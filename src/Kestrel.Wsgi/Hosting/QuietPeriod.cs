namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// Debounces changes: <see cref="WaitAsync"/> completes once something changed and then <c>quiet</c> passed without a
/// further change, so a burst (an editor's save, a <c>git checkout</c>) is one reload, not one per file.
/// </summary>
internal sealed class QuietPeriod(TimeSpan quiet, TimeProvider time)
{
    private readonly object _lock = new();
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _lastChange;

    /// <summary>Notes a change now. Safe from any thread (file events arrive on the thread pool).</summary>
    public void Touch()
    {
        lock (_lock)
        {
            _lastChange = time.GetTimestamp();
            _changed.TrySetResult();
        }
    }

    /// <summary>Waits for a change, then for <c>quiet</c> without another; the changes it waited for are then consumed.</summary>
    public async Task WaitAsync(CancellationToken cancellationToken)
    {
        Task changed;
        lock (_lock)
        {
            changed = _changed.Task;
        }
        await changed.WaitAsync(cancellationToken).ConfigureAwait(false);
        while (true)
        {
            TimeSpan left;
            lock (_lock)
            {
                left = quiet - time.GetElapsedTime(_lastChange);
                if (left <= TimeSpan.Zero)
                {
                    _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                    return;
                }
            }
            await Task.Delay(left, time, cancellationToken).ConfigureAwait(false);
        }
    }
}

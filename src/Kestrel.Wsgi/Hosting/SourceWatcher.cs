using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// <c>--reload</c>: watches the app's folder and reloads the workers once its source files changed and then stayed
/// still for <see cref="Quiet"/>. The OS's file events say when to look (or, with <c>--reload-engine poll</c> or
/// when events are unavailable, a scan every <see cref="PollPeriod"/>); a scan compared with the last says what
/// changed, so events from __pycache__, editors' temporary files or a touched log never reload anything.
/// </summary>
internal sealed partial class SourceWatcher : IAsyncDisposable
{
    /// <summary>Long enough to join an editor's save or a checkout into one reload, short next to a worker's start.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromMilliseconds(300);

    /// <summary>As gunicorn's poll engine.</summary>
    public static readonly TimeSpan PollPeriod = TimeSpan.FromSeconds(1);

    private readonly string _root;
    private readonly SourceFilter _filter;
    private readonly Func<string, Task> _reload;
    private readonly ILogger _logger;
    private readonly QuietPeriod _quiet = new(Quiet, TimeProvider.System);
    private readonly CancellationTokenSource _stop = new();
    private readonly FileSystemWatcher? _events;
    private readonly TaskCompletionSource _eventsFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _running;

    /// <param name="root">The app's folder.</param>
    /// <param name="reload">Replaces the workers; given what changed, for the log.</param>
    public SourceWatcher(string root, IReadOnlyList<string> includes, bool poll, Func<string, Task> reload, ILogger logger)
    {
        _root = Path.GetFullPath(root);
        _filter = new SourceFilter(includes, ignoreCase: OperatingSystem.IsWindows() || OperatingSystem.IsMacOS());
        _reload = reload;
        _logger = logger;
        SourceTree baseline = SourceTree.Scan(_root, _filter);
        if (!poll)
        {
            _events = StartEvents();
        }
        _running = Task.WhenAll(PollAsync(_stop.Token), RunAsync(baseline, _stop.Token));
        Description = $"Reloading when {Watched(includes)} under {_root} change " +
            (_events is null ? $"(looked for every {PollPeriod.TotalSeconds:0} s)" : "(file events)") +
            $"; {baseline.Count} files watched";
    }

    /// <summary>One line for the start-up log: what is watched and how.</summary>
    public string Description { get; }

    private static string Watched(IReadOnlyList<string> includes) =>
        string.Join(", ", includes.Prepend("*.py").Select(glob => $"'{glob}'"));

    private FileSystemWatcher? StartEvents()
    {
        try
        {
            var watcher = new FileSystemWatcher(_root)
            {
                IncludeSubdirectories = true,
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
                InternalBufferSize = 64 * 1024,
            };
            watcher.Changed += OnEvent;
            watcher.Created += OnEvent;
            watcher.Deleted += OnEvent;
            watcher.Renamed += (sender, e) =>
            {
                OnEvent(sender, new FileSystemEventArgs(WatcherChangeTypes.Deleted, _root, e.OldName));
                OnEvent(sender, e);
            };
            // A lost event (the buffer overflowed, a watch limit was reached in a new folder) may have been
            // anything, and more may be lost: a scan finds out, and polling takes over.
            watcher.Error += (_, e) =>
            {
                if (_eventsFailed.TrySetResult())
                {
                    LogEventsUnavailable(e.GetException().Message, PollPeriod.TotalSeconds);
                }
                _quiet.Touch();
            };
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException or ArgumentException)
        {
            // Linux: the inotify instance or watch limit is reached (fs.inotify.max_user_instances/max_user_watches).
            LogEventsUnavailable(ex.Message, PollPeriod.TotalSeconds);
            return null;
        }
    }

    private void OnEvent(object sender, FileSystemEventArgs e)
    {
        string relative = (e.Name ?? "").Replace('\\', '/');
        if (relative.Length == 0 || SourceFilter.IsInSkippedFolder(relative))
        {
            return;
        }
        // A folder (created, renamed or deleted with its files) may hold watched files; other files never matter.
        if (_filter.Watches(relative) || !Path.HasExtension(relative) || Directory.Exists(e.FullPath))
        {
            _quiet.Touch();
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(PollPeriod);
        try
        {
            if (_events is not null)
            {
                await _eventsFailed.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                // The scan that follows the quiet period says whether anything changed.
                _quiet.Touch();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task RunAsync(SourceTree baseline, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await _quiet.WaitAsync(cancellationToken).ConfigureAwait(false);
                SourceTree now = SourceTree.Scan(_root, _filter);
                IReadOnlyList<string> changed = now.ChangesSince(baseline);
                if (changed.Count == 0)
                {
                    continue;
                }
                baseline = now;
                string what = changed.Count switch
                {
                    1 => changed[0],
                    2 => $"{changed[0]} and 1 more file",
                    _ => $"{changed[0]} and {changed.Count - 1} more files",
                };
                SourceTree.ForgetBytecode(_root, changed);
                // Changes made while the workers are replaced are seen by the next scan against this baseline. At
                // shutdown the reload is not waited for: stopping the supervisor ends it.
                await _reload($"{what} changed").WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _events?.Dispose();
        await _stop.CancelAsync().ConfigureAwait(false);
        await _running.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 81, Level = LogLevel.Warning, Message = "File events for --reload are unavailable ({Reason}); looking for changes every {Seconds} s instead.")]
    private partial void LogEventsUnavailable(string reason, double seconds);
}

using System.Runtime.InteropServices;
using Kestrel.Wsgi.Dispatch;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// What makes the server reload its workers: SIGHUP (not on Windows, where that number means the console
/// window closed) and, where signals are awkward (Windows, IIS, containers), a change of a file's
/// modification time. The file is polled once a second: a file-system watcher misses changes on network
/// shares and in some containers, and a second is quick enough for a deployment step. In development,
/// <c>--reload</c> adds a change of the app's source (<see cref="SourceWatcher"/>).
/// </summary>
internal sealed class ReloadTriggers : IAsyncDisposable
{
    private readonly PosixSignalRegistration? _sighup;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _polling = Task.CompletedTask;
    private readonly SourceWatcher? _sources;

    public ReloadTriggers(Supervisor supervisor, KwsgiOptions options, ILoggerFactory loggerFactory)
    {
        string? reloadFile = options.ReloadFile;
        if (options.Reload)
        {
            // The app's folder: the working directory, which --chdir has set.
            _sources = new SourceWatcher(Directory.GetCurrentDirectory(), options.ReloadInclude, options.ReloadPoll,
                why => supervisor.ReloadAsync(why, sourceChanged: true), loggerFactory.CreateLogger<SourceWatcher>());
        }
        if (!OperatingSystem.IsWindows())
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP's default action would end the process
                _ = supervisor.ReloadAsync("SIGHUP");
            });
        }
        if (reloadFile is not null)
        {
            _polling = PollAsync(supervisor, Path.GetFullPath(reloadFile), _stop.Token);
        }
    }

    /// <summary>What <c>--reload</c> watches, for the start-up log; null without it.</summary>
    public string? Watching => _sources?.Description;

    private static async Task PollAsync(Supervisor supervisor, string file, CancellationToken cancellationToken)
    {
        DateTime last = Stamp(file);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                DateTime now = Stamp(file);
                // A file that disappears is no request to reload; one that appears or is touched is.
                if (now != last && now != DateTime.MinValue)
                {
                    await supervisor.ReloadAsync($"{Path.GetFileName(file)} was touched").ConfigureAwait(false);
                }
                last = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private static DateTime Stamp(string file)
    {
        try
        {
            var info = new FileInfo(file);
            return info.Exists ? info.LastWriteTimeUtc : DateTime.MinValue;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return DateTime.MinValue;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _sighup?.Dispose();
        if (_sources is not null)
        {
            await _sources.DisposeAsync().ConfigureAwait(false);
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        await _polling.ConfigureAwait(false);
        _stop.Dispose();
    }
}

using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// Windows: closing the console window (CTRL_CLOSE_EVENT, which .NET reports as SIGHUP) and logoff or shutdown
/// (CTRL_SHUTDOWN_EVENT, reported as SIGTERM) end the process as soon as the handler returns — and after about
/// 5 s regardless. The host's own handler only requests a stop and returns, so the front would die before
/// draining. This handler requests the stop and then blocks until the drain is over (or Windows cuts it short).
/// Ctrl-C (SIGINT) and Ctrl-Break (SIGQUIT, what HttpPlatformHandler sends) need nothing: the process lives on
/// after the host's handler and drains as on Linux.
/// </summary>
internal static class ConsoleCloseDrain
{
    /// <summary>
    /// Call after the host started: registrations run newest first, so this one runs before the host's own.
    /// Returns null where there is nothing to do (not Windows).
    /// </summary>
    public static IDisposable? Register(IHostApplicationLifetime lifetime, Task drained, TimeSpan limit)
    {
        if (!OperatingSystem.IsWindows())
        {
            return null;
        }
        void Drain(PosixSignalContext context)
        {
            context.Cancel = true;
            lifetime.StopApplication();
            drained.Wait(limit);
        }
        return new Registrations(
            PosixSignalRegistration.Create(PosixSignal.SIGHUP, Drain),
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, Drain));
    }

    private sealed class Registrations(PosixSignalRegistration close, PosixSignalRegistration shutdown) : IDisposable
    {
        public void Dispose()
        {
            close.Dispose();
            shutdown.Dispose();
        }
    }
}

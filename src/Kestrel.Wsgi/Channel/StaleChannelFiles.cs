using System.Diagnostics;
using System.Globalization;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Removes channel files that a front killed outright (SIGKILL, TerminateProcess) left in the temp folder: a
/// channel's name exists on disk only between the front's bind and the worker's connect, so only workers that
/// were starting at that moment leave one. They could never break a later start (every name holds the pid and a
/// GUID); this only keeps the temp folder clean.
/// </summary>
internal static class StaleChannelFiles
{
    // A live front's name exists for well under a second; the age guard also spares a live front whose pid this
    // process cannot see (another pid namespace sharing the temp folder).
    private static readonly TimeSpan s_minimumAge = TimeSpan.FromMinutes(1);

    public static void Remove(string folder, DateTime now)
    {
        try
        {
            foreach (string path in Directory.EnumerateFiles(folder, "kwsgi-*"))
            {
                if (IsStale(path, now))
                {
                    File.Delete(path);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Cleaning up is a courtesy: never a reason to fail a start.
        }
    }

    /// <summary>kwsgi-PID-GUID.sock, .pipe or .shm, older than a minute, whose front process no longer runs.</summary>
    public static bool IsStale(string path, DateTime now)
    {
        string name = Path.GetFileName(path);
        string extension = Path.GetExtension(name);
        if (extension is not (".sock" or ".pipe" or ".shm"))
        {
            return false;
        }
        string[] parts = Path.GetFileNameWithoutExtension(name).Split('-');
        if (parts.Length != 3 || parts[0] != "kwsgi" || parts[2].Length != 32 || !Guid.TryParseExact(parts[2], "N", out _)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int pid))
        {
            return false;
        }
        if (pid == Environment.ProcessId || now - File.GetLastWriteTimeUtc(path) < s_minimumAge)
        {
            return false;
        }
        try
        {
            Process.GetProcessById(pid).Dispose();
            return false;
        }
        catch (ArgumentException)
        {
            return true; // no such process
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}

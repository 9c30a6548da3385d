using System.Runtime.InteropServices;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>Linux /proc helpers and signals.</summary>
public static class ProcInfo
{
    public const int SIGKILL = 9;
    public const int SIGTERM = 15;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SysKill(int pid, int sig);

    public static bool Signal(int pid, int signal) => SysKill(pid, signal) == 0;

    /// <summary>(ppid, state) from /proc/PID/stat, or null when the process does not exist.</summary>
    public static (int Ppid, char State)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
        // comm (field 2) may contain spaces and parentheses: parse after the last ')'.
        int close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }
        string[] rest = text[(close + 2)..].Split(' ');
        return (int.Parse(rest[1]), rest[0][0]);
    }

    /// <summary>True when the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        var stat = ReadStat(pid);
        return stat is not null && stat.Value.State != 'Z' && stat.Value.State != 'X';
    }

    public static string CommandLine(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return "";
        }
        catch (UnauthorizedAccessException)
        {
            return "";
        }
    }

    /// <summary>Live (non-zombie) children of <paramref name="parent"/>.</summary>
    public static List<int> Children(int parent)
    {
        var result = new List<int>();
        foreach (string dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid))
            {
                continue;
            }
            var stat = ReadStat(pid);
            if (stat is { } s && s.Ppid == parent && s.State != 'Z' && s.State != 'X')
            {
                result.Add(pid);
            }
        }
        result.Sort();
        return result;
    }

    /// <summary>Resident set size in bytes (VmRSS), or null when the process is gone.</summary>
    public static long? RssBytes(int pid)
    {
        try
        {
            foreach (string line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    string kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    public static string Maps(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/maps");
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Polls <paramref name="condition"/> until true or the timeout passes; returns its last value.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan timeout, int pollMs = 50)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (condition())
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

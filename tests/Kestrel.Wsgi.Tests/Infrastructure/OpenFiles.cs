namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>The files a process holds open, from /proc/PID/fd (Linux).</summary>
public static class OpenFiles
{
    /// <summary>
    /// The fd links of <paramref name="pid"/> whose target lies in <paramref name="folder"/>, named or already
    /// deleted (the kernel shows a deleted file's old path with " (deleted)").
    /// </summary>
    public static List<(string Link, string Target)> Under(int pid, string folder)
    {
        string prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder)) + "/";
        var found = new List<(string, string)>();
        string[] links;
        try
        {
            links = Directory.GetFiles($"/proc/{pid}/fd");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return found;
        }
        foreach (string link in links)
        {
            try
            {
                if (new FileInfo(link).LinkTarget is string target && target.StartsWith(prefix, StringComparison.Ordinal))
                {
                    found.Add((link, target));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // closed while we looked
            }
        }
        return found;
    }
}

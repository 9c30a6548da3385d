using System.Buffers;

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// Turns the decoded URL path below a mount into a path relative to its folder, refusing anything that could name
/// a file outside it or a file that is not meant to be served: empty, dot and dot-dot segments, dotfiles,
/// backslashes, control characters, and on Windows drive/stream colons, trailing dots or spaces and device names.
/// </summary>
internal static class StaticPathMapper
{
    private static readonly SearchValues<char> s_forbidden = SearchValues.Create(
        "\\\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007\u0008\u0009\u000a\u000b\u000c\u000d\u000e\u000f" +
        "\u0010\u0011\u0012\u0013\u0014\u0015\u0016\u0017\u0018\u0019\u001a\u001b\u001c\u001d\u001e\u001f\u007f");

    // Characters Windows file names cannot hold (':' would also name an alternate data stream).
    private static readonly SearchValues<char> s_forbiddenOnWindows = SearchValues.Create(":*?\"<>|");

    private static readonly string[] s_windowsDevices =
        ["CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8", "COM9",
         "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9", "CONIN$", "CONOUT$"];

    /// <summary>
    /// The path relative to the mount's folder (with the OS's separator) for <paramref name="below"/>, the URL path
    /// after the mount's prefix (it starts with '/'); null when it names nothing that may be served.
    /// </summary>
    public static string? Map(ReadOnlySpan<char> below)
    {
        if (below.Length < 2 || below[0] != '/')
        {
            return null; // the mount itself, or its folder with a trailing slash: no listings
        }
        ReadOnlySpan<char> relative = below[1..];
        if (relative.ContainsAny(s_forbidden))
        {
            return null;
        }
        foreach (Range range in relative.Split('/'))
        {
            if (!IsServableSegment(relative[range]))
            {
                return null;
            }
        }
        return Path.DirectorySeparatorChar == '/' ? relative.ToString() : relative.ToString().Replace('/', Path.DirectorySeparatorChar);
    }

    private static bool IsServableSegment(ReadOnlySpan<char> segment)
    {
        // Empty ("//", a trailing "/"), ".", ".." and every dotfile or dot-folder (.git, .env, .well-known).
        if (segment.IsEmpty || segment[0] == '.')
        {
            return false;
        }
        if (OperatingSystem.IsWindows())
        {
            if (segment.ContainsAny(s_forbiddenOnWindows) || segment[^1] is '.' or ' ')
            {
                return false; // Windows would strip a trailing dot or space and open another file
            }
            int dot = segment.IndexOf('.');
            ReadOnlySpan<char> stem = (dot < 0 ? segment : segment[..dot]).TrimEnd(' ');
            foreach (string device in s_windowsDevices)
            {
                if (stem.Equals(device, StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }
            }
        }
        return true;
    }
}

namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>
/// A path with every symbolic link (and Windows junction) in it followed, component by component, the way the
/// kernel follows them — so "inside the static folder" is decided on where a file really is, not on its name.
/// </summary>
internal static class RealPath
{
    // Linux's own limit on links followed in one lookup (MAXSYMLINKS).
    private const int MaxLinks = 40;

    /// <summary>The real form of the full path <paramref name="fullPath"/>; null when its links loop.</summary>
    public static string? Resolve(string fullPath)
    {
        string root = Path.GetPathRoot(fullPath) ?? "";
        int links = 0;
        return Walk(root, fullPath.AsSpan(root.Length), ref links);
    }

    /// <summary>The real form of <paramref name="realBase"/> (already real) joined with <paramref name="relative"/>; null when links loop.</summary>
    public static string? Resolve(string realBase, ReadOnlySpan<char> relative)
    {
        int links = 0;
        return Walk(realBase, relative, ref links);
    }

    private static string? Walk(string current, ReadOnlySpan<char> relative, ref int links)
    {
        foreach (Range range in relative.SplitAny('/', '\\'))
        {
            ReadOnlySpan<char> part = relative[range];
            if (part.IsEmpty || part.SequenceEqual("."))
            {
                continue;
            }
            if (part.SequenceEqual(".."))
            {
                // After the links before it were followed, so ".." leaves the real folder (as the kernel does).
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            string next = Path.Join(current, part);
            string? target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++links > MaxLinks)
            {
                return null;
            }
            string start;
            ReadOnlySpan<char> rest;
            if (Path.IsPathRooted(target))
            {
                start = Path.GetPathRoot(target) ?? "";
                rest = target.AsSpan(start.Length);
            }
            else
            {
                start = current; // a relative target is relative to the link's own folder
                rest = target;
            }
            string? resolved = Walk(start, rest, ref links);
            if (resolved is null)
            {
                return null;
            }
            current = resolved;
        }
        return current;
    }
}

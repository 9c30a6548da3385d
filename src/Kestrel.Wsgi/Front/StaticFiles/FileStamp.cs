namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>What says a file changed: its length and last-write time (full precision, not HTTP's seconds).</summary>
internal readonly record struct FileStamp(long Length, long LastWriteTicks)
{
    public DateTimeOffset LastWrite => new(LastWriteTicks, TimeSpan.Zero);

    /// <summary>
    /// The stamp of <paramref name="relative"/> under <paramref name="root"/> when it is a regular file that really
    /// lies inside the root (symbolic links followed); null otherwise.
    /// </summary>
    public static FileStamp? Probe(StaticRoot root, string relative, out string physicalPath)
    {
        physicalPath = Path.Join(root.Folder, relative);
        string? real = RealPath.Resolve(root.Folder, relative);
        if (real is null || !root.Contains(real))
        {
            return null;
        }
        var info = new FileInfo(real);
        // Exists is false for folders; anything else that is not a regular file has other attributes set.
        if (!info.Exists || (info.Attributes & (FileAttributes.Device | FileAttributes.Directory)) != 0)
        {
            return null;
        }
        physicalPath = real;
        return new FileStamp(info.Length, info.LastWriteTimeUtc.Ticks);
    }
}

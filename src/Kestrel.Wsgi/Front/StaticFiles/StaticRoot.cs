namespace Kestrel.Wsgi.Front.StaticFiles;

/// <summary>A <see cref="StaticMount"/> after start-up checks: its folder as a full path with every symbolic link resolved.</summary>
internal sealed record StaticRoot(string UrlPath, string Folder)
{
    /// <summary>True when <paramref name="realPath"/> (links resolved) lies inside <see cref="Folder"/>.</summary>
    public bool Contains(string realPath) =>
        realPath.Length > Folder.Length
        && realPath.StartsWith(Folder, PathComparison)
        && (Folder.EndsWith(Path.DirectorySeparatorChar) || realPath[Folder.Length] == Path.DirectorySeparatorChar);

    public static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
}

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// The watched files under the app's folder with their modification time and size, as one scan found them; two
/// scans compared name what changed, was created or deleted. Comparing scans (rather than trusting file events)
/// names the files exactly, sees a folder deleted with its files, and ignores events that changed nothing.
/// </summary>
internal sealed class SourceTree
{
    private readonly Dictionary<string, (DateTime Written, long Length)> _files;

    private SourceTree(Dictionary<string, (DateTime, long)> files) => _files = files;

    public int Count => _files.Count;

    /// <summary>Scans <paramref name="root"/> recursively; folders that are skipped, virtualenvs or symbolic links are not entered.</summary>
    public static SourceTree Scan(string root, SourceFilter filter)
    {
        var files = new Dictionary<string, (DateTime, long)>(StringComparer.Ordinal);
        var options = new EnumerationOptions { IgnoreInaccessible = true, AttributesToSkip = 0, RecurseSubdirectories = false };
        var folders = new Stack<(string Path, string Relative)>();
        folders.Push((root, ""));
        while (folders.Count > 0)
        {
            (string folder, string relative) = folders.Pop();
            IEnumerable<FileSystemInfo> entries;
            try
            {
                entries = new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options).ToList();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // deleted while we looked: the next scan sees it gone
            }
            foreach (FileSystemInfo entry in entries)
            {
                string path = relative.Length == 0 ? entry.Name : relative + "/" + entry.Name;
                if (entry is DirectoryInfo directory)
                {
                    // Not followed: a link can point back up the tree, and the OS's events do not follow links either.
                    if (!SourceFilter.SkippedFolders.Contains(entry.Name) && directory.LinkTarget is null
                        && !File.Exists(Path.Combine(directory.FullName, "pyvenv.cfg")))
                    {
                        folders.Push((directory.FullName, path));
                    }
                }
                else if (entry is FileInfo file && filter.Watches(path))
                {
                    try
                    {
                        files[path] = (file.LastWriteTimeUtc, file.Length);
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        // Deleted between listing and reading.
                    }
                }
            }
        }
        return new SourceTree(files);
    }

    /// <summary>Files changed, created or deleted since <paramref name="before"/>, sorted.</summary>
    public IReadOnlyList<string> ChangesSince(SourceTree before)
    {
        var changed = new List<string>();
        foreach (var (path, stamp) in _files)
        {
            if (!before._files.TryGetValue(path, out var old) || old != stamp)
            {
                changed.Add(path);
            }
        }
        changed.AddRange(before._files.Keys.Where(path => !_files.ContainsKey(path)));
        changed.Sort(StringComparer.Ordinal);
        return changed;
    }

    /// <summary>
    /// Deletes the cached bytecode of changed .py files. Python trusts a .pyc whose recorded source time (in whole
    /// seconds) and size match, so a file saved twice within a second at the same size would import stale code.
    /// </summary>
    public static void ForgetBytecode(string root, IEnumerable<string> changed)
    {
        foreach (string path in changed.Where(p => p.EndsWith(".py", StringComparison.Ordinal)))
        {
            string full = Path.Combine(root, path);
            string cache = Path.Combine(Path.GetDirectoryName(full)!, "__pycache__");
            try
            {
                if (!Directory.Exists(cache))
                {
                    continue;
                }
                // name.cpython-311.pyc, name.cpython-311.opt-1.pyc, ...
                foreach (string pyc in Directory.EnumerateFiles(cache, Path.GetFileNameWithoutExtension(full) + ".*.pyc"))
                {
                    File.Delete(pyc);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Python then checks the time and size as usual.
            }
        }
    }
}

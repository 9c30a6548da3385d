namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Paths read from a web.config are Windows paths even when kwsgi runs elsewhere (tests on Linux), so the
/// folder and name are split at either separator instead of with <see cref="Path"/>.
/// </summary>
internal static class WindowsPath
{
    public static string Folder(string path)
    {
        string trimmed = path.TrimEnd('\\', '/');
        int last = trimmed.LastIndexOfAny(['\\', '/']);
        return last switch
        {
            < 0 => "",
            0 => trimmed[..1],
            // C:\python.exe → C:\, not C:
            2 when trimmed[1] == ':' => trimmed[..3],
            _ => trimmed[..last],
        };
    }

    public static string Name(string path)
    {
        string trimmed = path.TrimEnd('\\', '/');
        return trimmed[(trimmed.LastIndexOfAny(['\\', '/']) + 1)..];
    }

    /// <summary>The file name without .exe, lower-case: python.exe, Python3.EXE and python3 all give "python3".</summary>
    public static string Program(string path)
    {
        string name = Name(path).Trim('"').ToLowerInvariant();
        return name.EndsWith(".exe", StringComparison.Ordinal) ? name[..^4] : name;
    }

    /// <summary>
    /// The value for <c>--python</c> from an interpreter's path: its folder, and for a virtualenv's
    /// Scripts\python.exe the virtualenv's folder (kwsgi looks for Scripts\python.exe in it).
    /// </summary>
    public static string PythonHome(string interpreter)
    {
        string folder = Folder(interpreter.Trim('"'));
        string name = Name(folder);
        return name.Equals("Scripts", StringComparison.OrdinalIgnoreCase) && Folder(folder).Length > 0 ? Folder(folder) : folder;
    }

    public static bool IsPython(string program) =>
        program.StartsWith("python", StringComparison.Ordinal) || program is "py" or "pythonw";
}

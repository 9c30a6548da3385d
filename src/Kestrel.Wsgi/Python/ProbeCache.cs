using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Kestrel.Wsgi.Python;

/// <summary>
/// The interpreter's answer to <see cref="PythonLocator"/>'s probe, kept per interpreter so a start does not run
/// Python once more before the workers (~25 ms, more on a busy machine). The answer is reused only while nothing it
/// depends on changed: the interpreter file and its libpython, every folder on its sys.path (a package installed or
/// a .pth file added changes the folder's time), the user site folder and pyvenv.cfg (appearing or changing), and
/// the PYTHON* variables that move sys.path. Any doubt, or a cache folder that cannot be written (an IIS app pool
/// without a profile), and the interpreter is asked as before.
/// </summary>
internal static class ProbeCache
{
    private const int Format = 1;

    private static readonly string[] s_variables = ["PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "PYTHONPLATLIBDIR"];

    private sealed record Entry(int Format, string Executable, string Environment, Dictionary<string, long> Stamps, string Answer, string Version, string Library, string[] SysPath);

    public static PythonInstallation? Read(string executable)
    {
        if (FileFor(executable) is not { } file || System.Environment.GetEnvironmentVariable("KWSGI_NO_PROBE_CACHE") is { Length: > 0 })
        {
            return null;
        }
        try
        {
            if (!File.Exists(file))
            {
                return null;
            }
            Entry? entry = JsonSerializer.Deserialize<Entry>(File.ReadAllBytes(file));
            if (entry is null || entry.Format != Format || entry.Executable != executable || entry.Environment != EnvironmentKey())
            {
                return null;
            }
            foreach ((string path, long stamp) in entry.Stamps)
            {
                if (Stamp(path) != stamp)
                {
                    return null;
                }
            }
            return new PythonInstallation(entry.Answer, entry.Version, entry.Library, entry.SysPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return null;
        }
    }

    public static void Write(string executable, PythonInstallation installation, IEnumerable<string> watched)
    {
        if (FileFor(executable) is not { } file)
        {
            return;
        }
        try
        {
            var stamps = new Dictionary<string, long>();
            foreach (string path in watched.Append(executable).Append(installation.Executable).Append(installation.Library))
            {
                stamps[path] = Stamp(path);
            }
            var entry = new Entry(Format, executable, EnvironmentKey(), stamps, installation.Executable, installation.Version, installation.Library, installation.SysPath.ToArray());
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            // Written aside and renamed: a kwsgi starting at the same moment reads the old answer or the new one.
            string temporary = $"{file}.{System.Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(entry));
            File.Move(temporary, file, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            // No cache: the next start asks the interpreter again.
        }
    }

    /// <summary>Last write time and size of a file or folder, following symbolic links (a virtualenv's python); -1 when absent.</summary>
    private static long Stamp(string path)
    {
        var info = new FileInfo(path);
        if (info.Exists)
        {
            FileSystemInfo target = info.ResolveLinkTarget(returnFinalTarget: true) ?? info;
            target.Refresh();
            return target.Exists ? target.LastWriteTimeUtc.Ticks ^ ((FileInfo)target).Length : -1;
        }
        var folder = new DirectoryInfo(path);
        return folder.Exists ? folder.LastWriteTimeUtc.Ticks : -1;
    }

    private static string EnvironmentKey() =>
        string.Join('\n', s_variables.Select(name => $"{name}={System.Environment.GetEnvironmentVariable(name)}"));

    private static string? FileFor(string executable)
    {
        string? root = OperatingSystem.IsWindows()
            ? System.Environment.GetFolderPath(System.Environment.SpecialFolder.LocalApplicationData, System.Environment.SpecialFolderOption.DoNotVerify)
            : System.Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg ? xdg
            : System.Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home ? Path.Combine(home, ".cache")
            : null;
        if (string.IsNullOrEmpty(root))
        {
            return null;
        }
        string name = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(executable)))[..16];
        return Path.Combine(root, "kwsgi", $"python-{name}.json");
    }
}

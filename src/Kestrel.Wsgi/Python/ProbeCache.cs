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
    private const int Format = 2;

    private static readonly string[] s_variables = ["PYTHONPATH", "PYTHONHOME", "PYTHONUSERBASE", "PYTHONNOUSERSITE", "PYTHONSAFEPATH", "PYTHONPLATLIBDIR"];

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
            // JsonDocument, not JsonSerializer: the serializer's reflection costs the front ~6 MiB of RSS.
            using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(file));
            JsonElement entry = document.RootElement;
            if (entry.GetProperty("format").GetInt32() != Format || entry.GetProperty("executable").GetString() != executable
                || entry.GetProperty("environment").GetString() != EnvironmentKey())
            {
                return null;
            }
            foreach (JsonProperty stamp in entry.GetProperty("stamps").EnumerateObject())
            {
                if (Stamp(stamp.Name) != stamp.Value.GetInt64())
                {
                    return null;
                }
            }
            return new PythonInstallation(
                entry.GetProperty("answer").GetString()!,
                entry.GetProperty("version").GetString()!,
                entry.GetProperty("library").GetString()!,
                entry.GetProperty("path").EnumerateArray().Select(p => p.GetString()!).ToArray());
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException or NotSupportedException)
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
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var json = new Utf8JsonWriter(buffer))
            {
                json.WriteStartObject();
                json.WriteNumber("format", Format);
                json.WriteString("executable", executable);
                json.WriteString("environment", EnvironmentKey());
                json.WriteStartObject("stamps");
                foreach (string path in watched.Append(executable).Append(installation.Executable).Append(installation.Library).Distinct())
                {
                    json.WriteNumber(path, Stamp(path));
                }
                json.WriteEndObject();
                json.WriteString("answer", installation.Executable);
                json.WriteString("version", installation.Version);
                json.WriteString("library", installation.Library);
                json.WriteStartArray("path");
                foreach (string entry in installation.SysPath)
                {
                    json.WriteStringValue(entry);
                }
                json.WriteEndArray();
                json.WriteEndObject();
            }
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            // Written aside and renamed: a kwsgi starting at the same moment reads the old answer or the new one.
            string temporary = $"{file}.{System.Environment.ProcessId}.tmp";
            File.WriteAllBytes(temporary, buffer.WrittenSpan.ToArray());
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
        // FNV-1a, not SHA-256: a cryptographic hash would load OpenSSL into the front (~5 MiB of RSS) for a file name.
        ulong hash = 14695981039346656037;
        foreach (byte b in Encoding.UTF8.GetBytes(executable))
        {
            hash = (hash ^ b) * 1099511628211;
        }
        string name = hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
        return Path.Combine(root, "kwsgi", $"python-{name}.json");
    }
}

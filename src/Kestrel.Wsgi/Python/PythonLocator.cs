using System.Diagnostics;
using System.Text.Json;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Python;

/// <summary>
/// Finds the Python to embed: <c>--python</c> (an interpreter or a virtualenv folder), else VIRTUAL_ENV,
/// else python3/python on PATH. It asks that interpreter where its shared libpython is and what its
/// sys.path is, so the embedded interpreter sees the same packages (a virtualenv's included).
/// </summary>
internal static class PythonLocator
{
    private const string Probe = """
import json, os, site, sys, sysconfig
v = sysconfig.get_config_var
names = [n for n in (v("LDLIBRARY"), v("INSTSONAME")) if n and not n.endswith(".a")]
if os.name == "nt":
    names.insert(0, "python%d%d.dll" % sys.version_info[:2])
dirs = [d for d in (v("LIBDIR"), v("LIBPL"), sys.base_prefix, os.path.join(sys.base_prefix, "lib"),
        os.path.dirname(sys._base_executable if hasattr(sys, "_base_executable") else sys.executable)) if d]
if v("LIBDIR") and v("MULTIARCH"):
    dirs.insert(1, os.path.join(v("LIBDIR"), v("MULTIARCH")))
found = [os.path.join(d, n) for n in names for d in dirs if os.path.isfile(os.path.join(d, n))]
print(json.dumps({"executable": sys.executable, "version": sys.version.split()[0],
    "library": found[0] if found else "", "shared": bool(v("Py_ENABLE_SHARED")) or os.name == "nt",
    "path": [p for p in sys.path if p],
    "watch": [p for p in sys.path if p] + [site.getusersitepackages(), os.path.join(os.path.dirname(sys.executable), "pyvenv.cfg"),
        os.path.join(os.path.dirname(os.path.dirname(sys.executable)), "pyvenv.cfg")]}))
""";

    public static PythonInstallation Locate(string? requested)
    {
        string executable = requested is not null ? FromOption(requested)
            : Environment.GetEnvironmentVariable("VIRTUAL_ENV") is { Length: > 0 } venv ? InFolder(venv, "VIRTUAL_ENV")
            : OnPath() ?? throw new UsageException("no Python found: pass --python, activate a virtualenv, or put python3 on PATH");
        return ProbeCache.Read(executable) ?? Ask(executable);
    }

    private static string FromOption(string requested)
    {
        string full = Path.GetFullPath(requested);
        if (Directory.Exists(full))
        {
            return InFolder(full, "--python");
        }
        if (File.Exists(full))
        {
            return full;
        }
        // A bare name such as "python3.11" (or "python" for python.exe on Windows) is looked up on PATH, like a
        // shell would; Windows accepts '/' in paths too, so neither separator makes a bare name.
        if (requested.IndexOfAny(['/', Path.DirectorySeparatorChar]) < 0 && FindOnPath(requested) is { } onPath)
        {
            return onPath;
        }
        throw new UsageException($"no Python interpreter at {requested}");
    }

    private static string InFolder(string folder, string source)
    {
        string[] candidates = OperatingSystem.IsWindows()
            ? [Path.Combine(folder, "Scripts", "python.exe"), Path.Combine(folder, "python.exe")]
            : [Path.Combine(folder, "bin", "python3"), Path.Combine(folder, "bin", "python")];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new UsageException($"{source} folder {folder} holds no Python interpreter (looked for {string.Join(" and ", candidates)})");
    }

    // Windows: python.org's installer often leaves python.exe off PATH but always installs the py launcher, which
    // runs the newest Python; the probe then reports that interpreter's own path (sys.executable), which is what
    // the workers embed.
    private static string? OnPath() => OperatingSystem.IsWindows()
        ? FindOnPath("python.exe") ?? FindOnPath("python3.exe") ?? FindOnPath("py.exe")
        : FindOnPath("python3") ?? FindOnPath("python");

    private static string? FindOnPath(string name)
    {
        // Windows: "python3.11" means python3.11.exe, as in a shell (the extension is the one that runs).
        string[] names = OperatingSystem.IsWindows() && !name.EndsWith(".exe", StringComparison.OrdinalIgnoreCase) ? [name + ".exe", name] : [name];
        foreach (string folder in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (string file in names)
            {
                // PATH entries may be quoted on Windows ("C:\Program Files\Python312").
                string candidate = Path.Combine(folder.Trim('"'), file);
                if (File.Exists(candidate))
                {
                    return candidate;
                }
            }
        }
        return null;
    }

    private static PythonInstallation Ask(string executable)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(Probe);
        string output, error;
        int exitCode;
        try
        {
            using Process process = Process.Start(info) ?? throw new UsageException($"could not run {executable}");
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            output = process.StandardOutput.ReadToEnd();
            error = stderr.GetAwaiter().GetResult();
            process.WaitForExit();
            exitCode = process.ExitCode;
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new UsageException($"could not run {executable}: {ex.Message}");
        }
        if (exitCode != 0)
        {
            string last = error.Trim().Split('\n').LastOrDefault() ?? "";
            throw new UsageException($"{executable} failed when asked for its paths (exit code {exitCode}): {last}");
        }

        JsonElement root;
        try
        {
            root = JsonDocument.Parse(output).RootElement;
        }
        catch (JsonException)
        {
            throw new UsageException($"{executable} does not look like a Python interpreter");
        }
        string version = root.GetProperty("version").GetString() ?? "";
        string library = root.GetProperty("library").GetString() ?? "";
        if (library.Length == 0)
        {
            throw new UsageException(root.GetProperty("shared").GetBoolean()
                ? $"{executable} (Python {version}) says it has a shared libpython, but the file is not where it says; install its libpython package"
                : $"{executable} (Python {version}) was built without a shared libpython, which kwsgi needs to embed it; use a Python built with --enable-shared (such as Debian's python3)");
        }
        var installation = new PythonInstallation(
            root.GetProperty("executable").GetString() is { Length: > 0 } exe ? exe : executable,
            version,
            library,
            root.GetProperty("path").EnumerateArray().Select(p => p.GetString() ?? "").Where(p => p.Length > 0).ToArray());
        ProbeCache.Write(executable, installation, root.GetProperty("watch").EnumerateArray().Select(p => p.GetString() ?? "").Where(p => p.Length > 0));
        return installation;
    }
}

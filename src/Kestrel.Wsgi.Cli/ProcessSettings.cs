using System.Globalization;
using System.Runtime.InteropServices;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>What <see cref="ProcessOptions"/> asks of the kwsgi process, done once every option has been checked.</summary>
internal sealed partial record ProcessSettings(string? PidFile, IReadOnlyList<KeyValuePair<string, string>> Environment, int? Umask)
{
    /// <summary>Sets the environment and the umask (workers inherit both) and writes the pid file; disposing removes it.</summary>
    public IDisposable Enact()
    {
        foreach ((string key, string value) in Environment)
        {
            System.Environment.SetEnvironmentVariable(key, value);
        }
        if (Umask is int mask)
        {
            if (OperatingSystem.IsWindows())
            {
                throw new UsageException("--umask has no meaning on Windows");
            }
            SetUmask((uint)mask);
        }
        if (PidFile is null)
        {
            return new PidFileLease(null);
        }
        try
        {
            File.WriteAllText(PidFile, System.Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--pid {PidFile}: cannot write the pid file: {ex.Message}");
        }
        return new PidFileLease(Path.GetFullPath(PidFile));
    }

    [LibraryImport("libc", EntryPoint = "umask")]
    private static partial uint SetUmask(uint mask);

    /// <summary>Removes the pid file at exit, as gunicorn does.</summary>
    private sealed class PidFileLease(string? path) : IDisposable
    {
        public void Dispose()
        {
            if (path is not null)
            {
                try
                {
                    File.Delete(path);
                }
                catch (IOException)
                {
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }
    }
}

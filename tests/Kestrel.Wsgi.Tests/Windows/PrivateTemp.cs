using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Windows;

/// <summary>
/// A temp folder of a test's own (TMPDIR for the kwsgi it starts), with a space in its name: channel files can be
/// counted exactly, without other servers' files, and paths with spaces are exercised on the way.
/// </summary>
public sealed class PrivateTemp : IDisposable
{
    public PrivateTemp()
    {
        Folder = Path.Combine(Path.GetTempPath(), $"kwsgi-test {Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    /// <summary>Channel sockets and pipes kwsgi has in this folder now (kwsgi-PID-GUID.sock / .pipe).</summary>
    public string[] ChannelFiles() =>
        Directory.EnumerateFileSystemEntries(Folder, "kwsgi-*")
            .Where(p => p.EndsWith(".sock", StringComparison.Ordinal) || p.EndsWith(".pipe", StringComparison.Ordinal))
            .Select(Path.GetFileName)
            .ToArray()!;

    /// <summary>The environment for kwsgi: this folder as TMPDIR, plus <paramref name="more"/>.</summary>
    public Dictionary<string, string?> Environment(params (string Name, string Value)[] more)
    {
        var environment = new Dictionary<string, string?> { ["TMPDIR"] = Folder };
        foreach (var (name, value) in more)
        {
            environment[name] = value;
        }
        return environment;
    }

    /// <summary>Starts kwsgi on a free port with the test apps folder, this temp folder and <paramref name="more"/>.</summary>
    public Task<KwsgiProcess> StartAsync(string app, string[] args, params (string Name, string Value)[] more)
    {
        int port = KwsgiProcess.FreePort();
        var all = new List<string> { "--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir };
        all.AddRange(args);
        all.Add(app);
        return KwsgiProcess.StartAndWaitAsync(all, Environment(more), port);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Folder, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

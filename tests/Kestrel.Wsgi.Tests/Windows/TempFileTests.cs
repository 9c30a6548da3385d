using System.Diagnostics;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Windows;

/// <summary>
/// Channel files in the temp folder: none while serving, none that a killed front leaves to break the next start,
/// stale ones swept, and a temp folder that cannot hold them refused in one line.
/// </summary>
public sealed class TempFileTests : IDisposable
{
    private readonly PrivateTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task SigkillOfTheFront_TheNextStartOnTheSamePortAndTempFolderServes_AndLeavesNoChannelFile()
    {
        int port = KwsgiProcess.FreePort();
        string[] args = ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "2", "hello:app"];
        await using (var first = await KwsgiProcess.StartAndWaitAsync(args, _temp.Environment(), port))
        {
            Assert.Equal("Hello, World!", await first.Client.GetStringAsync("/"));
            Assert.Empty(_temp.ChannelFiles());
            var workers = await first.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
            Assert.True(first.SendSignal(ProcInfo.SIGKILL));
            Assert.True(await first.WaitForExitAsync(TimeSpan.FromSeconds(10)));
            Assert.True(await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(10)));
        }
        Assert.Empty(_temp.ChannelFiles());

        await using var second = await KwsgiProcess.StartAndWaitAsync(args, _temp.Environment(), port);
        Assert.Equal("Hello, World!", await second.Client.GetStringAsync("/"));
        Assert.Empty(_temp.ChannelFiles());
    }

    [Fact]
    public async Task ChannelFilesOfADeadFront_AreSweptAtTheNextStart_OthersAreKept()
    {
        int deadPid = await DeadPidAsync();
        DateTime old = DateTime.UtcNow - TimeSpan.FromMinutes(10);
        // What a front killed while a worker was starting leaves: a bound socket's file, never unlinked.
        string stale = LeftoverSocket($"kwsgi-{deadPid}-{Guid.NewGuid():N}.sock", old);
        string stalePipe = LeftoverSocket($"kwsgi-{deadPid}-{Guid.NewGuid():N}.pipe", old);
        // Too young to judge (its front may live in a pid namespace this one cannot see).
        string young = LeftoverSocket($"kwsgi-{deadPid}-{Guid.NewGuid():N}.sock", DateTime.UtcNow);
        // Its front (this test process) is alive.
        string live = LeftoverSocket($"kwsgi-{Environment.ProcessId}-{Guid.NewGuid():N}.sock", old);
        // Not a channel name at all.
        string other = Path.Combine(_temp.Folder, "kwsgi-notes.sock");
        await File.WriteAllTextAsync(other, "not ours");
        File.SetLastWriteTimeUtc(other, old);

        await using var server = await _temp.StartAsync("hello:app", ["--workers", "1"]);
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));

        Assert.False(File.Exists(stale), "the stale socket of a dead front was left");
        Assert.False(File.Exists(stalePipe), "the stale pipe of a dead front was left");
        Assert.True(File.Exists(young), "a channel file younger than a minute was removed");
        Assert.True(File.Exists(live), "the channel file of a live process was removed");
        Assert.True(File.Exists(other), "a file that is not a channel name was removed");
    }

    [Fact]
    public async Task TempFolderThatDoesNotExist_IsOneLineAndExitCode2()
    {
        var environment = new Dictionary<string, string?> { ["TMPDIR"] = Path.Combine(_temp.Folder, "missing") };
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            // With a --tmp-dir that exists: the spool folder (the same temp folder) is checked first otherwise, with its own message.
            ["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "--tmp-dir", _temp.Folder, "hello:app"], TimeSpan.FromSeconds(60), environment);
        Assert.True(exit.ExitCode == 2, exit.ToString());
        string line = Assert.Single(exit.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith("kwsgi: cannot create a worker channel in the temp folder ", line);
        Assert.Contains("does not exist", line);
    }

    [Fact]
    public async Task SpoolFolderThatDoesNotExist_IsOneLineAndExitCode2()
    {
        string missing = Path.Combine(_temp.Folder, "missing");
        var environment = new Dictionary<string, string?> { ["TMPDIR"] = missing };
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            ["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"], TimeSpan.FromSeconds(60), environment);
        Assert.True(exit.ExitCode == 2, exit.ToString());
        string line = Assert.Single(exit.Stderr.TrimEnd('\n').Split('\n'));
        Assert.StartsWith($"kwsgi: cannot create spool files in {missing}", line);
    }

    [Fact]
    public async Task UnknownChannelTransport_IsOneLineAndExitCode2()
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            ["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"], TimeSpan.FromSeconds(60),
            _temp.Environment(("KWSGI_CHANNEL", "carrier-pigeon")));
        Assert.True(exit.ExitCode == 2, exit.ToString());
        string line = Assert.Single(exit.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Equal("kwsgi: KWSGI_CHANNEL must be 'socket', 'pipe' or 'shm', not 'carrier-pigeon'", line);
    }

    private string LeftoverSocket(string name, DateTime modified)
    {
        // Bound and closed by another process: .NET's Socket would unlink its file on Dispose, a killed front cannot.
        string path = Path.Combine(_temp.Folder, name);
        using (var python = Process.Start("python3", ["-c", "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])", path])!)
        {
            python.WaitForExit();
            Assert.Equal(0, python.ExitCode);
        }
        Assert.True(File.Exists(path), $"{path} was not created");
        File.SetLastWriteTimeUtc(path, modified);
        return path;
    }

    /// <summary>The pid of a process that has just ended.</summary>
    private static async Task<int> DeadPidAsync()
    {
        using var process = Process.Start("true")!;
        int pid = process.Id;
        await process.WaitForExitAsync();
        return pid;
    }
}

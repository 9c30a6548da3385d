using Kestrel.Wsgi.Tests.Infrastructure;
using Kestrel.Wsgi.Tests.Windows;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// --config kwsgi.toml and --print-config with the real kwsgi: the file serves an app, the command line and the
/// environment win over it, a mistake is one FILE:LINE line, and --print-config starts nothing (docs/configuration.md).
/// </summary>
public sealed class ConfigFileTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task ConfigFile_Serves_AndTheCommandLineWinsOverIt()
    {
        using var temp = new PrivateTemp();
        int port = KwsgiProcess.FreePort();
        string file = Path.Combine(temp.Folder, "kwsgi.toml");
        File.WriteAllText(file, $"""
            # the site
            app = "hello:app"
            listen = ["127.0.0.1:{port}"]
            chdir = "{TestPaths.AppsDir}"
            workers = 1
            threads = 3
            """);
        await using KwsgiProcess server = await KwsgiProcess.StartAndWaitAsync(["--config", file, "--threads", "2"], null, port);
        Assert.Contains("(1 workers x 2 threads, hello:app", server.Stdout);
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));
    }

    [Fact]
    public async Task ConfigFileMistake_IsOneLineNamingFileAndLine()
    {
        using var temp = new PrivateTemp();
        string file = Path.Combine(temp.Folder, "kwsgi.toml");
        File.WriteAllText(file, "app = \"hello:app\"\nworkerz = 2\n");
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(["--config", file], ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.Equal($"kwsgi: {file}:2: unknown key workerz (see kwsgi --help; keys are option names without dashes)", exit.Stderr.TrimEnd('\n'));
        File.WriteAllText(file, "app = \"hello:app\"\nworkers = [\n");
        exit = await KwsgiProcess.RunToExitAsync(["--config", file], ExitTimeout);
        BadCommandLineTests.AssertCleanFailure(exit);
        Assert.StartsWith($"kwsgi: {file}:", exit.Stderr);
    }

    [Fact]
    public async Task PrintConfig_ShowsEachSettingsSource_AndStartsNothing()
    {
        using var temp = new PrivateTemp();
        string file = Path.Combine(temp.Folder, "kwsgi.toml");
        File.WriteAllText(file, "workers = 3\nthreads = 5\n");
        var environment = new Dictionary<string, string?> { ["KWSGI_THREADS"] = "6", ["KWSGI_CONFIG"] = file };
        var started = DateTime.UtcNow;
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(["--print-config", "--max-queue", "9", "--chdir", TestPaths.AppsDir, "nosuchmodule:app"], ExitTimeout, environment);
        Assert.True(exit.ExitCode == 0, exit.ToString());
        Assert.Equal("", exit.Stderr);
        string[] lines = exit.Stdout.TrimEnd('\n').Split('\n');
        Assert.Contains("app = \"nosuchmodule:app\"  # command line", lines);
        Assert.Contains($"workers = 3  # file {file}:1", lines);
        Assert.Contains("threads = 6  # environment (KWSGI_THREADS)", lines);
        Assert.Contains("max_queue = 9  # command line", lines);
        Assert.Contains("# backlog = 2048  # default", lines);
        Assert.DoesNotContain(lines, l => l.Contains("Listening", StringComparison.Ordinal));
        // The app was never imported (nosuchmodule would have failed), and nothing listened.
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(20));
    }
}

using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>A worker that can no longer import the app is reported once and ends the server; a failing reload keeps the old workers.</summary>
public sealed class CrashLoopTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("kwsgi-crashloop-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string AppFile => Path.Combine(_folder, "editable.py");

    private async Task<KwsgiProcess> StartEditableAppAsync(params string[] extra)
    {
        File.Copy(Path.Combine(TestPaths.AppsDir, "lifecycle.py"), AppFile);
        int port = KwsgiProcess.FreePort();
        var args = new List<string> { "--host", "127.0.0.1", "--port", port.ToString(), "--chdir", _folder, "--workers", "2", "--threads", "2" };
        // Both workers have loaded the app before the test edits it.
        args.AddRange(["--ready-when", "all"]);
        args.AddRange(extra);
        args.Add("editable:app");
        return await KwsgiProcess.StartAndWaitAsync(args, new Dictionary<string, string?> { ["PYTHONDONTWRITEBYTECODE"] = "1" }, port);
    }

    private async Task BreakTheAppAsync() =>
        await File.WriteAllTextAsync(AppFile, "def app(environ, start_response:\n    pass\n");

    [Fact]
    public async Task RespawnedWorkerWithASyntaxError_IsReportedOnce_AndTheServerExitsNonZero()
    {
        await using var server = await StartEditableAppAsync();
        await BreakTheAppAsync();
        using (HttpResponseMessage crashed = await server.Client.GetAsync("/exit"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, crashed.StatusCode);
        }

        Assert.True(await server.WaitForExitAsync(TimeSpan.FromSeconds(60)), $"kwsgi keeps running with an app that no longer loads\n{server.Describe()}");
        await server.WaitForOutputEofAsync(TimeSpan.FromSeconds(5));
        Assert.True(server.ExitCode == 2, $"exit code {server.ExitCode}\n{server.Describe()}");
        string stderr = server.Stderr;
        Assert.True(stderr.Split("Traceback (most recent call last)").Length == 2, $"the traceback should appear exactly once\n{server.Describe()}");
        Assert.Contains("kwsgi: a restarted worker could not load the app", stderr);
        Assert.DoesNotContain("   at ", server.Output);
        Assert.DoesNotContain("Exception", server.Output);
        Assert.True(await ProcInfo.WaitUntilAsync(() => server.WorkerPids().Count == 0, TimeSpan.FromSeconds(5)), "workers outlived the front");
    }

    [Fact]
    public async Task ReloadWithASyntaxError_KeepsTheOldWorkersServing()
    {
        await using var server = await StartEditableAppAsync();
        var initial = await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10));
        await BreakTheAppAsync();
        Assert.True(server.SendSignal(1)); // SIGHUP
        Assert.True(await server.WaitForOutputAsync("Reload stopped", TimeSpan.FromSeconds(60)), server.Describe());

        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage response = await server.Client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Contains(int.Parse(await response.Content.ReadAsStringAsync()), initial);
        }
        Assert.Equal(initial, server.WorkerPids());
        Assert.Contains("SyntaxError", server.Stderr);
        Assert.False(server.HasExited);
    }
}

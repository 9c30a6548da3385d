using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>Every startup failure: exit code 2, one plain "kwsgi: …" line on stderr, never a .NET stack trace.</summary>
public sealed partial class BadCommandLineTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [GeneratedRegex(@"^\s+at \S+.*\)", RegexOptions.Multiline)]
    private static partial Regex DotnetFrameRegex();

    internal static void AssertCleanFailure(KwsgiExit exit)
    {
        Assert.True(exit.ExitCode == 2, $"expected exit code 2; {exit}");
        string[] lines = exit.Stderr.TrimEnd('\r', '\n').Split('\n');
        Assert.True(lines.Length == 1 && lines[0].Length > 0, $"expected exactly one line on stderr, got {lines.Length}; {exit}");
        Assert.StartsWith("kwsgi: ", lines[0]);
        Assert.True(lines[0].Length > "kwsgi: ".Length + 5, $"the message says nothing: {lines[0]}");
        Assert.DoesNotContain("   at ", exit.Stderr);
        Assert.DoesNotContain("Exception", exit.Stderr);
        Assert.False(DotnetFrameRegex().IsMatch(exit.Stdout), $"a .NET stack trace on stdout; {exit}");
        Assert.DoesNotContain("   at ", exit.Stdout);
        Assert.DoesNotContain("Exception", exit.Stdout);
    }

    private static string[] Expand(string args, int port) =>
        args.Replace("{apps}", TestPaths.AppsDir).Replace("{port}", port.ToString())
            .Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Theory]
    [InlineData("unknown module", "--host 127.0.0.1 --port {port} --chdir {apps} --workers 1 nosuchmodule_kwsgi_test:app", "nosuchmodule_kwsgi_test")]
    [InlineData("missing attribute", "--host 127.0.0.1 --port {port} --chdir {apps} --workers 1 hello:nosuchattr", "nosuchattr")]
    [InlineData("not callable", "--host 127.0.0.1 --port {port} --chdir {apps} --workers 1 factory:not_callable", "not_callable")]
    [InlineData("unknown option", "--frobnicate --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "frobnicate")]
    [InlineData("no APP", "--host 127.0.0.1 --port {port} --chdir {apps}", null)]
    [InlineData("port not a number", "--host 127.0.0.1 --port notaport --chdir {apps} hello:app", null)]
    [InlineData("workers not a number", "--host 127.0.0.1 --port {port} --workers many --chdir {apps} hello:app", null)]
    [InlineData("python missing", "--python /nonexistent/python3 --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "/nonexistent/python3")]
    [InlineData("chdir missing", "--host 127.0.0.1 --port {port} --chdir /nonexistent_kwsgi_dir hello:app", null)]
    [InlineData("negative timeout", "--timeout -1 --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "--timeout")]
    [InlineData("max-requests not a number", "--max-requests lots --host 127.0.0.1 --port {port} --chdir {apps} hello:app", null)]
    [InlineData("negative max-requests", "--max-requests -5 --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "--max-requests")]
    [InlineData("jitter without max-requests", "--max-requests-jitter 5 --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "--max-requests-jitter")]
    [InlineData("negative max-worker-memory", "--max-worker-memory -1 --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "--max-worker-memory")]
    [InlineData("reload-file is a folder", "--reload-file {apps} --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "--reload-file")]
    [InlineData("heartbeat-timeout too short", "--heartbeat-timeout 0.5 --host 127.0.0.1 --port {port} --chdir {apps} hello:app", "--heartbeat-timeout")]
    public async Task BadInput_ExitsWithCode2_AndOneLineOnStderr(string what, string args, string? mentioned)
    {
        _ = what;
        var exit = await KwsgiProcess.RunToExitAsync(Expand(args, KwsgiProcess.FreePort()), ExitTimeout);
        AssertCleanFailure(exit);
        if (mentioned is not null)
        {
            Assert.Contains(mentioned, exit.Stderr);
        }
    }

    [Fact]
    public async Task PortInUse_ExitsWithCode2_AndOneLineOnStderr()
    {
        var occupier = new TcpListener(IPAddress.Loopback, 0);
        occupier.Start();
        try
        {
            int port = ((IPEndPoint)occupier.LocalEndpoint).Port;
            var exit = await KwsgiProcess.RunToExitAsync(
                ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "hello:app"], ExitTimeout);
            AssertCleanFailure(exit);
            Assert.Contains(port.ToString(), exit.Stderr);
        }
        finally
        {
            occupier.Stop();
        }
    }

    [Fact]
    public async Task BadApp_LeavesNoWorkerProcessBehind()
    {
        await using var p = KwsgiProcess.Launch(
            ["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--workers", "2", "hello:nosuchattr"]);
        var workers = new HashSet<int>();
        var deadline = DateTime.UtcNow + ExitTimeout;
        while (!p.HasExited && DateTime.UtcNow < deadline)
        {
            workers.UnionWith(p.WorkerPids());
            await Task.Delay(20);
        }
        Assert.True(p.HasExited, "kwsgi did not exit");
        Assert.Equal(2, p.ExitCode);
        bool gone = await ProcInfo.WaitUntilAsync(() => workers.All(w => !ProcInfo.IsAlive(w)), TimeSpan.FromSeconds(3));
        Assert.True(gone, $"workers still alive after kwsgi exited: {string.Join(",", workers.Where(ProcInfo.IsAlive))}");
    }
}

using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>
/// kwsgi started as HttpPlatformHandler starts it: HTTP_PLATFORM_PORT in the environment, no port or host
/// argument, the site folder (here tests/apps) as working directory, and requests that arrive from 127.0.0.1 with
/// the handler's X-Forwarded-For (<c>ip:port</c>, <c>[v6]:port</c>) and X-Forwarded-Proto.
/// (SIGKILL of the front taking its workers down is ShutdownTests.Sigkill_OfFront_TakesWorkersDownWithin3Seconds.)
/// </summary>
public sealed class HttpPlatformHostingTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    internal static async Task<KwsgiProcess> StartAsync(string app, string[]? extraArgs = null, Dictionary<string, string?>? environment = null)
    {
        int port = KwsgiProcess.FreePort();
        var env = new Dictionary<string, string?>(environment ?? []) { ["HTTP_PLATFORM_PORT"] = port.ToString() };
        return await KwsgiProcess.StartAndWaitAsync([.. extraArgs ?? [], "--workers", "1", app], env, expectedPort: port);
    }

    internal static async Task<JsonElement> EnvironAsync(KwsgiProcess server, string path, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        foreach (var (name, value) in headers)
        {
            Assert.True(request.Headers.TryAddWithoutValidation(name, value));
        }
        using var response = await server.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}\n{server.Describe()}");
        return await Json.ReadAsync(response);
    }

    [Fact]
    public async Task ForwardedIpAndPort_AndProto_BecomeRemoteAddrPortAndUrlScheme()
    {
        await using var server = await StartAsync("envecho:app");
        var environ = await EnvironAsync(server, "/", ("X-Forwarded-For", "1.2.3.4:5678"), ("X-Forwarded-Proto", "https"));
        Assert.Equal("1.2.3.4", environ.Str("REMOTE_ADDR"));
        Assert.Equal("5678", environ.Str("REMOTE_PORT"));
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
        Assert.Equal("on", environ.Str("HTTPS"));
        // The headers themselves reach the app as sent (PEP 3333 HTTP_ variables), not rewritten.
        Assert.Equal("1.2.3.4:5678", environ.Str("HTTP_X_FORWARDED_FOR"));
        Assert.Equal("https", environ.Str("HTTP_X_FORWARDED_PROTO"));
        Assert.False(environ.TryGetProperty("HTTP_X_ORIGINAL_FOR", out _), "X-Original-For leaked into the environ");
    }

    [Fact]
    public async Task ForwardedBracketedIpv6AndPort_BecomesRemoteAddrWithoutBrackets()
    {
        await using var server = await StartAsync("envecho:app");
        var environ = await EnvironAsync(server, "/", ("X-Forwarded-For", "[2001:db8::1]:443"), ("X-Forwarded-Proto", "https"));
        Assert.Equal("2001:db8::1", environ.Str("REMOTE_ADDR"));
        Assert.Equal("443", environ.Str("REMOTE_PORT"));
        Assert.Equal("https", environ.Str("wsgi.url_scheme"));
    }

    [Fact]
    public async Task ForwardedChain_RightmostValueIsTheClient_AndAnAddressWithoutPortKeepsThePeersPort()
    {
        await using var server = await StartAsync("envecho:app");
        await using var connection = await RawHttpConnection.ConnectAsync(server.Port);
        var response = await connection.RequestAsync(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 9.9.9.9, 5.6.7.8\r\n\r\n");
        Assert.Equal(200, response.Status);
        var environ = Json.Parse(response.Body);
        Assert.Equal("5.6.7.8", environ.Str("REMOTE_ADDR"));
        Assert.Equal(connection.LocalPort.ToString(), environ.Str("REMOTE_PORT"));
        Assert.Equal("http", environ.Str("wsgi.url_scheme"));
        Assert.False(environ.TryGetProperty("HTTPS", out _), "HTTPS set for a plain http request");
    }

    [Fact]
    public async Task StartupLog_SaysLoopbackIsTrustedBecauseOfHttpPlatformHandler()
    {
        await using var server = await StartAsync("hello:app");
        string line = server.Stdout.Split('\n').Single(l => l.StartsWith("kwsgi: Trusting", StringComparison.Ordinal));
        Assert.Contains("X-Forwarded-For, X-Forwarded-Proto from 127.0.0.1, ::1", line);
        Assert.Contains("HttpPlatformHandler", line);
        Assert.Contains("--trusted-proxy", line);
        // The trust line comes before readiness: a log reader sees it with the rest of the start-up.
        Assert.True(server.Stdout.IndexOf("kwsgi: Trusting", StringComparison.Ordinal) < server.Stdout.IndexOf("Listening on", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ExplicitTrustedProxy_ReplacesTheLoopbackDefault_SoLoopbackHeadersAreIgnoredButVisible()
    {
        await using var server = await StartAsync("envecho:app", ["--trusted-proxy", "10.0.0.1"]);
        var environ = await EnvironAsync(server, "/", ("X-Forwarded-For", "1.2.3.4:5678"), ("X-Forwarded-Proto", "https"));
        Assert.Equal("127.0.0.1", environ.Str("REMOTE_ADDR"));
        Assert.Equal("http", environ.Str("wsgi.url_scheme"));
        Assert.False(environ.TryGetProperty("HTTPS", out _), "HTTPS set from an untrusted peer's X-Forwarded-Proto");
        Assert.Equal("1.2.3.4:5678", environ.Str("HTTP_X_FORWARDED_FOR"));
        Assert.Equal("https", environ.Str("HTTP_X_FORWARDED_PROTO"));
        Assert.Contains("from 10.0.0.1 (--trusted-proxy)", server.Stdout);
    }

    [Fact]
    public async Task StdoutToAFile_LinesArrivePromptly_WithoutColourCodes()
    {
        // HttpPlatformHandler hands kwsgi a file as stdout and stderr (stdoutLogFile). The variable below makes
        // .NET's default console colours go to redirected output too; kwsgi must still write plain lines.
        string log = Path.Combine(Path.GetTempPath(), $"kwsgi-stdout-{Guid.NewGuid():N}.log");
        int port = KwsgiProcess.FreePort();
        var psi = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = TestPaths.AppsDir };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$@\" >\"$KWSGI_TEST_LOG\" 2>&1");
        psi.ArgumentList.Add("sh");
        if (TestPaths.Apphost is { } apphost)
        {
            psi.ArgumentList.Add(apphost);
        }
        else
        {
            psi.ArgumentList.Add("dotnet");
            psi.ArgumentList.Add(TestPaths.KwsgiDll);
        }
        foreach (string a in new[] { "--workers", "1", "raises:app" })
        {
            psi.ArgumentList.Add(a);
        }
        psi.Environment["KWSGI_TEST_LOG"] = log;
        psi.Environment["HTTP_PLATFORM_PORT"] = port.ToString();
        psi.Environment["DOTNET_SYSTEM_CONSOLE_ALLOW_ANSI_COLOR_REDIRECTION"] = "1";
        psi.Environment.Remove("ASPNETCORE_PORT");
        psi.Environment.Remove("ASPNETCORE_TOKEN");
        using var process = Process.Start(psi)!;
        var workers = new List<int>();
        try
        {
            string Log() => File.Exists(log) ? ReadShared(log) : "";
            Assert.True(await ProcInfo.WaitUntilAsync(() => Log().Contains("Listening on"), TimeSpan.FromSeconds(30)),
                $"no 'Listening on' in the log file while kwsgi runs:\n{Log()}");
            workers.AddRange(ProcInfo.Children(process.Id));
            Assert.Contains("Worker ", Log()); // the supervisor's logger, not only Console.WriteLine

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
            using var response = await client.GetAsync("/before");
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            // The app's traceback, written by the worker's Python, reaches the file while kwsgi is still running.
            Assert.True(await ProcInfo.WaitUntilAsync(() => Log().Contains("Traceback"), TimeSpan.FromSeconds(15)),
                $"the traceback did not reach the log file while kwsgi runs:\n{Log()}");

            string text = Log();
            Assert.DoesNotContain('\u001b', text);
            Assert.All(text.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.DoesNotContain('\r', line));
        }
        finally
        {
            ProcInfo.Signal(process.Id, ProcInfo.SIGTERM);
            if (!process.WaitForExit(TimeSpan.FromSeconds(15)))
            {
                process.Kill(entireProcessTree: true);
            }
            foreach (int pid in workers.Where(ProcInfo.IsAlive))
            {
                ProcInfo.Signal(pid, ProcInfo.SIGKILL);
            }
            File.Delete(log);
        }
    }

    [Fact]
    public async Task PortAcceptsConnectionsOnlyOnceEveryWorkerHasImportedTheApp()
    {
        string markers = Directory.CreateTempSubdirectory("kwsgi-import-").FullName;
        int port = KwsgiProcess.FreePort();
        try
        {
            await using var server = KwsgiProcess.Launch(["--workers", "2", "slowimport:app"],
                new Dictionary<string, string?> { ["HTTP_PLATFORM_PORT"] = port.ToString(), ["IMPORT_SECONDS"] = "2", ["IMPORT_MARKERS"] = markers });
            // Poll the port as HttpPlatformHandler does; the first connection that gets through must find both
            // workers loaded (each leaves a marker when its import ends).
            int refused = 0;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (true)
            {
                Assert.True(DateTime.UtcNow < deadline, $"port {port} never accepted a connection\n{server.Describe()}");
                Assert.False(server.HasExited, $"kwsgi exited\n{server.Describe()}");
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    await probe.ConnectAsync(IPAddress.Loopback, port);
                }
                catch (SocketException)
                {
                    refused++;
                    await Task.Delay(20);
                    continue;
                }
                int loaded = Directory.GetFiles(markers).Length;
                Assert.True(loaded == 2, $"the port accepted a connection when {loaded} of 2 workers had imported the app\n{server.Describe()}");
                break;
            }
            Assert.True(refused > 0, "the port was never refused: the test did not watch the start-up");
            await server.WaitForReadyAsync(KwsgiProcess.ReadyTimeout);
            using var response = await server.Client.GetAsync("/");
            Assert.Equal("imported", await response.Content.ReadAsStringAsync());
        }
        finally
        {
            Directory.Delete(markers, recursive: true);
        }
    }

    [Fact]
    public async Task AppThatFailsToImport_OneLineOnStdout_ExitCode2_PortNeverBound()
    {
        int port = KwsgiProcess.FreePort();
        await using var server = KwsgiProcess.Launch(["--workers", "2", "importfails:app"],
            new Dictionary<string, string?> { ["HTTP_PLATFORM_PORT"] = port.ToString() });
        bool everAccepted = false;
        var deadline = DateTime.UtcNow + ExitTimeout;
        while (!server.HasExited)
        {
            Assert.True(DateTime.UtcNow < deadline, $"kwsgi still running {ExitTimeout.TotalSeconds:0} s after a failing import\n{server.Describe()}");
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port);
                everAccepted = true;
            }
            catch (SocketException)
            {
            }
            await Task.Delay(20);
        }
        await server.WaitForOutputEofAsync(TimeSpan.FromSeconds(5));
        Assert.False(everAccepted, $"port {port} accepted a connection although the app never loaded\n{server.Describe()}");
        Assert.True(server.ExitCode == 2, $"exit code {server.ExitCode}\n{server.Describe()}");

        // The traceback first, then one sentence: the last line of stdout (stdoutLogFile) says what failed.
        string[] lines = server.Stdout.TrimEnd('\n').Split('\n');
        string last = lines[^1];
        Assert.StartsWith("kwsgi: ", last);
        Assert.Contains("importfails", last);
        Assert.Contains("kwsgi_tests_no_such_dependency", server.Stdout);
        Assert.Equal(1, lines.Count(l => l.StartsWith("kwsgi: ", StringComparison.Ordinal)));
        Assert.DoesNotContain("   at ", server.Output);
        Assert.DoesNotContain("Listening on", server.Output);
        Assert.True(server.Stderr.Trim().Length == 0, $"under IIS the failure goes to stdout only\n{server.Describe()}");
    }

    [Fact]
    public async Task TwoInstancesStartedAtOnceInTheSameFolder_AreIndependent()
    {
        // processesPerApplication="2": the handler starts two processes at once, same folder, two ports.
        int portA = KwsgiProcess.FreePort();
        int portB = KwsgiProcess.FreePort();
        while (portB == portA)
        {
            portB = KwsgiProcess.FreePort();
        }
        var startA = KwsgiProcess.StartAndWaitAsync(["--workers", "1", "crash:app"], new Dictionary<string, string?> { ["HTTP_PLATFORM_PORT"] = portA.ToString() }, portA);
        var startB = KwsgiProcess.StartAndWaitAsync(["--workers", "1", "crash:app"], new Dictionary<string, string?> { ["HTTP_PLATFORM_PORT"] = portB.ToString() }, portB);
        await using var a = await startA;
        await using var b = await startB;

        int workerA = int.Parse(await a.Client.GetStringAsync("/pid"));
        int workerB = int.Parse(await b.Client.GetStringAsync("/pid"));
        Assert.NotEqual(workerA, workerB);
        Assert.Contains(workerA, a.WorkerPids());
        Assert.Contains(workerB, b.WorkerPids());

        // Stopping one leaves the other serving.
        Assert.True(a.SendSignal(ProcInfo.SIGTERM));
        Assert.True(await a.WaitForExitAsync(TimeSpan.FromSeconds(15)), $"first instance did not stop\n{a.Describe()}");
        Assert.Equal(0, a.ExitCode);
        using var response = await b.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Equal(workerB, int.Parse(await b.Client.GetStringAsync("/pid")));
    }

    private static string ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}

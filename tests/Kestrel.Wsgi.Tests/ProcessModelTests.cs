using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>The front/worker split as the operating system sees it, dispatch limits, and how the Python is found.</summary>
public sealed class ProcessModelTests
{
    [Fact]
    public async Task FrontNeverLoadsCPython_WorkersDo()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1");
        Assert.Equal("Hello, World!", await server.Client.GetStringAsync("/"));

        string frontMaps = ProcInfo.Maps(server.Pid);
        Assert.Contains("Kestrel.Wsgi.dll", frontMaps); // the map is real and readable
        Assert.DoesNotContain("libpython", frontMaps);
        Assert.DoesNotContain("Python.Runtime.dll", frontMaps);

        int worker = Assert.Single(await server.WaitForWorkersAsync(1, TimeSpan.FromSeconds(10)));
        string workerMaps = ProcInfo.Maps(worker);
        Assert.Contains("libpython3", workerMaps);
        Assert.Contains("Python.Runtime.dll", workerMaps);
        Assert.DoesNotContain("Microsoft.AspNetCore.Server.Kestrel", workerMaps);
    }

    [Fact]
    public async Task FullQueue_Answers503WithRetryAfter_ThenRecovers()
    {
        // One worker thread, no pipeline and room for one waiter: the third concurrent request has nowhere to go.
        await using var server = await KwsgiProcess.StartAsync("slow:app", "--workers", "1", "--threads", "1", "--pipeline", "0", "--max-queue", "1");
        Task<HttpResponseMessage> running = server.Client.GetAsync("/?s=1.5");
        await Task.Delay(300);
        Task<HttpResponseMessage> queued = server.Client.GetAsync("/?s=0");
        await Task.Delay(300);

        using HttpResponseMessage refused = await server.Client.GetAsync("/?s=0");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());

        using HttpResponseMessage first = await running;
        using HttpResponseMessage second = await queued;
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("slept", await server.Client.GetStringAsync("/?s=0"));
    }

    [Fact]
    public async Task Pipeline_QueuesInTheWorker_BeforeTheFrontQueue()
    {
        // One thread, a pipeline of one and no front queue: two requests fit, the third is refused. Both held
        // requests sleep, so which of them runs first does not matter, and the refusal cannot race their end.
        await using var server = await KwsgiProcess.StartAsync("slow:app", "--workers", "1", "--threads", "1", "--pipeline", "1", "--max-queue", "0");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        Task<HttpResponseMessage> one = server.Client.GetAsync("/?s=2");
        Task<HttpResponseMessage> two = server.Client.GetAsync("/?s=2");
        await Task.Delay(1000);
        using HttpResponseMessage refused = await server.Client.GetAsync("/?s=0");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        using HttpResponseMessage first = await one;
        using HttpResponseMessage second = await two;
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        // The pipelined request waited in the worker for the one thread: the two ran one after the other.
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(3.9), $"both answered after {clock.Elapsed.TotalSeconds:0.0} s: they ran at once");
    }

    [Fact]
    public async Task LeastLoadedDispatch_FastRequestsPassASlowOne()
    {
        // Two workers of one thread each: while one sleeps, the others' requests all go to the idle one.
        await using var server = await KwsgiProcess.StartAsync("slow:app", "--workers", "2", "--threads", "1");
        Task<HttpResponseMessage> slow = server.Client.GetAsync("/?s=3");
        await Task.Delay(300);
        var started = DateTime.UtcNow;
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal("slept", await server.Client.GetStringAsync("/?s=0"));
        }
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(2), "fast requests waited behind the slow one");
        Assert.False(slow.IsCompleted);
        using HttpResponseMessage slowResponse = await slow;
        Assert.Equal(HttpStatusCode.OK, slowResponse.StatusCode);
    }

    [Fact]
    public async Task VirtualenvFolder_ItsSitePackagesAreSeen_ByOptionAndByVIRTUAL_ENV()
    {
        string venv = Path.Combine(Path.GetTempPath(), $"kwsgi-venv-{Guid.NewGuid():N}");
        try
        {
            var create = System.Diagnostics.Process.Start("python3", ["-m", "venv", "--without-pip", venv])!;
            await create.WaitForExitAsync();
            Assert.Equal(0, create.ExitCode);
            string sitePackages = Directory.GetDirectories(Path.Combine(venv, "lib")).Single();
            string site = Path.Combine(sitePackages, "site-packages");
            await File.WriteAllTextAsync(Path.Combine(site, "only_in_venv.py"),
                "import sys\ndef app(environ, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [sys.prefix.encode()]\n");

            await using (var byOption = await KwsgiProcess.StartAsync("only_in_venv:app", "--workers", "1", "--python", venv))
            {
                Assert.Equal(venv, await byOption.Client.GetStringAsync("/"));
            }

            int port = KwsgiProcess.FreePort();
            var environment = new Dictionary<string, string?> { ["VIRTUAL_ENV"] = venv };
            await using var byEnvironment = await KwsgiProcess.StartAndWaitAsync(
                ["--host", "127.0.0.1", "--port", port.ToString(), "--workers", "1", "only_in_venv:app"], environment, port);
            Assert.Equal(venv, await byEnvironment.Client.GetStringAsync("/"));
        }
        finally
        {
            Directory.Delete(venv, recursive: true);
        }
    }

    [Fact]
    public async Task PythonWithoutSharedLibrary_IsRefusedInOneLine()
    {
        // A stand-in interpreter that answers the probe as a static-only build (python -c '…' → JSON).
        string fake = Path.Combine(Path.GetTempPath(), $"kwsgi-static-python-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(fake,
            "#!/bin/sh\necho '{\"executable\": \"/opt/static/bin/python3\", \"version\": \"3.11.9\", \"library\": \"\", \"shared\": false, \"home\": \"/opt/static\", \"path\": []}'\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        try
        {
            KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
                ["--port", KwsgiProcess.FreePort().ToString(), "--python", fake, "hello:app"], TimeSpan.FromSeconds(30));
            Assert.Equal(2, exit.ExitCode);
            string line = Assert.Single(exit.Stderr.TrimEnd('\n').Split('\n'));
            Assert.StartsWith("kwsgi: ", line);
            Assert.Contains("shared libpython", line);
        }
        finally
        {
            File.Delete(fake);
        }
    }
}

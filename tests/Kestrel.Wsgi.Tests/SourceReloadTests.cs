using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// --reload end to end: a real kwsgi serving an app from a temp folder, whose files the test edits as a developer
/// would; the next requests see the new code, a burst of saves is one reload, a broken edit keeps the old code
/// serving, and only watched files count.
/// </summary>
public sealed class SourceReloadTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly string _folder = Directory.CreateTempSubdirectory("kwsgi-reload-src-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>The app answers its version and its helper module's, e.g. "v1/h1".</summary>
    private static string AppSource(string version) => $$"""
        from helpers import text

        VERSION = "{{version}}"


        def app(environ, start_response):
            body = (VERSION + "/" + text.NAME).encode()
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]

        """;

    /// <summary>Saves as most editors do: a new file renamed over the old one, so a reader never sees half of it.</summary>
    private void Save(string path, string text)
    {
        string full = Path.Combine(_folder, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full + ".kwsgi-save", text);
        File.Move(full + ".kwsgi-save", full, overwrite: true);
    }

    private async Task<KwsgiProcess> StartAsync(string version, IDictionary<string, string?>? environment = null, params string[] extra)
    {
        Save("app.py", AppSource(version));
        Save("helpers/__init__.py", "");
        Save("helpers/text.py", "NAME = \"h1\"\n");
        int port = KwsgiProcess.FreePort();
        string[] args = ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", _folder, .. extra, "app:app"];
        return await KwsgiProcess.StartAndWaitAsync(args, environment, port);
    }

    private static async Task<bool> ServesAsync(KwsgiProcess server, string body) =>
        await Poll.UntilAsync(async () =>
        {
            using HttpResponseMessage response = await server.Client.GetAsync("/");
            return response.StatusCode == HttpStatusCode.OK && await response.Content.ReadAsStringAsync() == body;
        }, Deadline, pollMs: 20);

    private static int Count(string text, string what)
    {
        int count = 0;
        for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + 1, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    private static int Reloads(KwsgiProcess server) => Count(server.Stdout, "Reloading: ");

    private static Task<bool> ReloadsDoneAsync(KwsgiProcess server, int count) =>
        ProcInfo.WaitUntilAsync(() => Count(server.Stdout, "Reload done") >= count, Deadline);

    [Fact]
    public async Task EditingTheAppOrAModuleInASubfolder_ServesTheNewCode()
    {
        await using var server = await StartAsync("v1", extra: ["--workers", "1", "--reload"]);
        Assert.Contains($"Reloading when '*.py' under ", server.Stdout);
        Assert.Contains("change (file events); 3 files watched", server.Stdout);
        Assert.True(await ServesAsync(server, "v1/h1"), server.Describe());

        Save("app.py", AppSource("v2"));
        Assert.True(await ServesAsync(server, "v2/h1"), $"the edit of app.py was not served\n{server.Describe()}");
        Assert.True(await server.WaitForOutputAsync("Reloading: app.py changed", Deadline), server.Describe());

        Save("helpers/text.py", "NAME = \"h2\"\n");
        Assert.True(await ServesAsync(server, "v2/h2"), $"the edit of helpers/text.py was not served\n{server.Describe()}");
        Assert.True(await server.WaitForOutputAsync("Reloading: helpers/text.py changed", Deadline), server.Describe());
    }

    [Fact]
    public async Task CreatingAndDeletingAModule_Reload()
    {
        await using var server = await StartAsync("v1", extra: ["--workers", "1", "--reload"]);
        Save("helpers/extra.py", "X = 1\n");
        Assert.True(await server.WaitForOutputAsync("Reloading: helpers/extra.py changed", Deadline), server.Describe());
        Assert.True(await ReloadsDoneAsync(server, 1), server.Describe());
        File.Delete(Path.Combine(_folder, "helpers/extra.py"));
        Assert.True(await ReloadsDoneAsync(server, 2), $"deleting a module did not reload\n{server.Describe()}");
        Assert.Equal(2, Count(server.Stdout, "Reloading: helpers/extra.py changed"));
    }

    [Fact]
    public async Task PollEngine_SeesTheEditToo()
    {
        await using var server = await StartAsync("v1", extra: ["--workers", "1", "--reload", "--reload-engine", "poll"]);
        Assert.Contains("(looked for every 1 s)", server.Stdout);
        Save("app.py", AppSource("v2"));
        Assert.True(await ServesAsync(server, "v2/h1"), server.Describe());
    }

    [Fact]
    public async Task ABurstOfFiveSaves_IsOneReload_FromTheEnvironmentVariable()
    {
        var environment = new Dictionary<string, string?> { ["KWSGI_RELOAD"] = "true" };
        await using var server = await StartAsync("v1", environment, "--workers", "1");
        Assert.True(await ServesAsync(server, "v1/h1"), server.Describe());

        // An editor's "save all" or a checkout: five saves, one right after another, well within the 300 ms quiet period.
        for (int i = 2; i <= 6; i++)
        {
            Save(i % 2 == 0 ? "app.py" : "helpers/text.py", i % 2 == 0 ? AppSource($"v{i}") : $"NAME = \"h{i}\"\n");
        }
        Assert.True(await ServesAsync(server, "v6/h5"), server.Describe());
        Assert.True(await ReloadsDoneAsync(server, 1), server.Describe());

        // A later save is the second reload; had the burst been more than one, it would be the third or later.
        Save("app.py", AppSource("v7"));
        Assert.True(await ServesAsync(server, "v7/h5"), server.Describe());
        Assert.True(await ReloadsDoneAsync(server, 2), server.Describe());
        Assert.True(Reloads(server) == 2, $"expected 2 reloads\n{server.Describe()}");
        Assert.Contains("Reloading: app.py and 1 more file changed", server.Stdout);
    }

    [Fact]
    public async Task ASyntaxError_KeepsTheOldCodeServing_EveryWorker_ThenTheFixIsServed()
    {
        await using var server = await StartAsync("v1", extra: ["--workers", "2", "--threads", "2", "--ready-when", "all", "--reload"]);
        List<int> generation = await server.WaitForWorkersAsync(2, Deadline);
        await using var load = new SteadyLoad(server, clients: 4);
        Assert.True(await load.WaitForSuccessesAsync(20, Deadline), server.Describe());

        Save("app.py", AppSource("v2").Replace("def app(environ, start_response):", "def app(environ, start_response)", StringComparison.Ordinal));
        Assert.True(await server.WaitForOutputAsync("Reload stopped", Deadline), $"the broken edit was not tried\n{server.Describe()}");
        // Requests go on being answered by the old code while the file is broken.
        long served = load.Succeeded;
        Assert.True(await load.WaitForSuccessesAsync(served + 50, Deadline), "requests stopped while the app was broken");
        using (HttpResponseMessage response = await server.Client.GetAsync("/"))
        {
            Assert.Equal("v1/h1", await response.Content.ReadAsStringAsync());
        }
        // The workers that answer are the ones from before (the failed one exits by itself).
        List<int> alive = [];
        Assert.True(await ProcInfo.WaitUntilAsync(() => (alive = server.WorkerPids()).Order().SequenceEqual(generation.Order()), Deadline),
            $"workers {string.Join(",", alive)}, before {string.Join(",", generation)}\n{server.Describe()}");
        // The traceback is in the log, once: the first new worker failed, so the second was not tried.
        // Printed as Python prints it, without the import machinery's frames.
        Assert.True(Count(server.Output, "app.py\", line 6\n") == 1, $"expected the traceback once\n{server.Describe()}");
        Assert.Contains("SyntaxError: expected ':'", server.Stderr);
        Assert.DoesNotContain("<frozen importlib", server.Output);

        Save("app.py", AppSource("v3"));
        Assert.True(await ServesAsync(server, "v3/h1"), $"the fix was not served\n{server.Describe()}");
        Assert.True(await ReloadsDoneAsync(server, 1), server.Describe());
        // Every worker was replaced, and the old ones left once they had finished their requests.
        List<int> now = [];
        Assert.True(await ProcInfo.WaitUntilAsync(() => (now = server.WorkerPids()).Count == 2 && !now.Intersect(generation).Any(), Deadline),
            $"workers {string.Join(",", now)}, before {string.Join(",", generation)}\n{server.Describe()}");
        served = load.Succeeded;
        Assert.True(await load.WaitForSuccessesAsync(served + 20, Deadline));
        await load.StopAsync();
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} failed requests: {string.Join("; ", load.Failures.Take(5))}\n{server.Describe()}");
    }

    [Fact]
    public async Task ReloadInclude_WatchesHtml_NotTxt_NorCachesOrVirtualenvs()
    {
        Directory.CreateDirectory(Path.Combine(_folder, "env"));
        File.WriteAllText(Path.Combine(_folder, "env", "pyvenv.cfg"), "home = /usr/bin\n");
        await using var server = await StartAsync("v1", extra: ["--workers", "1", "--reload", "--reload-include", "*.html"]);
        Assert.Contains("'*.py', '*.html'", server.Stdout);

        Save("templates/page.html", "<p>one</p>");
        Assert.True(await server.WaitForOutputAsync("Reloading: templates/page.html changed", Deadline), server.Describe());
        Assert.True(await ReloadsDoneAsync(server, 1), server.Describe());

        // None of these reload. Each would have been a reload of its own before the sentinel below: the watcher
        // looks 300 ms after the last change, and these are a second older than the sentinel.
        Save("notes.txt", "not watched");
        Save("__pycache__/stale.py", "x = 1\n");
        Save("helpers/__pycache__/text.cpython-311.pyc", "bytecode");
        Save(".venv/lib/site.py", "x = 1\n");
        Save("env/lib/site.py", "x = 1\n");
        Save("node_modules/pkg/index.html", "<p>dependency</p>");
        await Task.Delay(TimeSpan.FromSeconds(1));

        Save("templates/page.html", "<p>two</p>");
        Assert.True(await ReloadsDoneAsync(server, 2), server.Describe());
        Assert.True(Reloads(server) == 2, $"expected 2 reloads, both for page.html\n{server.Describe()}");
        Assert.Equal(2, Count(server.Stdout, "Reloading: templates/page.html changed"));
    }

    [Fact]
    public async Task ABrokenAppAtTheFirstStart_FailsStartup_AsWithoutReload()
    {
        Save("app.py", "def app(environ, start_response)\n");
        string[] args = ["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", _folder, "--workers", "1", "--reload", "app:app"];
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(args, Deadline);
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("SyntaxError", exit.Stderr);
        Assert.Single(exit.Stderr.Split('\n'), line => line.StartsWith("kwsgi: ", StringComparison.Ordinal));
        Assert.DoesNotContain("   at ", exit.Stderr); // no .NET stack trace
    }

    [Theory]
    [InlineData(new[] { "--reload-include", "*.html" }, "--reload-include means nothing without --reload")]
    [InlineData(new[] { "--reload-engine", "poll" }, "--reload-engine means nothing without --reload")]
    [InlineData(new[] { "--reload", "--reload-engine", "watchman" }, "--reload-engine watchman must be auto or poll")]
    [InlineData(new[] { "--reload", "--reload-include", "../*.py" }, "--reload-include '../*.py' must be relative to the app's folder, inside it")]
    public async Task BadDevelopmentOptions_AreOneLine_AndExit2(string[] options, string message)
    {
        Save("app.py", AppSource("v1"));
        string[] args = ["--host", "127.0.0.1", "--port", KwsgiProcess.FreePort().ToString(), "--chdir", _folder, .. options, "app:app"];
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(args, Deadline);
        Assert.Equal(2, exit.ExitCode);
        Assert.Equal($"kwsgi: {message}", exit.Stderr.Trim());
    }
}

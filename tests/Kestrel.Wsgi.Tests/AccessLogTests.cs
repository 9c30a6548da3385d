using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>--access-log: Apache combined by default, gunicorn atoms, json; off unless asked for.</summary>
public sealed partial class AccessLogTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("kwsgi-access-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    // host ident user [time] "request" status bytes "referer" "agent"
    [GeneratedRegex("""^(?<h>\S+) (?<l>\S+) (?<u>\S+) \[(?<t>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4})\] "(?<r>(?:[^"\\]|\\.)*)" (?<s>\d{3}) (?<b>\d+|-) "(?<f>(?:[^"\\]|\\.)*)" "(?<a>(?:[^"\\]|\\.)*)"$""")]
    private static partial Regex CombinedLine();

    private static async Task<string[]> WaitForLinesAsync(string path, int count)
    {
        string[] lines = [];
        await ProcInfo.WaitUntilAsync(() => (lines = File.Exists(path) ? File.ReadAllLines(path) : []).Length >= count, TimeSpan.FromSeconds(10));
        return lines;
    }

    [Fact]
    public async Task Combined_IsTheDefault_AndEscapesWhatTheClientSent()
    {
        string log = Path.Combine(_folder, "access.log");
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--access-log", log);
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/some/path?x=1&y=%22"))
        {
            request.Headers.TryAddWithoutValidation("User-Agent", "agent \"quoted\" \\ back");
            request.Headers.TryAddWithoutValidation("Referer", "http://example.test/from");
            request.Headers.Authorization = new("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes("alice:secret")));
            using HttpResponseMessage response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (HttpResponseMessage head = await server.Client.SendAsync(new HttpRequestMessage(HttpMethod.Head, "/")))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        }

        string[] lines = await WaitForLinesAsync(log, 2);
        Assert.True(lines.Length == 2, $"expected 2 lines, got:\n{string.Join('\n', lines)}\n{server.Describe()}");
        Match first = CombinedLine().Match(lines[0]);
        Assert.True(first.Success, $"not Apache combined: {lines[0]}");
        Assert.Equal("127.0.0.1", first.Groups["h"].Value);
        Assert.Equal("-", first.Groups["l"].Value);
        Assert.Equal("alice", first.Groups["u"].Value);
        Assert.Equal("GET /some/path?x=1&y=%22 HTTP/1.1", first.Groups["r"].Value);
        Assert.Equal("200", first.Groups["s"].Value);
        Assert.Equal("13", first.Groups["b"].Value); // "Hello, World!"
        Assert.Equal("http://example.test/from", first.Groups["f"].Value);
        Assert.Equal("agent \\\"quoted\\\" \\\\ back", first.Groups["a"].Value);
        DateTime when = DateTime.ParseExact(first.Groups["t"].Value, "dd/MMM/yyyy:HH:mm:ss zzz", System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Math.Abs((DateTime.Now - when).TotalMinutes) < 5, $"time {first.Groups["t"].Value}");

        Match second = CombinedLine().Match(lines[1]);
        Assert.True(second.Success, $"not Apache combined: {lines[1]}");
        Assert.Equal("HEAD / HTTP/1.1", second.Groups["r"].Value);
        Assert.Equal("-", second.Groups["b"].Value); // no body: CLF's -
        Assert.Equal("-", second.Groups["u"].Value);
    }

    [Fact]
    public async Task GunicornAtoms_AreFilledIn()
    {
        string log = Path.Combine(_folder, "atoms.log");
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--access-log", log,
            "--access-log-format", "%(m)s|%(U)s|%(q)s|%(H)s|%(s)s|%(B)s|%(D)s|%(L)s|%(p)s|%({X-Test}i)s|%({content-type}o)s|%(R)s|100%%");
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/p?q=2"))
        {
            request.Headers.Add("X-Test", "given");
            using HttpResponseMessage response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        string[] lines = await WaitForLinesAsync(log, 1);
        string[] fields = lines.Single().Split('|');
        Assert.Equal("GET", fields[0]);
        Assert.Equal("/p", fields[1]);
        Assert.Equal("q=2", fields[2]);
        Assert.Equal("HTTP/1.1", fields[3]);
        Assert.Equal("200", fields[4]);
        Assert.Equal("13", fields[5]);
        Assert.True(long.Parse(fields[6]) > 0, $"D: {fields[6]}");
        Assert.Matches(@"^\d+\.\d{6}$", fields[7]);
        Assert.Equal($"<{server.Pid}>", fields[8]);
        Assert.Equal("given", fields[9]);
        Assert.StartsWith("text/plain", fields[10]);
        Assert.Contains(":", fields[11]); // Kestrel's request id: connection id:request number
        Assert.Equal("100%", fields[12]);
    }

    [Fact]
    public async Task Json_OneObjectPerLine_WithOpenTelemetryNames()
    {
        string log = Path.Combine(_folder, "access.json");
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--access-log", log, "--access-log-format", "json");
        using (var request = new HttpRequestMessage(HttpMethod.Get, "/j%C3%A9?a=%22b%22"))
        {
            request.Headers.TryAddWithoutValidation("User-Agent", "quote\" back\\ slash");
            using HttpResponseMessage response = await server.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        using (HttpResponseMessage missing = await server.Client.PostAsync("/x", new StringContent("body")))
        {
            Assert.Equal(HttpStatusCode.OK, missing.StatusCode);
        }
        string[] lines = await WaitForLinesAsync(log, 2);
        Assert.Equal(2, lines.Length);
        JsonElement first = Json.Parse(lines[0]);
        Assert.Equal("GET", first.GetProperty("http.request.method").GetString());
        Assert.Equal("/j%C3%A9", first.GetProperty("url.path").GetString());
        Assert.Equal("a=%22b%22", first.GetProperty("url.query").GetString());
        Assert.Equal(200, first.GetProperty("http.response.status_code").GetInt32());
        Assert.Equal("127.0.0.1", first.GetProperty("client.address").GetString());
        Assert.Equal("quote\" back\\ slash", first.GetProperty("user_agent.original").GetString());
        Assert.Equal("1.1", first.GetProperty("network.protocol.version").GetString());
        Assert.Equal(13, first.GetProperty("http.response.body.size").GetInt64());
        double duration = first.GetProperty("http.server.request.duration").GetDouble();
        Assert.InRange(duration, 0.0, 30.0);
        Assert.False(string.IsNullOrEmpty(first.GetProperty("http.request.id").GetString()));
        JsonElement second = Json.Parse(lines[1]);
        Assert.Equal("POST", second.GetProperty("http.request.method").GetString());
        Assert.False(second.TryGetProperty("url.query", out _));
    }

    [Fact]
    public async Task Stdout_Dash_WritesLinesBesideTheServerLog()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--access-log", "-");
        using (HttpResponseMessage response = await server.Client.GetAsync("/to-stdout"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.True(await server.WaitForOutputAsync("\"GET /to-stdout HTTP/1.1\" 200 13", TimeSpan.FromSeconds(10)), server.Describe());
        string line = server.Stdout.Split('\n').First(l => l.Contains("/to-stdout", StringComparison.Ordinal));
        Assert.Matches(CombinedLine(), line);
    }

    [Fact]
    public async Task Off_ByDefault()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1");
        using (HttpResponseMessage response = await server.Client.GetAsync("/not-logged"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        await Task.Delay(300);
        Assert.DoesNotContain("/not-logged", server.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("%(zz)s", "unknown atom %(zz)s")]
    [InlineData("%h", "must start an atom")]
    public async Task BadFormat_IsOneLine_Exit2(string format, string expected)
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            ["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--access-log", "-", "--access-log-format", format, "hello:app"],
            TimeSpan.FromSeconds(30));
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("kwsgi: --access-log-format", exit.Stderr, StringComparison.Ordinal);
        Assert.Contains(expected, exit.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnwritableFile_IsOneLine_Exit2()
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(
            ["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, "--access-log", Path.Combine(_folder, "no", "such", "a.log"), "hello:app"],
            TimeSpan.FromSeconds(30));
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("kwsgi: --access-log", exit.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", exit.Stderr, StringComparison.Ordinal);
    }
}

using System.Net;
using System.Reflection;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;
using Microsoft.Extensions.Logging;

namespace Kestrel.Wsgi.Tests;

/// <summary>One log stream: the workers' output in the front's log, tagged; --log-level, --log-format; unique event ids.</summary>
public sealed class LogStreamTests
{
    [Theory]
    [InlineData("/print", "printed ")]
    [InlineData("/errors", "wsgi.errors ")]
    [InlineData("/logging", "logged ")]
    public async Task WorkerOutput_IsLogged_WithPidAndRequestId(string path, string text)
    {
        await using var server = await KwsgiProcess.StartAsync("chatty:app", "--workers", "1");
        int pid = server.WorkerPids().Single();
        using HttpResponseMessage response = await server.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string requestId = await response.Content.ReadAsStringAsync();
        Assert.Contains(':', requestId);
        string expected = $"Worker {pid} request {requestId} ";
        Assert.True(await server.WaitForOutputAsync(text + requestId, TimeSpan.FromSeconds(10)), server.Describe());
        string line = server.Stdout.Split('\n').Single(l => l.Contains(text + requestId, StringComparison.Ordinal));
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.Contains("Kestrel.Wsgi.Worker[6", line, StringComparison.Ordinal);
        if (path == "/print")
        {
            Assert.True(await server.WaitForOutputAsync("stdout: partial line", TimeSpan.FromSeconds(10)), server.Describe());
        }
    }

    [Fact]
    public async Task Traceback_IsOneEntry_InJson()
    {
        await using var server = await KwsgiProcess.StartAsync("chatty:app", "--workers", "1", "--log-format", "json");
        int pid = server.WorkerPids().Single();
        using HttpResponseMessage response = await server.Client.GetAsync("/raise");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.True(await server.WaitForOutputAsync("RuntimeError: boom", TimeSpan.FromSeconds(10)), server.Describe());
        JsonElement entry = server.Stdout.Split('\n')
            .Where(l => l.StartsWith('{'))
            .Select(Json.Parse)
            .Single(e => e.GetProperty("Message").GetString()!.Contains("RuntimeError: boom", StringComparison.Ordinal));
        Assert.Equal("Kestrel.Wsgi.Worker", entry.GetProperty("Category").GetString());
        Assert.Equal("Warning", entry.GetProperty("LogLevel").GetString());
        JsonElement state = entry.GetProperty("State");
        Assert.Equal(pid.ToString(), state.GetProperty("Pid").ToString());
        string requestId = state.GetProperty("RequestId").GetString()!;
        Assert.Contains("boom " + requestId, state.GetProperty("Text").GetString());
        // The whole traceback, its lines kept together.
        Assert.Contains("Traceback (most recent call last)", state.GetProperty("Text").GetString());
        // Every kwsgi line is JSON too (the startup lines kwsgi: … are plain by design).
        Assert.All(server.Stdout.Split('\n').Where(l => l.Length > 0 && !l.StartsWith("kwsgi: ", StringComparison.Ordinal)), l => Json.Parse(l));
    }

    [Fact]
    public async Task Traceback_InText_EveryLineTagged()
    {
        await using var server = await KwsgiProcess.StartAsync("chatty:app", "--workers", "1");
        int pid = server.WorkerPids().Single();
        using HttpResponseMessage response = await server.Client.GetAsync("/raise");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.True(await server.WaitForOutputAsync("RuntimeError: boom", TimeSpan.FromSeconds(10)), server.Describe());
        string[] lines = server.Stdout.Split('\n');
        string boom = lines.Single(l => l.Contains("RuntimeError: boom", StringComparison.Ordinal));
        string requestId = boom[(boom.LastIndexOf(' ') + 1)..];
        string tag = $"Worker {pid} request {requestId} stderr: ";
        Assert.Contains(tag + "RuntimeError: boom " + requestId, boom, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains(tag + "Traceback (most recent call last):", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains(tag + "kwsgi: error in the app serving GET /raise", StringComparison.Ordinal));
    }

    [Fact]
    public async Task LogLevel_Warning_HidesInformation()
    {
        await using var server = await KwsgiProcess.StartAsync("chatty:app", "--workers", "1", "--log-level", "warning");
        using (HttpResponseMessage printed = await server.Client.GetAsync("/print"))
        using (HttpResponseMessage logged = await server.Client.GetAsync("/logging"))
        {
            Assert.True(await server.WaitForOutputAsync("logged ", TimeSpan.FromSeconds(10)), server.Describe());
        }
        Assert.DoesNotContain("printed ", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("ready (1 of the pool)", server.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--log-level", "loud", "--log-level loud must be")]
    [InlineData("--log-format", "xml", "--log-format xml must be text or json")]
    public async Task BadValues_AreOneLine_Exit2(string option, string value, string expected)
    {
        KwsgiExit exit = await KwsgiProcess.RunToExitAsync(["--port", KwsgiProcess.FreePort().ToString(), "--chdir", TestPaths.AppsDir, option, value, "hello:app"], TimeSpan.FromSeconds(30));
        Assert.Equal(2, exit.ExitCode);
        Assert.Contains("kwsgi: " + expected, exit.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryEventId_IsUnique()
    {
        var ids = new Dictionary<int, string>();
        foreach (Type type in typeof(Kestrel.Wsgi.Hosting.KwsgiOptions).Assembly.GetTypes())
        {
            foreach (MethodInfo method in type.GetMethods(BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (method.GetCustomAttribute<LoggerMessageAttribute>() is { } message)
                {
                    string name = $"{type.Name}.{method.Name}";
                    Assert.True(ids.TryAdd(message.EventId, name), $"event id {message.EventId} is used by {ids.GetValueOrDefault(message.EventId)} and {name}");
                }
            }
        }
        Assert.True(ids.Count >= 20, $"found only {ids.Count} events");
    }

    [Fact]
    public async Task ContentLengthOf30Digits_LogsNoStackTrace()
    {
        await using var server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--log-level", "debug");
        await using (var connection = await RawHttpConnection.ConnectAsync(server.Port))
        {
            RawResponse response = await connection.RequestAsync("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 123456789012345678901234567890\r\n\r\n");
            Assert.InRange(response.Status, 400, 499);
        }
        await Task.Delay(500);
        Assert.DoesNotContain("   at ", server.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", server.Output, StringComparison.Ordinal);
    }
}

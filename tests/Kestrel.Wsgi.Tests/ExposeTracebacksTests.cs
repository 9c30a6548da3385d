using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// --expose-tracebacks (waitress's option, for development): a 500 from an exception the app raised before its
/// response started carries the traceback; without it the body stays plain. The log has the traceback either way.
/// </summary>
public sealed class ExposeTracebacksTests
{
    private const string Raised = "RuntimeError: kwsgi-test: raised before start_response";

    private static async Task AssertLoggedAsync(KwsgiProcess server)
    {
        Assert.True(await server.WaitForOutputAsync(Raised, TimeSpan.FromSeconds(10)), server.Describe());
        Assert.Contains("Traceback (most recent call last)", server.Output);
    }

    [Fact]
    public async Task Off_TheBodyIsThePlainSentence()
    {
        await using var server = await KwsgiProcess.StartAsync("raises:app", "--workers", "1");
        using HttpResponseMessage response = await server.Client.GetAsync("/before");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("Internal Server Error\n", await response.Content.ReadAsStringAsync());
        await AssertLoggedAsync(server);
    }

    [Fact]
    public async Task On_TheBodyCarriesTheTraceback()
    {
        await using var server = await KwsgiProcess.StartAsync("raises:app", "--workers", "1", "--expose-tracebacks");
        using HttpResponseMessage response = await server.Client.GetAsync("/before");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("text/plain; charset=utf-8", response.Content.Headers.ContentType?.ToString());
        string body = await response.Content.ReadAsStringAsync();
        Assert.Equal(body.Length, response.Content.Headers.ContentLength);
        Assert.StartsWith("Internal Server Error\n\nTraceback (most recent call last):\n", body);
        Assert.Contains("raises.py\", line ", body);
        Assert.EndsWith(Raised + "\n", body);
        await AssertLoggedAsync(server);

        // An app that answers its own error (exc_info) is untouched.
        using HttpResponseMessage handled = await server.Client.GetAsync("/excinfo");
        Assert.Equal(HttpStatusCode.InternalServerError, handled.StatusCode);
        Assert.Equal("custom error", await handled.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task On_FromTheEnvironmentVariable()
    {
        int port = KwsgiProcess.FreePort();
        var environment = new Dictionary<string, string?> { ["KWSGI_EXPOSE_TRACEBACKS"] = "true" };
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir, "--workers", "1", "raises:app"], environment, port);
        using HttpResponseMessage response = await server.Client.GetAsync("/before");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains(Raised, await response.Content.ReadAsStringAsync());
    }
}

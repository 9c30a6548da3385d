using System.Net;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class FlaskFixture : ServerFixture
{
    protected override string App => "flaskapp:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--threads", "2"];
}

/// <summary>A real framework (Flask 3.1, from the default python3 on PATH).</summary>
public sealed class FlaskTests(FlaskFixture fx) : IClassFixture<FlaskFixture>
{
    [Fact]
    public async Task Index_ReturnsHtml()
    {
        using var resp = await fx.Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("text/html", resp.Content.Headers.ContentType?.MediaType);
        Assert.Equal("<h1>Hello from Flask</h1>", await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Json_ReturnsJson()
    {
        using var resp = await fx.Client.GetAsync("/json");
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal("application/json", resp.Content.Headers.ContentType?.MediaType);
        var json = await Json.ReadAsync(resp);
        Assert.Equal("hello", json.GetProperty("message").GetString());
        Assert.Equal([1, 2, 3], json.GetProperty("numbers").EnumerateArray().Select(e => e.GetInt32()).ToArray());
    }

    [Fact]
    public async Task Echo_ReturnsPostedBytes()
    {
        byte[] body = [.. Enumerable.Range(0, 256).Select(i => (byte)i), .. "kwsgi"u8.ToArray()];
        using var resp = await fx.Client.PostAsync("/echo", new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
        Assert.Equal(body, await resp.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task UnknownRoute_Is404FromFlask()
    {
        using var resp = await fx.Client.GetAsync("/nope");
        Assert.Equal(HttpStatusCode.NotFound, resp.StatusCode);
    }

    [Fact]
    public async Task WrongMethod_Is405FromFlask()
    {
        using var resp = await fx.Client.GetAsync("/echo");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, resp.StatusCode);
    }
}

/// <summary>The APP argument forms: module:attr, module.attr, module:factory(), --call.</summary>
public sealed class AppSpecTests
{
    private static async Task AssertServesAsync(string path, string expectedBody, string app, params string[] extra)
    {
        await using var server = await KwsgiProcess.StartAsync(app, ["--workers", "1", .. extra]);
        using var resp = await server.Client.GetAsync(path);
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{app}: {(int)resp.StatusCode}\n{server.Describe()}");
        Assert.Equal(expectedBody, await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public Task Flask_CallFlag_CallsFactory() =>
        AssertServesAsync("/", "<h1>Hello from Flask</h1>", "flaskapp:create_app", "--call");

    [Fact]
    public Task Flask_FactoryCallSyntax_CallsFactory() =>
        AssertServesAsync("/", "<h1>Hello from Flask</h1>", "flaskapp:create_app()");

    [Fact]
    public Task Factory_FactoryCallSyntax() =>
        AssertServesAsync("/", "Hello from factory", "factory:create_app()");

    [Fact]
    public Task Factory_CallFlag() =>
        AssertServesAsync("/", "Hello from factory", "factory:create_app", "--call");

    [Fact]
    public Task DottedModuleAttr() =>
        AssertServesAsync("/", "Hello, World!", "hello.app");
}

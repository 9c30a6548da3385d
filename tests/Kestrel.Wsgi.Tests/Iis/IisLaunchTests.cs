using System.Net;
using System.Xml.Linq;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>
/// Does the web.config describe a launch that works? Each test does what HttpPlatformHandler would: picks a
/// free port, puts it where %HTTP_PLATFORM_PORT% stands (arguments and environment values) and in
/// HTTP_PLATFORM_PORT, sets the environmentVariables, starts processPath in the site folder, and sends a
/// request. The site folder holds an app module with the name the configuration gives.
/// </summary>
public sealed class IisLaunchTests
{
    private const string Python = "/usr/bin/python3";

    /// <summary>Per example: writes the app the configuration names into the site folder; returns the body it answers with.</summary>
    private static readonly Dictionary<string, Func<string, string>> s_apps = new()
    {
        ["wfastcgi-flask.web.config"] = site => WriteModule(site, "shop", "app"),
        ["wfastcgi-rewrite.web.config"] = site => WriteModule(site, "Portal", "application"),
        ["helicon-zoo.web.config"] = site => WriteModule(site, "blog.wsgi", "application"),
        ["httpplatform-waitress.web.config"] = site => WriteModule(site, "wsgi", "application"),
        ["wfastcgi-django.web.config"] = site => WriteDjangoProject(site, "intranet"),
    };

    public static TheoryData<string> Examples() => new(IisTool.ExampleNames);

    [Fact]
    public void EveryExampleHasAnApp() =>
        Assert.Equal(s_apps.Keys.Order(StringComparer.Ordinal), IisTool.ExampleNames);

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task MigratedConfig_StartsKwsgi_ThatServesTheApp(string example)
    {
        Assert.True(File.Exists(Python), $"this test needs Debian's {Python} (with Django)");
        string site = IisTool.SiteWith(example);
        string body = s_apps[example](site);
        string config = Path.Combine(site, "web.config");
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--python", Python, config));

        await using KwsgiProcess server = await LaunchAsync(site, IisTool.Section(IisTool.Load(config), "httpPlatform"));
        using var resp = await server.Client.GetAsync("/");
        Assert.True(resp.StatusCode == HttpStatusCode.OK, $"{resp.StatusCode}\n{server.Describe()}");
        Assert.Equal(body, await resp.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task GeneratedConfig_StartsKwsgi_ThatServesTheAppAndItsStaticFolder()
    {
        string site = IisTool.NewSite();
        string body = WriteModule(site, "siteapp", "app");
        Directory.CreateDirectory(Path.Combine(site, "public"));
        File.WriteAllText(Path.Combine(site, "public", "hello.txt"), "static hello");

        // /assets=public cannot be a <location> (its folder has another name): kwsgi serves it.
        var exit = await IisTool.RunAsync(site, "config", "--python", Python, "--static", "/static=static", "--static", "/assets=public", "siteapp:app");
        IisTool.AssertSucceeded(exit);
        XDocument config = IisTool.Parse(exit.Stdout);

        await using KwsgiProcess server = await LaunchAsync(site, IisTool.Section(config, "httpPlatform"));
        using (var resp = await server.Client.GetAsync("/"))
        {
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            Assert.Equal(body, await resp.Content.ReadAsStringAsync());
        }
        using (var resp = await server.Client.GetAsync("/assets/hello.txt"))
        {
            Assert.Equal(HttpStatusCode.OK, resp.StatusCode);
            Assert.Equal("static hello", await resp.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task MigratedScriptNameSetting_MountsTheAppThere()
    {
        // wfastcgi's SCRIPT_NAME appSetting (issue 13 item 2): the app is mounted at /PyWebApi.
        string site = IisTool.SiteFrom("wfastcgi-script-name");
        Directory.CreateDirectory(Path.Combine(site, "api"));
        File.WriteAllText(Path.Combine(site, "api", "__init__.py"), "");
        File.WriteAllText(Path.Combine(site, "api", "main.py"), """
            def app(environ, start_response):
                body = ("%s|%s" % (environ["SCRIPT_NAME"], environ["PATH_INFO"])).encode()
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [body]
            """);
        string config = Path.Combine(site, "web.config");
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--python", Python, config));

        await using KwsgiProcess server = await LaunchAsync(site, IisTool.Section(IisTool.Load(config), "httpPlatform"));
        Assert.Equal("/PyWebApi|/foo", await server.Client.GetStringAsync("/PyWebApi/foo"));
    }

    [Fact]
    public async Task MigratedRunnerScript_ServesTheAppItPassedToServe()
    {
        // python run_waitress_server.py (issue 13 item 3): the script is read for serve(application, url_prefix="/reports").
        string site = IisTool.SiteFrom("httpplatform-waitress-script");
        string body = WriteModule(site, "reports.web", "wsgi_app");
        string config = Path.Combine(site, "web.config");
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--python", Python, config));

        await using KwsgiProcess server = await LaunchAsync(site, IisTool.Section(IisTool.Load(config), "httpPlatform"));
        Assert.Equal(body, await server.Client.GetStringAsync("/reports/"));
    }

    [Fact]
    public async Task MigratedHeliconZooDjango_ServesTheDjangoProject()
    {
        // Helicon Zoo with DJANGO_SETTINGS_MODULE and no WSGI_APP (issue 13 item 4): Django's own WSGI handler.
        string site = IisTool.SiteFrom("helicon-zoo-django");
        string body = WriteDjangoProject(site, "mysite");
        string config = Path.Combine(site, "web.config");
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--python", Python, config));

        await using KwsgiProcess server = await LaunchAsync(site, IisTool.Section(IisTool.Load(config), "httpPlatform"));
        Assert.Equal(body, await server.Client.GetStringAsync("/"));
    }

    private static async Task<KwsgiProcess> LaunchAsync(string site, XElement section)
    {
        Assert.Equal(IisTool.KwsgiExecutable, (string?)section.Attribute("processPath"));
        string port = KwsgiProcess.FreePort().ToString();
        var args = IisTool.Arguments(section).Select(a => a.Replace("%HTTP_PLATFORM_PORT%", port)).ToList();
        var environment = new Dictionary<string, string?> { ["HTTP_PLATFORM_PORT"] = port, ["VIRTUAL_ENV"] = null };
        foreach (var (name, value) in IisTool.Environment(section))
        {
            environment[name] = value.Replace("%HTTP_PLATFORM_PORT%", port);
        }
        var server = KwsgiProcess.Launch(args, environment, workingDirectory: site);
        try
        {
            await server.WaitForReadyAsync(KwsgiProcess.ReadyTimeout);
            Assert.Equal(port, server.Port.ToString());
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A module (a package's submodule when dotted) with a WSGI app named <paramref name="attr"/>.</summary>
    private static string WriteModule(string site, string module, string attr)
    {
        string[] parts = module.Split('.');
        string folder = site;
        foreach (string package in parts[..^1])
        {
            folder = Path.Combine(folder, package);
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "__init__.py"), "");
        }
        string body = $"Hello from {module}:{attr}";
        File.WriteAllText(Path.Combine(folder, parts[^1] + ".py"), $$"""
            def {{attr}}(environ, start_response):
                body = b"{{body}}"
                start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
                return [body]
            """);
        return body;
    }

    /// <summary>The project DJANGO_SETTINGS_MODULE=PROJECT.settings names: settings and one URL.</summary>
    private static string WriteDjangoProject(string site, string project)
    {
        string package = Path.Combine(site, project);
        Directory.CreateDirectory(package);
        File.WriteAllText(Path.Combine(package, "__init__.py"), "");
        File.WriteAllText(Path.Combine(package, "settings.py"), $$"""
            SECRET_KEY = "kwsgi-tests-only"
            DEBUG = False
            ALLOWED_HOSTS = ["*"]
            ROOT_URLCONF = "{{project}}.urls"
            INSTALLED_APPS = []
            MIDDLEWARE = []
            USE_TZ = True
            """);
        File.WriteAllText(Path.Combine(package, "urls.py"), """
            from django.http import HttpResponse
            from django.urls import path

            urlpatterns = [path("", lambda request: HttpResponse("Hello from Django", content_type="text/plain"))]
            """);
        return "Hello from Django";
    }
}

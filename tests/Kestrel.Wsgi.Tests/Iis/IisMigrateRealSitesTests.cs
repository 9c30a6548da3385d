namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>
/// <c>kwsgi iis migrate</c> on the shapes real sites have (issue 13): each site folder in Iis/sites holds a
/// web.config (and the files it refers to) and expected.web.config, what the real kwsgi must write with
/// <c>--kwsgi C:\kwsgi\kwsgi.exe</c>; the summary is checked line by line where it matters.
/// </summary>
public sealed class IisMigrateRealSitesTests
{
    private const string Kwsgi = @"C:\kwsgi\kwsgi.exe";

    private static string Expected(string name, string file = "expected.web.config") => File.ReadAllText(Path.Combine(IisTool.SitesDir, name, file));

    /// <summary>Migrates the fixture with the extra arguments; asserts it wrote exactly the expected file and returns stdout.</summary>
    private static async Task<string> MigrateAsync(string name, params string[] args)
    {
        string site = IisTool.SiteFrom(name);
        string config = Path.Combine(site, "web.config");
        var exit = await IisTool.RunAsync(site, ["migrate", "--kwsgi", Kwsgi, .. args, config]);
        IisTool.AssertSucceeded(exit);
        Assert.Equal(Expected(name), File.ReadAllText(config));
        return exit.Stdout;
    }

    [Fact]
    public async Task Item1_RewriteToHandlerFcgi_IsRemoved_EvenWhenTheHandlerTookEveryPath()
    {
        string summary = await MigrateAsync("wfastcgi-every-path-rewrite");
        Assert.Contains("URL Rewrite rule \"Configure Python\" (to handler.fcgi/{R:1}) removed", summary);
        Assert.Contains("The empty handler.fcgi file (the target of the rewrite rule \"Configure Python\") is no longer needed.", summary);
        // The other rewrite stays, and the summary says what changes for the app: the URL it sees.
        Assert.Contains("The rewrite rule \"Old shop URLs\" (to catalog/{R:1}) stays: wfastcgi gave the app the URL from before the rewrite (X-Original-URL)", summary);
    }

    [Fact]
    public async Task Item2_ScriptNameSetting_BecomesUrlPrefix()
    {
        string summary = await MigrateAsync("wfastcgi-script-name");
        Assert.Contains("appSettings SCRIPT_NAME /PyWebApi → --url-prefix /PyWebApi (SCRIPT_NAME /PyWebApi, PATH_INFO the rest)", summary);
        Assert.DoesNotContain("environment variable SCRIPT_NAME", summary);
    }

    [Fact]
    public async Task Item3_RunnerScript_ThatCallsServeWithAnImportedApp_NamesTheApp()
    {
        string summary = await MigrateAsync("httpplatform-waitress-script");
        Assert.Contains("migrated from python run_waitress_server.py (httpPlatform) to <httpPlatform>", summary);
        Assert.Contains("run_waitress_server.py (waitress's serve(), read, not run) → app argument reports.web:wsgi_app", summary);
        Assert.Contains("serve() options dropped: threads=8", summary);
        Assert.Contains("no longer runs run_waitress_server.py", summary);
    }

    [Theory]
    [InlineData("httpplatform-waitress-wrapped", "runserver.py is not a plain waitress serve(app, …) call (it passes TransLogger(app) to serve(), not an imported app)")]
    [InlineData("ancm-python-script", "app.py is not a plain waitress serve(app, …) call (it does not import waitress's serve)")]
    public async Task Item3_ScriptThatIsNotAPlainServeCall_IsRefused_NamingTheScriptAndApp(string fixture, string why)
    {
        string site = IisTool.SiteFrom(fixture);
        string config = Path.Combine(site, "web.config");
        byte[] before = File.ReadAllBytes(config);
        var exit = await IisTool.RunAsync(site, "migrate", config);
        IisTool.AssertCleanFailure(exit, why);
        Assert.EndsWith(": pass --app module:attr, the WSGI app it serves, to migrate it to kwsgi", exit.Stderr.TrimEnd());
        Assert.Equal(before, File.ReadAllBytes(config));
    }

    [Fact]
    public async Task Item3_ScriptThatIsNotAPlainServeCall_MigratesWithApp()
    {
        string summary = await MigrateAsync("httpplatform-waitress-wrapped", "--app", "hub.wsgi:application");
        Assert.Contains("app argument hub.wsgi:application (given)", summary);
        await MigrateAsync("ancm-python-script", "--aspnetcore", "--app", "app:app");
    }

    /// <summary>Runner scripts read for their app: what the app argument becomes, or why the script is refused.</summary>
    [Theory]
    [InlineData("from waitress import serve\nfrom shop import app\nserve(app, port=8080)\n", "shop:app")]
    [InlineData("import waitress\nimport shop.web\nwaitress.serve(shop.web.app.wsgi_app, listen='*:8080')\n", "shop.web:app.wsgi_app")]
    [InlineData("from waitress import serve as run\nimport shop.web as web\nif __name__ == '__main__': run(web.application)\n", "shop.web:application")]
    [InlineData("# serve(other)\nfrom waitress import serve\nfrom shop.wsgi import application as app  # Django\nserve(app, host=\"0.0.0.0\", port=5000)  # serve(x)\n", "shop.wsgi:application")]
    [InlineData("from waitress import serve\nfrom shop import create_app\napp = create_app()\nserve(app)\n", "!which the script builds itself (app = …)")]
    [InlineData("from waitress import serve\nfrom .shop import app\nserve(app)\n", "!relative to its package")]
    [InlineData("from waitress import serve\nfrom shop import app\nserve(app)\nserve(app, port=81)\n", "!it calls serve() 2 times")]
    [InlineData("from waitress import serve\nserve(app\n", "!its brackets or quotes do not balance")]
    [InlineData("from waitress import serve\nfrom shop import app\nserve(app, **settings)\n", "shop:app")]
    public async Task Item3_RunnerScriptForms(string script, string expected)
    {
        string site = IisTool.NewSite();
        string config = Path.Combine(site, "web.config");
        File.WriteAllText(config, """
            <configuration><system.webServer>
              <handlers><add name="httpPlatformHandler" path="*" verb="*" modules="httpPlatformHandler" /></handlers>
              <httpPlatform processPath="C:\Python312\python.exe" arguments="serve.py" />
            </system.webServer></configuration>
            """);
        File.WriteAllText(Path.Combine(site, "serve.py"), script);
        var exit = await IisTool.RunAsync(site, "migrate", "--dry-run", config);
        if (expected.StartsWith('!'))
        {
            IisTool.AssertCleanFailure(exit, expected[1..]);
            return;
        }
        IisTool.AssertSucceeded(exit);
        Assert.Equal(expected, IisTool.Arguments(IisTool.Section(IisTool.Parse(exit.Stdout), "httpPlatform"))[^1]);
    }

    [Fact]
    public async Task Item4_HeliconZooDjango_RunsDjangosHandler_AndBothApplicationsGo()
    {
        string summary = await MigrateAsync("helicon-zoo-django");
        Assert.Contains("DJANGO_SETTINGS_MODULE mysite.settings without WSGI_APP → app argument django.core.wsgi:get_wsgi_application() (Helicon Zoo's Django handler)", summary);
        Assert.Contains("<heliconZoo> application \"django.project.x64\" removed", summary);
        Assert.Contains("<heliconZoo> application \"django.project.x86\" removed", summary);
        Assert.Contains("empty <heliconZoo> removed", summary);
        // django.root=%APPL_VIRTUAL_PATH%: HttpPlatformHandler does not pass the application's path.
        Assert.Contains("heliconZoo django.root was %APPL_VIRTUAL_PATH%, the IIS application's path, which HttpPlatformHandler does not pass on", summary);
    }

    [Fact]
    public async Task Item4_HeliconZooDjango_UnderAncm_LeavesTheMountPointToTheModule()
    {
        string site = IisTool.SiteFrom("helicon-zoo-django");
        string config = Path.Combine(site, "web.config");
        var exit = await IisTool.RunAsync(site, "migrate", "--aspnetcore", "--kwsgi", Kwsgi, config);
        IisTool.AssertSucceeded(exit);
        Assert.Contains("heliconZoo django.root %APPL_VIRTUAL_PATH% dropped: the ASP.NET Core Module passes the IIS application's path (ASPNETCORE_APPL_PATH)", exit.Stdout);
        Assert.Equal(["django.core.wsgi:get_wsgi_application()"], IisTool.Arguments(IisTool.Section(IisTool.Load(config), "aspNetCore")));
        Assert.Empty(IisTool.Load(config).Descendants("heliconZoo"));
    }

    [Fact]
    public async Task Item4_HeliconZooWithoutAnApp_IsRefusedNamingTheApplication()
    {
        string site = IisTool.SiteFrom("helicon-zoo-django");
        string config = Path.Combine(site, "web.config");
        File.WriteAllText(config, File.ReadAllText(config).Replace("DJANGO_SETTINGS_MODULE", "SETTINGS"));
        IisTool.AssertCleanFailure(await IisTool.RunAsync(site, "migrate", config),
            "kwsgi: the Helicon Zoo applications \"django.project.x86\", \"django.project.x64\" set neither WSGI_APP nor DJANGO_SETTINGS_MODULE: pass --app module:attr");
    }

    [Fact]
    public async Task Item5_OldPython_StaticRules_AndServerVariables_AreNamed()
    {
        string summary = await MigrateAsync("wfastcgi-static-rules");
        Assert.Contains(@"D:\Python34\python.exe looks like Python 3.4; kwsgi embeds Python 3.7 or later (pythonnet's floor): pass --python with a newer one", summary);
        Assert.Contains("The rewrite rule \"Static folders\" (url ^(css|images)/.*) left requests to IIS's static file handler; with the handler on path=\"*\" they now reach kwsgi: " +
            "give <location path=\"css\"> and <location path=\"images\"> with <remove name=\"Portal\" /> in its <handlers>", summary);
        Assert.Contains("server variable HTTP_X_FORWARDED_FOR={REMOTE_ADDR} dropped with the rule \"To Python\": the reverse-proxy handler sends X-Forwarded-For itself", summary);
        Assert.Contains("The rule \"To Python\" also set the server variable HTTP_X_PORTAL_SITE to intranet, which the app no longer gets", summary);
    }

    [Theory]
    [InlineData(@"D:\home\Python354x64\python.exe", "3.5")]
    [InlineData(@"C:\Python27\python.exe", "2.7")]
    [InlineData(@"C:\Users\me\AppData\Local\Programs\Python\Python36-32\python.exe", "3.6")]
    [InlineData(@"C:\Python310\python.exe", null)]
    [InlineData(@"C:\Python37\python.exe", null)]
    [InlineData(@"C:\site\env\Scripts\python.exe", null)]
    public async Task Item5_PythonOlderThan37_IsNamed_UnlessPythonIsGiven(string interpreter, string? version)
    {
        string site = IisTool.SiteFrom("wfastcgi-static-rules");
        string config = Path.Combine(site, "web.config");
        File.WriteAllText(config, File.ReadAllText(config).Replace(@"D:\Python34\python.exe", interpreter));
        var exit = await IisTool.RunAsync(site, "migrate", "--dry-run", config);
        IisTool.AssertSucceeded(exit);
        if (version is null)
        {
            Assert.DoesNotContain("looks like Python", exit.Stderr);
        }
        else
        {
            Assert.Contains($"{interpreter} looks like Python {version}; kwsgi embeds Python 3.7 or later", exit.Stderr);
        }
        var given = await IisTool.RunAsync(site, "migrate", "--dry-run", "--python", @"C:\Python312", config);
        IisTool.AssertSucceeded(given);
        Assert.DoesNotContain("looks like Python", given.Stderr);
    }

    [Fact]
    public async Task Item5_ProcessPath_SaysWhichKwsgi_AndWarnsOfANonWindowsPath()
    {
        string site = IisTool.SiteFrom("wfastcgi-script-name");
        var exit = await IisTool.RunAsync(site, "migrate", Path.Combine(site, "web.config"));
        IisTool.AssertSucceeded(exit);
        Assert.Contains($"processPath {IisTool.KwsgiExecutable}: the kwsgi that ran this command (--kwsgi PATH names the one IIS is to start)", exit.Stdout);
        Assert.Equal(OperatingSystem.IsWindows(), !exit.Stdout.Contains("which is not a Windows path: run again with --kwsgi"));

        site = IisTool.SiteFrom("wfastcgi-script-name");
        var given = await IisTool.RunAsync(site, "migrate", "--kwsgi", Kwsgi, Path.Combine(site, "web.config"));
        Assert.DoesNotContain("the kwsgi that ran this command", given.Stdout);
        Assert.DoesNotContain("not a Windows path", given.Stdout);
    }

    /// <summary>Each refusal is one line: the form found, then the way forward; and --app unlocks every app the file names badly.</summary>
    [Theory]
    [InlineData("app.create_app().wsgi_app",
        "kwsgi: WSGI_HANDLER 'app.create_app().wsgi_app' calls create_app() before its last name, which kwsgi's app argument cannot (it calls only a final factory, module:factory()): add a line such as application = app.create_app().wsgi_app to a module and pass --app module:application")]
    [InlineData("my-site.app", "kwsgi: WSGI_HANDLER 'my-site.app': 'my-site' is not a Python module name: pass --app module:attr")]
    [InlineData("shop", "kwsgi: WSGI_HANDLER 'shop' names a module, not the app in it: pass --app shop:NAME with the app's name in that module")]
    [InlineData(null, "kwsgi: the wfastcgi handler \"PyWebApi\" has no WSGI_HANDLER in <appSettings> (it may be in applicationHost.config's <fastCgi> environment variables): pass --app module:attr")]
    public async Task Item6_AnAppTheFileCannotGive_IsOneLineNamingItAndApp_AndAppMigratesIt(string? handler, string message)
    {
        string site = IisTool.SiteFrom("wfastcgi-script-name");
        string config = Path.Combine(site, "web.config");
        string text = File.ReadAllText(config);
        File.WriteAllText(config, handler is null
            ? text.Replace("""<add key="WSGI_HANDLER" value="api.main.app" />""", "")
            : text.Replace("\"api.main.app\"", $"\"{handler}\""));
        byte[] before = File.ReadAllBytes(config);

        var refused = await IisTool.RunAsync(site, "migrate", config);
        IisTool.AssertCleanFailure(refused, message);
        Assert.Equal(message, refused.Stderr.TrimEnd());
        Assert.Equal(before, File.ReadAllBytes(config));

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--app", "api.main:app", config));
        Assert.Equal("api.main:app", IisTool.Arguments(IisTool.Section(IisTool.Load(config), "httpPlatform"))[^1]);
    }

    [Theory]
    [InlineData("""<add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="C:\php\php-cgi.exe" />""", "", "found handler \"PHP\" (FastCgiModule running C:\\php\\php-cgi.exe, path *.php)")]
    [InlineData("""<add name="node" path="*" verb="*" modules="httpPlatformHandler" />""", """<httpPlatform processPath="node.exe" arguments="server.js" />""", "found <httpPlatform> starting node.exe server.js, which is not Python")]
    public async Task Item6_NoPythonHandler_SaysWhatItFound_AndPointsToIisConfig(string handler, string section, string found)
    {
        string site = IisTool.NewSite();
        string config = Path.Combine(site, "web.config");
        File.WriteAllText(config, $"<configuration><system.webServer><handlers>{handler}</handlers>{section}</system.webServer></configuration>");
        var exit = await IisTool.RunAsync(site, "migrate", config);
        IisTool.AssertCleanFailure(exit, found);
        Assert.EndsWith("; to serve a Python app from this site, write a new web.config with kwsgi iis config module:attr", exit.Stderr.TrimEnd());
    }
}

using System.Xml.Linq;

namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>
/// <c>kwsgi iis migrate</c> on every example web.config (tests/Kestrel.Wsgi.Tests/Iis/examples): the real kwsgi
/// rewrites a copy in a temp folder and the result is checked as parsed XML.
/// </summary>
public sealed class IisMigrateTests
{
    /// <summary>What the migrated file must say, per example.</summary>
    public sealed record Expected(
        string Handler,
        string App,
        string? Python,
        Dictionary<string, string> Environment,
        string[] Kept,
        string[] Gone,
        string StdoutLogFile = @".\logs\kwsgi.log");

    private static readonly Dictionary<string, Expected> s_expected = new()
    {
        ["wfastcgi-flask.web.config"] = new(
            "PythonHandler", "shop:app", @"C:\Program Files\Python311",
            new() { ["PYTHONPATH"] = @"C:\inetpub\wwwroot\shop", ["WSGI_LOG"] = @"C:\inetpub\logs\shop-wfastcgi.log" },
            Kept: ["system.webServer/staticContent"], Gone: ["appSettings"]),
        ["wfastcgi-django.web.config"] = new(
            "Django", "django.core.wsgi:get_wsgi_application()", @"D:\Python39",
            new() { ["PYTHONPATH"] = @"D:\sites\intranet;D:\sites\intranet\lib", ["DJANGO_SETTINGS_MODULE"] = "intranet.settings" },
            Kept: ["location"], Gone: ["appSettings"]),
        ["wfastcgi-rewrite.web.config"] = new(
            "PythonHandler", "Portal:application", @"D:\Python27",
            new() { ["PYTHONPATH"] = @"D:\home\site\wwwroot\Portal" },
            Kept: [], Gone: ["appSettings", "system.webServer/rewrite/rules/rule"]),
        ["helicon-zoo.web.config"] = new(
            "httpPlatformHandler", "blog.wsgi:application", null,
            new() { ["PYTHONPATH"] = @".;.\venv\Lib\site-packages;%PYTHONPATH%" },
            Kept: [], Gone: ["heliconZoo"], StdoutLogFile: @".\log\kwsgi.log"),
        ["httpplatform-waitress.web.config"] = new(
            "httpPlatformHandler", "wsgi:application", @"C:\Python310",
            new() { ["SERVER_PORT"] = "%HTTP_PLATFORM_PORT%" },
            Kept: [], Gone: [], StdoutLogFile: @".\python.log"),
    };

    public static TheoryData<string> Examples() => new(IisTool.ExampleNames);

    [Fact]
    public void EveryExampleHasExpectations()
    {
        Assert.NotEmpty(IisTool.ExampleNames);
        Assert.Equal(s_expected.Keys.Order(StringComparer.Ordinal), IisTool.ExampleNames);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Migrate_WritesHttpPlatform(string example)
    {
        Expected expected = s_expected[example];
        string site = IisTool.SiteWith(example);
        string config = Path.Combine(site, "web.config");
        XDocument before = IisTool.Load(config);

        var exit = await IisTool.RunAsync(site, "migrate", config);
        IisTool.AssertSucceeded(exit);
        XDocument after = IisTool.Load(config);

        XElement handler = Assert.Single(IisTool.Handlers(after));
        Assert.Equal(expected.Handler, (string?)handler.Attribute("name"));
        Assert.Equal("httpPlatformHandler", (string?)handler.Attribute("modules"));
        Assert.Equal("*", (string?)handler.Attribute("path"));
        Assert.Null(handler.Attribute("scriptProcessor"));

        XElement section = IisTool.Section(after, "httpPlatform");
        Assert.Equal(IisTool.KwsgiExecutable, (string?)section.Attribute("processPath"));
        List<string> expectedArgs = ["--port", "%HTTP_PLATFORM_PORT%"];
        if (expected.Python is not null)
        {
            expectedArgs.AddRange(["--python", expected.Python]);
        }
        expectedArgs.Add(expected.App);
        Assert.Equal(expectedArgs, IisTool.Arguments(section));
        Assert.Equal(expected.Environment, IisTool.Environment(section));
        Assert.Equal(expected.StdoutLogFile, (string?)section.Attribute("stdoutLogFile"));
        Assert.Equal("true", (string?)section.Attribute("stdoutLogEnabled"));

        AssertUntouched(before, after, expected);
        Assert.DoesNotContain("FastCgiModule", File.ReadAllText(config));
        Assert.DoesNotContain("HeliconZoo", File.ReadAllText(config));
        Assert.DoesNotContain("WSGI_HANDLER", File.ReadAllText(config));
        Assert.Contains("migrated", exit.Stdout);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Migrate_AspNetCore_WritesOutOfProcessAncm_WithoutPortArgument(string example)
    {
        Expected expected = s_expected[example];
        string site = IisTool.SiteWith(example);
        string config = Path.Combine(site, "web.config");
        XDocument before = IisTool.Load(config);

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--aspnetcore", config));
        XDocument after = IisTool.Load(config);

        XElement handler = Assert.Single(IisTool.Handlers(after));
        Assert.Equal("AspNetCoreModuleV2", (string?)handler.Attribute("modules"));
        Assert.Equal(expected.Handler == "httpPlatformHandler" ? "aspNetCore" : expected.Handler, (string?)handler.Attribute("name"));
        Assert.Empty(after.Descendants("httpPlatform"));
        XElement section = IisTool.Section(after, "aspNetCore");
        Assert.Equal("OutOfProcess", (string?)section.Attribute("hostingModel"));
        Assert.Equal(IisTool.KwsgiExecutable, (string?)section.Attribute("processPath"));
        List<string> args = IisTool.Arguments(section);
        Assert.DoesNotContain("--port", args);
        Assert.DoesNotContain(args, a => a.Contains('%'));
        Assert.Equal(expected.App, args[^1]);
        Assert.Equal(expected.Python, args.IndexOf("--python") is int i and >= 0 ? args[i + 1] : null);
        Assert.Equal(expected.Environment, IisTool.Environment(section));
        AssertUntouched(before, after, expected);
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task Migrate_WritesBackupIdenticalToTheOriginal(string example)
    {
        string site = IisTool.SiteWith(example);
        string config = Path.Combine(site, "web.config");
        byte[] original = File.ReadAllBytes(config);

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        Assert.Equal(original, File.ReadAllBytes(config + ".bak"));
        Assert.NotEqual(original, File.ReadAllBytes(config));
        Assert.Equal(["web.config", "web.config.bak"], Directory.GetFiles(site).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Migrate_KeepsAnExistingBackup_AndWritesTheNextFreeName()
    {
        string site = IisTool.SiteWith("wfastcgi-flask.web.config");
        string config = Path.Combine(site, "web.config");
        byte[] original = File.ReadAllBytes(config);
        File.WriteAllText(config + ".bak", "an older backup");
        File.WriteAllText(config + ".bak.1", "an even older backup");

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        Assert.Equal("an older backup", File.ReadAllText(config + ".bak"));
        Assert.Equal("an even older backup", File.ReadAllText(config + ".bak.1"));
        Assert.Equal(original, File.ReadAllBytes(config + ".bak.2"));

        // httpPlatform → aspNetCore on the migrated file: one more backup, of the httpPlatform form.
        byte[] migrated = File.ReadAllBytes(config);
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--aspnetcore", config));
        Assert.Equal(migrated, File.ReadAllBytes(config + ".bak.3"));
        Assert.Single(IisTool.Load(config).Descendants("aspNetCore"));
    }

    [Theory]
    [MemberData(nameof(Examples))]
    public async Task DryRun_PrintsWhatMigrateWrites_AndLeavesTheFileAlone(string example)
    {
        string site = IisTool.SiteWith(example);
        string config = Path.Combine(site, "web.config");
        byte[] original = File.ReadAllBytes(config);

        var dry = await IisTool.RunAsync(site, "migrate", "--dry-run", config);
        IisTool.AssertSucceeded(dry);
        Assert.Equal(original, File.ReadAllBytes(config));
        Assert.Equal(["web.config"], Directory.GetFiles(site).Select(Path.GetFileName));
        Assert.Single(IisTool.Parse(dry.Stdout).Descendants("httpPlatform"));

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        Assert.Equal(File.ReadAllText(config), dry.Stdout);
    }

    [Fact]
    public async Task Migrate_KeepsTheDeclarationAndTheTextAroundTheRootAsWritten()
    {
        string site = IisTool.SiteWith("helicon-zoo.web.config");
        string config = Path.Combine(site, "web.config");
        string[] before = File.ReadAllLines(config);
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        string[] after = File.ReadAllLines(config);
        // encoding="UTF-8" stays in capitals; the comment before the root stays on its line.
        Assert.Equal(before[..3], after[..3]);
        Assert.Equal(before[^1], after[^1]);
    }

    [Fact]
    public async Task Migrate_KeepsByteOrderMarkAndCrLfLineEndings()
    {
        string site = IisTool.SiteWith("wfastcgi-flask.web.config");
        string config = Path.Combine(site, "web.config");
        string text = File.ReadAllText(config).ReplaceLineEndings("\r\n");
        File.WriteAllBytes(config, [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes(text)]);

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        byte[] bytes = File.ReadAllBytes(config);
        Assert.Equal([0xEF, 0xBB, 0xBF], bytes[..3]);
        string migrated = System.Text.Encoding.UTF8.GetString(bytes[3..]);
        Assert.DoesNotContain("\n", migrated.Replace("\r\n", ""));
        Assert.StartsWith(string.Join("\r\n", text.Split("\r\n")[..2]) + "\r\n", migrated);
        Assert.Single(IisTool.Load(config).Descendants("httpPlatform"));
    }

    [Fact]
    public async Task Migrate_GivenPythonAndKwsgi_QuotesPathsWithSpaces()
    {
        string site = IisTool.SiteWith("wfastcgi-django.web.config");
        string config = Path.Combine(site, "web.config");
        const string kwsgi = @"C:\Program Files\kwsgi\kwsgi.exe";
        const string python = @"C:\sites\my intranet\.venv\";
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--kwsgi", kwsgi, "--python", python, config));

        XElement section = IisTool.Section(IisTool.Load(config), "httpPlatform");
        Assert.Equal(kwsgi, (string?)section.Attribute("processPath"));
        Assert.Equal(["--port", "%HTTP_PLATFORM_PORT%", "--python", python, "django.core.wsgi:get_wsgi_application()"], IisTool.Arguments(section));
        // A trailing backslash before the closing quote is doubled, or Windows would read it as an escaped quote.
        Assert.Contains(@"""C:\sites\my intranet\.venv\\""", (string?)section.Attribute("arguments"));
    }

    [Fact]
    public async Task Migrate_VirtualenvInterpreter_GivesTheVirtualenvFolder()
    {
        string site = IisTool.NewSite();
        string config = Path.Combine(site, "web.config");
        File.WriteAllText(config, """
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <appSettings>
                <add key="WSGI_HANDLER" value="app.app" />
              </appSettings>
              <system.webServer>
                <handlers>
                  <add name="Python FastCGI" path="*" verb="*" modules="FastCgiModule"
                       scriptProcessor="C:\inetpub\app\.venv\Scripts\python.exe|C:\inetpub\app\.venv\Lib\site-packages\wfastcgi.py"
                       resourceType="Unspecified" requireAccess="Script" />
                </handlers>
              </system.webServer>
            </configuration>
            """);
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        XElement section = IisTool.Section(IisTool.Load(config), "httpPlatform");
        Assert.Equal(["--port", "%HTTP_PLATFORM_PORT%", "--python", @"C:\inetpub\app\.venv", "app:app"], IisTool.Arguments(section));
    }

    [Fact]
    public async Task Migrate_DottedHandler_SplitsWhereTheModuleFileIs()
    {
        // wfastcgi tries module "pkg.web" first, then module "pkg" with attribute chain web.wsgi_app.
        string site = IisTool.SiteWith("wfastcgi-flask.web.config");
        string config = Path.Combine(site, "web.config");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"shop.app\"", "\"pkg.web.wsgi_app\""));
        File.WriteAllText(Path.Combine(site, "pkg.py"), "");
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        Assert.Equal("pkg:web.wsgi_app", IisTool.Arguments(IisTool.Section(IisTool.Load(config), "httpPlatform"))[^1]);
    }

    [Fact]
    public async Task Migrate_KeepsOtherRewriteRules()
    {
        string site = IisTool.SiteWith("wfastcgi-rewrite.web.config");
        string config = Path.Combine(site, "web.config");
        const string https = """<rule name="HTTPS" stopProcessing="true"><match url="(.*)" /><action type="Redirect" url="https://{HTTP_HOST}/{R:1}" /></rule>""";
        File.WriteAllText(config, File.ReadAllText(config).Replace("<rules>", "<rules>\n" + https));
        XElement httpsRule = XElement.Parse(https);

        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        XElement rule = Assert.Single(IisTool.Load(config).Descendants("rule"));
        Assert.True(XNode.DeepEquals(httpsRule, rule), rule.ToString());
    }

    [Fact]
    public async Task Migrate_KwsgiAlready_ChangesNothing()
    {
        string site = IisTool.SiteWith("wfastcgi-flask.web.config");
        string config = Path.Combine(site, "web.config");
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", config));
        byte[] migrated = File.ReadAllBytes(config);

        var again = await IisTool.RunAsync(site, "migrate", config);
        IisTool.AssertSucceeded(again);
        Assert.Contains("nothing to change", again.Stdout);
        Assert.Equal(migrated, File.ReadAllBytes(config));
        Assert.False(File.Exists(config + ".bak.1"));
    }

    [Fact]
    public async Task Migrate_PrintsWhatTheUserMustDoByHand()
    {
        string site = IisTool.SiteWith("wfastcgi-django.web.config");
        var exit = await IisTool.RunAsync(site, "migrate", Path.Combine(site, "web.config"));
        IisTool.AssertSucceeded(exit);
        Assert.Contains("WSGI_HANDLER django.core.wsgi.get_wsgi_application() → app argument django.core.wsgi:get_wsgi_application()", exit.Stdout);
        Assert.Contains("To do by hand:", exit.Stdout);
        Assert.Contains("applicationHost.config", exit.Stdout);
        Assert.Contains("IIS_IUSRS", exit.Stdout);
        Assert.Contains("--reload-include", exit.Stdout);
        Assert.Equal("", exit.Stderr);
    }

    [Fact]
    public async Task Migrate_TurnsIisWebSocketModuleBackOn_ForTheHandlerToRelayWebSockets()
    {
        string site = IisTool.SiteWith("httpplatform-waitress.web.config");
        string config = Path.Combine(site, "web.config");
        // A site that copied iisnode's advice: IIS's own WebSocket module off.
        File.WriteAllText(config, File.ReadAllText(config).Replace("  </system.webServer>", "    <webSocket enabled=\"false\" />\n  </system.webServer>"));
        Assert.Single(IisTool.Load(config).Descendants("webSocket"));

        var exit = await IisTool.RunAsync(site, "migrate", config);
        IisTool.AssertSucceeded(exit);
        Assert.Empty(IisTool.Load(config).Descendants("webSocket"));
        Assert.Contains("<webSocket enabled=\"false\"> removed", exit.Stdout);
    }

    /// <summary>
    /// Every comment is still there, every element the expectations name as kept is identical, and the old
    /// handler's elements are gone.
    /// </summary>
    private static void AssertUntouched(XDocument before, XDocument after, Expected expected)
    {
        Assert.Equal(before.DescendantNodes().OfType<XComment>().Select(c => c.Value), after.DescendantNodes().OfType<XComment>().Select(c => c.Value));
        foreach (string path in expected.Kept)
        {
            var was = Find(before, path);
            var now = Find(after, path);
            Assert.NotEmpty(was);
            Assert.Equal(was.Count, now.Count);
            for (int i = 0; i < was.Count; i++)
            {
                Assert.True(XNode.DeepEquals(was[i], now[i]), $"{path} changed:\n{was[i]}\n→\n{now[i]}");
            }
        }
        foreach (string path in expected.Gone)
        {
            Assert.NotEmpty(Find(before, path));
            Assert.Empty(Find(after, path));
        }
    }

    private static List<XElement> Find(XDocument doc, string path)
    {
        IEnumerable<XElement> current = [doc.Root!];
        foreach (string name in path.Split('/'))
        {
            current = current.Elements(name);
        }
        return current.ToList();
    }
}

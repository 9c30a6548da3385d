using System.Xml.Linq;

namespace Kestrel.Wsgi.Tests.Iis;

/// <summary><c>kwsgi iis config</c>: a complete web.config for the current folder, checked as parsed XML.</summary>
public sealed class IisConfigTests
{
    private const string Python = "/usr/bin/python3";

    private static async Task<XDocument> ConfigAsync(string site, params string[] args)
    {
        var exit = await IisTool.RunAsync(site, ["config", .. args]);
        IisTool.AssertSucceeded(exit);
        return IisTool.Parse(exit.Stdout);
    }

    [Fact]
    public async Task WebSockets_AreLeftToIisWebSocketModule_AndItsFeatureIsNamed()
    {
        var exit = await IisTool.RunAsync(IisTool.NewSite(), "config", "--python", Python, "chat:app");
        IisTool.AssertSucceeded(exit);
        // No <webSocket enabled="false">: the handler relays WebSockets through IIS's module, on by default.
        Assert.Empty(IisTool.Parse(exit.Stdout).Descendants("webSocket"));
        Assert.Contains("WebSocket Protocol feature (Install-WindowsFeature Web-WebSockets)", exit.Stderr);
    }

    [Fact]
    public async Task HttpPlatform_IsTheDefault_WithAbsolutePathsLogsAndStartupTime()
    {
        XDocument config = await ConfigAsync(IisTool.NewSite(), "--python", Python, "hello:app");
        Assert.NotNull(config.Declaration);
        XElement handler = Assert.Single(IisTool.Handlers(config));
        Assert.Equal("httpPlatformHandler", (string?)handler.Attribute("modules"));
        Assert.Equal("*", (string?)handler.Attribute("path"));
        XElement section = IisTool.Section(config, "httpPlatform");
        Assert.Equal(config.Root!.Element("system.webServer"), section.Parent);
        Assert.Equal(IisTool.KwsgiExecutable, (string?)section.Attribute("processPath"));
        Assert.True(Path.IsPathRooted((string?)section.Attribute("processPath")));
        Assert.Equal(["--port", "%HTTP_PLATFORM_PORT%", "--python", Python, "hello:app"], IisTool.Arguments(section));
        Assert.Equal("true", (string?)section.Attribute("stdoutLogEnabled"));
        Assert.Equal(@".\logs\kwsgi.log", (string?)section.Attribute("stdoutLogFile"));
        Assert.True(int.Parse((string)section.Attribute("startupTimeLimit")!) >= 20);
        Assert.Empty(config.Root.Elements("location"));
    }

    [Fact]
    public async Task AspNetCore_OutOfProcess_WithoutPortArgument()
    {
        XDocument config = await ConfigAsync(IisTool.NewSite(), "--handler", "aspNetCore", "--python", Python, "hello:app");
        Assert.Equal("AspNetCoreModuleV2", (string?)Assert.Single(IisTool.Handlers(config)).Attribute("modules"));
        Assert.Empty(config.Descendants("httpPlatform"));
        XElement section = IisTool.Section(config, "aspNetCore");
        Assert.Equal("OutOfProcess", (string?)section.Attribute("hostingModel"));
        Assert.Equal(["--python", Python, "hello:app"], IisTool.Arguments(section));
        Assert.Equal(@".\logs\kwsgi", (string?)section.Attribute("stdoutLogFile"));
    }

    [Fact]
    public async Task Static_ServedByIis_IsALocationThatRemovesTheHandler()
    {
        XDocument config = await ConfigAsync(IisTool.NewSite(), "--python", Python, "--static", "/static=static", "--static", "/media/img=./media/img", "hello:app");
        string handler = (string)Assert.Single(IisTool.Handlers(config)).Attribute("name")!;
        var locations = config.Root!.Elements("location").ToList();
        Assert.Equal(["static", "media/img"], locations.Select(l => (string?)l.Attribute("path")));
        foreach (XElement location in locations)
        {
            XElement remove = Assert.Single(location.Elements("system.webServer").Elements("handlers").Elements());
            Assert.Equal("remove", remove.Name.LocalName);
            Assert.Equal(handler, (string?)remove.Attribute("name"));
        }
        Assert.DoesNotContain("--static", IisTool.Arguments(IisTool.Section(config, "httpPlatform")));
    }

    [Fact]
    public async Task Static_ServedByKwsgi_WhenAskedOrWhenTheFolderHasAnotherName()
    {
        XDocument byKwsgi = await ConfigAsync(IisTool.NewSite(), "--python", Python, "--static-by", "kwsgi", "--static", "/static=static", "hello:app");
        Assert.Empty(byKwsgi.Root!.Elements("location"));
        Assert.Equal(["--port", "%HTTP_PLATFORM_PORT%", "--python", Python, "--static", "/static=static", "hello:app"],
            IisTool.Arguments(IisTool.Section(byKwsgi, "httpPlatform")));

        XDocument renamed = await ConfigAsync(IisTool.NewSite(), "--python", Python, "--static", "/static=collected", "hello:app");
        Assert.Empty(renamed.Root!.Elements("location"));
        Assert.Contains("/static=collected", IisTool.Arguments(IisTool.Section(renamed, "httpPlatform")));
    }

    [Fact]
    public async Task PythonFolder_StaysAFolder_MadeAbsolute()
    {
        string site = IisTool.NewSite();
        // A virtualenv-shaped folder: bin/python3 → the system interpreter.
        Directory.CreateDirectory(Path.Combine(site, "venv", "bin"));
        File.CreateSymbolicLink(Path.Combine(site, "venv", "bin", "python3"), Python);
        XDocument config = await ConfigAsync(site, "--python", "venv", "hello:app");
        Assert.Equal(["--port", "%HTTP_PLATFORM_PORT%", "--python", Path.Combine(site, "venv"), "hello:app"],
            IisTool.Arguments(IisTool.Section(config, "httpPlatform")));
    }

    [Fact]
    public async Task KwsgiPathWithSpaces_IsKeptWhole()
    {
        XDocument config = await ConfigAsync(IisTool.NewSite(), "--kwsgi", "/opt/k wsgi/kwsgi", "--python", Python, "hello:app");
        Assert.Equal("/opt/k wsgi/kwsgi", (string?)IisTool.Section(config, "httpPlatform").Attribute("processPath"));
    }

    [Fact]
    public async Task Output_WritesTheFile_AndBacksUpAnExistingOne()
    {
        string site = IisTool.NewSite();
        File.WriteAllText(Path.Combine(site, "web.config"), "<configuration />");
        var exit = await IisTool.RunAsync(site, "config", "--python", Python, "--output", "web.config", "hello:app");
        IisTool.AssertSucceeded(exit);
        Assert.Equal("<configuration />", File.ReadAllText(Path.Combine(site, "web.config.bak")));
        Assert.Single(IisTool.Load(Path.Combine(site, "web.config")).Descendants("httpPlatform"));
        Assert.Contains("web.config", exit.Stdout);
    }

    [Fact]
    public async Task GeneratedConfig_CanBeMigratedToAspNetCore()
    {
        string site = IisTool.NewSite();
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "config", "--python", Python, "--static", "/static=static", "-o", "web.config", "hello:app"));
        IisTool.AssertSucceeded(await IisTool.RunAsync(site, "migrate", "--aspnetcore", "web.config"));
        XDocument config = IisTool.Load(Path.Combine(site, "web.config"));
        Assert.Equal(["--python", Python, "hello:app"], IisTool.Arguments(IisTool.Section(config, "aspNetCore")));
        // The location still removes the handler by the name it now has.
        Assert.Equal((string?)Assert.Single(IisTool.Handlers(config)).Attribute("name"),
            (string?)config.Root!.Element("location")!.Descendants("remove").Single().Attribute("name"));
    }
}

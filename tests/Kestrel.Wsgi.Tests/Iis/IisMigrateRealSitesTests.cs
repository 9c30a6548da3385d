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
}

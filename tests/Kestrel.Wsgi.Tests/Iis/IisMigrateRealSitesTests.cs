namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>
/// <c>kwsgi iis migrate</c> on the shapes real sites have (issue 13): each site folder in Iis/sites holds a
/// web.config (and the files it refers to) and expected.web.config, what the real kwsgi must write with
/// <c>--kwsgi C:\kwsgi\kwsgi.exe</c>; the summary is checked line by line where it matters.
/// </summary>
public sealed class IisMigrateRealSitesTests
{
    private const string Kwsgi = @"C:\kwsgi\kwsgi.exe";

    private static string SitesDir => Path.Combine(AppContext.BaseDirectory, "Iis", "sites");

    /// <summary>A fresh site folder with the fixture's files, without its expectations.</summary>
    private static string Site(string name)
    {
        string site = IisTool.NewSite();
        foreach (string file in Directory.GetFiles(Path.Combine(SitesDir, name)).Where(f => !Path.GetFileName(f).StartsWith("expected", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(site, Path.GetFileName(file)));
        }
        return site;
    }

    private static string Expected(string name, string file = "expected.web.config") => File.ReadAllText(Path.Combine(SitesDir, name, file));

    /// <summary>Migrates the fixture with the extra arguments; asserts it wrote exactly the expected file and returns stdout.</summary>
    private static async Task<string> MigrateAsync(string name, params string[] args)
    {
        string site = Site(name);
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
}

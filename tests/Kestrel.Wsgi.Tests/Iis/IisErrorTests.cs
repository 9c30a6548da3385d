namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>Every mistake: exit code 2, one "kwsgi: …" line saying what is wrong, and no file touched.</summary>
public sealed class IisErrorTests
{
    private static readonly Dictionary<string, string> s_files = new()
    {
        ["php.config"] = """
            <configuration><system.webServer><handlers>
              <add name="PHP" path="*.php" verb="*" modules="FastCgiModule" scriptProcessor="C:\php\php-cgi.exe" resourceType="Either" />
            </handlers></system.webServer></configuration>
            """,
        ["node.config"] = """
            <configuration><system.webServer>
              <handlers><add name="httpPlatformHandler" path="*" verb="*" modules="httpPlatformHandler" /></handlers>
              <httpPlatform processPath="C:\Program Files\nodejs\node.exe" arguments="server.js" />
            </system.webServer></configuration>
            """,
        ["empty.config"] = "<configuration />",
        ["nohandler.config"] = """
            <configuration><system.webServer><handlers>
              <add name="Python" path="*" verb="*" modules="FastCgiModule" scriptProcessor="C:\Python312\python.exe|C:\Python312\Lib\site-packages\wfastcgi.py" />
            </handlers></system.webServer></configuration>
            """,
        ["notxml.config"] = "<configuration><system.webServer></configuration>",
        ["html.config"] = "<html><body>not a web.config</body></html>",
    };

    [Theory]
    [InlineData("no subcommand", "", "subcommand")]
    [InlineData("unknown subcommand", "frobnicate", "frobnicate")]
    [InlineData("migrate without a file", "migrate", "migrate")]
    [InlineData("missing file", "migrate nosuch.config", "nosuch.config")]
    [InlineData("a folder", "migrate .", "folder")]
    [InlineData("not XML", "migrate notxml.config", "not XML")]
    [InlineData("not a web.config", "migrate html.config", "<html>")]
    [InlineData("PHP under FastCGI", "migrate php.config", @"C:\php\php-cgi.exe")]
    [InlineData("node under httpPlatform", "migrate node.config", "node.exe")]
    [InlineData("no handlers at all", "migrate empty.config", "no handler")]
    [InlineData("wfastcgi without WSGI_HANDLER", "migrate nohandler.config", "--app")]
    [InlineData("unknown option", "migrate --frobnicate php.config", "--frobnicate")]
    [InlineData("two files", "migrate php.config node.config", "node.config")]
    [InlineData("config without APP", "config --python /usr/bin/python3", "APP")]
    [InlineData("bad --handler", "config --handler fastcgi hello:app", "fastcgi")]
    [InlineData("bad --static-by", "config --static-by nginx hello:app", "nginx")]
    [InlineData("bad --static", "config --static static hello:app", "--static static")]
    [InlineData("missing Python", "config --python /nonexistent/python3 hello:app", "/nonexistent/python3")]
    [InlineData("unknown config option", "config --workers 4 hello:app", "--workers")]
    public async Task BadInput_ExitsWithCode2_AndOneLine(string what, string args, string mentioned)
    {
        _ = what;
        string site = IisTool.NewSite();
        foreach (var (name, text) in s_files)
        {
            File.WriteAllText(Path.Combine(site, name), text);
        }
        var exit = await IisTool.RunAsync(site, args.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        IisTool.AssertCleanFailure(exit, mentioned);
        Assert.Equal(s_files.Keys.Order(StringComparer.Ordinal), Directory.GetFiles(site).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var (name, text) in s_files)
        {
            Assert.Equal(text, File.ReadAllText(Path.Combine(site, name)));
        }
    }
}

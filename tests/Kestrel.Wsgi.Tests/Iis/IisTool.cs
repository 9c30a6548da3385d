using System.Text;
using System.Xml.Linq;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Iis;

/// <summary>Runs the real <c>kwsgi iis …</c> and reads the web.config files it writes.</summary>
public static class IisTool
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static string ExamplesDir => Path.Combine(AppContext.BaseDirectory, "Iis", "examples");

    public static IEnumerable<string> ExampleNames =>
        Directory.GetFiles(ExamplesDir, "*.web.config").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal);

    /// <summary>The kwsgi executable a config written by this build names (its apphost; under `dotnet kwsgi.dll`, the apphost next to it).</summary>
    public static string KwsgiExecutable =>
        TestPaths.Apphost ?? Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "kwsgi.exe" : "kwsgi");

    public static Task<KwsgiExit> RunAsync(string workingDirectory, params string[] args) =>
        KwsgiProcess.RunToExitAsync(["iis", .. args], Timeout, workingDirectory: workingDirectory);

    private static readonly List<string> s_sites = CreateSiteList();

    private static List<string> CreateSiteList()
    {
        var sites = new List<string>();
        // The site folders of a test run go when the test host exits (the servers started in them are gone by then).
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (sites)
            {
                foreach (string site in sites)
                {
                    try
                    {
                        Directory.Delete(site, recursive: true);
                    }
                    catch (IOException)
                    {
                    }
                    catch (UnauthorizedAccessException)
                    {
                    }
                }
            }
        };
        return sites;
    }

    /// <summary>A fresh, empty site folder in the temp folder, deleted when the test run ends.</summary>
    public static string NewSite()
    {
        string site = Directory.CreateTempSubdirectory("kwsgi-iis-").FullName;
        lock (s_sites)
        {
            s_sites.Add(site);
        }
        return site;
    }

    /// <summary>A fresh site folder holding the example as web.config.</summary>
    public static string SiteWith(string example)
    {
        string site = NewSite();
        File.Copy(Path.Combine(ExamplesDir, example), Path.Combine(site, "web.config"));
        return site;
    }

    /// <summary>The sites in the shapes of issue 13: a folder each, with web.config, the files it refers to, and expected*.</summary>
    public static string SitesDir => Path.Combine(AppContext.BaseDirectory, "Iis", "sites");

    /// <summary>A fresh site folder with a fixture's files (Iis/sites/NAME), without its expectations.</summary>
    public static string SiteFrom(string fixture)
    {
        string site = NewSite();
        foreach (string file in Directory.GetFiles(Path.Combine(SitesDir, fixture)).Where(f => !Path.GetFileName(f).StartsWith("expected", StringComparison.Ordinal)))
        {
            File.Copy(file, Path.Combine(site, Path.GetFileName(file)));
        }
        return site;
    }

    public static XDocument Load(string path) => XDocument.Load(path, LoadOptions.PreserveWhitespace);

    public static XDocument Parse(string text) => XDocument.Parse(text, LoadOptions.PreserveWhitespace);

    public static XElement Section(XDocument doc, string name)
    {
        var sections = doc.Descendants(name).ToList();
        Assert.True(sections.Count == 1, $"expected one <{name}>, found {sections.Count}:\n{doc}");
        return sections[0];
    }

    public static List<XElement> Handlers(XDocument doc) =>
        doc.Descendants("handlers").Where(h => h.Parent?.Parent == doc.Root).SelectMany(h => h.Elements("add")).ToList();

    public static Dictionary<string, string> Environment(XElement section) =>
        section.Elements("environmentVariables").Elements("environmentVariable")
            .ToDictionary(v => (string)v.Attribute("name")!, v => (string)v.Attribute("value")!);

    /// <summary>arguments= split as Windows splits a command line (quotes group; backslashes are literal unless before a quote).</summary>
    public static List<string> Arguments(XElement section) => SplitWindows((string?)section.Attribute("arguments") ?? "");

    public static List<string> SplitWindows(string line)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        bool inQuotes = false, any = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (c == '\\')
            {
                int n = 0;
                while (i < line.Length && line[i] == '\\')
                {
                    n++;
                    i++;
                }
                if (i < line.Length && line[i] == '"')
                {
                    current.Append('\\', n / 2);
                    if (n % 2 == 1)
                    {
                        current.Append('"');
                    }
                    else
                    {
                        inQuotes = !inQuotes;
                    }
                }
                else
                {
                    current.Append('\\', n);
                    i--;
                }
                any = true;
            }
            else if (c == '"')
            {
                inQuotes = !inQuotes;
                any = true;
            }
            else if (c == ' ' && !inQuotes)
            {
                if (any)
                {
                    args.Add(current.ToString());
                    current.Clear();
                    any = false;
                }
            }
            else
            {
                current.Append(c);
                any = true;
            }
        }
        if (any)
        {
            args.Add(current.ToString());
        }
        return args;
    }

    /// <summary>A failure as the server reports one: exit code 2, one "kwsgi: …" line on stderr, no .NET exception text.</summary>
    public static void AssertCleanFailure(KwsgiExit exit, string? mentioned = null)
    {
        Assert.True(exit.ExitCode == 2, $"expected exit code 2; {exit}");
        string[] lines = exit.Stderr.TrimEnd('\r', '\n').Split('\n');
        Assert.True(lines.Length == 1 && lines[0].StartsWith("kwsgi: ", StringComparison.Ordinal), $"expected one 'kwsgi: …' line on stderr; {exit}");
        Assert.DoesNotContain("Exception", exit.Stderr + exit.Stdout);
        Assert.DoesNotContain("   at ", exit.Stderr + exit.Stdout);
        if (mentioned is not null)
        {
            Assert.True(lines[0].Contains(mentioned, StringComparison.Ordinal), $"the message does not mention {mentioned}: {lines[0]}");
        }
    }

    public static void AssertSucceeded(KwsgiExit exit) => Assert.True(exit.ExitCode == 0, $"kwsgi iis failed; {exit}");
}

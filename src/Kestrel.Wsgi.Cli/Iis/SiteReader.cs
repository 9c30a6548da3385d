using System.Xml.Linq;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>Finds out how a web.config serves its Python app; says what it found when it is none of the known ways.</summary>
internal static class SiteReader
{
    public static PythonSite Read(XDocument doc, string path, string siteFolder)
    {
        PythonSite? site = WfastcgiSite.TryRead(doc, siteFolder) ?? HeliconZooSite.TryRead(doc, siteFolder);
        string? proxied = null;
        site ??= ProxiedServerSite.TryRead(doc, siteFolder, out proxied);
        return site ?? throw new UsageException($"{path} has no Python handler kwsgi iis migrate knows (wfastcgi, Helicon Zoo, waitress, a Python script): found {Describe(doc, proxied)}; to serve a Python app from this site, write a new web.config with kwsgi iis config module:attr");
    }

    private static string Describe(XDocument doc, string? proxied)
    {
        var found = new List<string>();
        if (proxied is not null)
        {
            found.Add(proxied);
        }
        foreach (XElement add in doc.Named("handlers").SelectMany(h => h.Children("add")))
        {
            if (found.Count == 4)
            {
                found.Add("…");
                break;
            }
            string what = add.Attr("scriptProcessor") is { } processor ? $"{add.Attr("modules")} running {processor}" : add.Attr("modules") ?? add.Attr("type") ?? "?";
            found.Add($"handler \"{add.Attr("name")}\" ({what}, path {add.Attr("path")})");
        }
        return found.Count > 0 ? string.Join("; ", found) : "no handler entries and no <httpPlatform> or <aspNetCore> section";
    }
}

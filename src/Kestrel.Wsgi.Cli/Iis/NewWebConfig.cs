using System.Xml.Linq;
using Kestrel.Wsgi.Front.StaticFiles;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// A complete web.config for a site folder: the handler, how to start kwsgi, and the static folders.
/// A static folder whose URL is its own path in the site (<c>/static=static</c>) is served by IIS's
/// StaticFileModule (a <c>&lt;location&gt;</c> that removes the handler: no hop through kwsgi); any other, or
/// every one with <c>--static-by kwsgi</c>, by kwsgi's <c>--static</c>.
/// </summary>
internal static class NewWebConfig
{
    public static XDocument Create(HandlerWriter writer, string kwsgiPath, string python, string app,
        IReadOnlyList<StaticMount> statics, bool staticByKwsgi, List<string> notes)
    {
        var arguments = new List<string>(writer.PortArguments) { "--python", python };
        var iisServed = new List<StaticMount>();
        foreach (StaticMount mount in statics)
        {
            if (!staticByKwsgi && SitePath(mount) is not null)
            {
                iisServed.Add(mount);
                continue;
            }
            arguments.AddRange(["--static", $"{mount.UrlPath}={mount.Folder}"]);
            if (!staticByKwsgi)
            {
                notes.Add($"--static {mount.UrlPath}={mount.Folder}: IIS serves a folder only at its own path in the site, so kwsgi serves this one.");
            }
        }
        arguments.Add(app);

        var webServer = new XElement("system.webServer",
            new XElement("handlers", writer.HandlerEntry(XNamespace.None, writer.DefaultHandlerName)),
            writer.Section(XNamespace.None, new KwsgiLaunch(kwsgiPath, arguments, [], [])));
        var configuration = new XElement("configuration", webServer);
        foreach (StaticMount mount in iisServed)
        {
            configuration.Add(new XElement("location",
                new XAttribute("path", SitePath(mount)!),
                new XElement("system.webServer",
                    new XElement("handlers", new XElement("remove", new XAttribute("name", writer.DefaultHandlerName))))));
            notes.Add($"{mount.UrlPath}: served by IIS from the folder {SitePath(mount)} (files with a MIME type IIS knows; add <mimeMap> entries for others).");
        }
        XmlLayout.Format(configuration, "", "  ");
        return new XDocument(
            new XText("\n"),
            new XComment(" Written by kwsgi iis config; see docs/iis.md in kwsgi's repository. "),
            new XText("\n"),
            configuration,
            new XText("\n"));
    }

    /// <summary>The URL path as a site folder ("static", "assets/img") when the mount's folder is exactly that; else null.</summary>
    private static string? SitePath(StaticMount mount)
    {
        string folder = mount.Folder.Replace('\\', '/').TrimEnd('/');
        while (folder.StartsWith("./", StringComparison.Ordinal))
        {
            folder = folder[2..];
        }
        string url = mount.UrlPath.TrimStart('/');
        return string.Equals(folder, url, StringComparison.OrdinalIgnoreCase) ? url : null;
    }
}

using System.Xml.Linq;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Rewrites a web.config in memory so IIS starts kwsgi: the old handler entry becomes the reverse-proxy one
/// (same name, so <c>&lt;location&gt;</c> elements removing it still work), a section says how to start kwsgi,
/// and the settings that belonged to the old handler are removed. Nothing else is touched.
/// </summary>
internal static class WebConfigMigration
{
    /// <param name="python">--python as given on the command line (overrides what the file says).</param>
    /// <param name="app">--app as given on the command line (overrides what the file says).</param>
    /// <returns>False when the file already starts kwsgi the asked way (nothing changed).</returns>
    /// <param name="kwsgiGiven">True when --kwsgi named <paramref name="kwsgiPath"/>; else it is the kwsgi running this command.</param>
    public static bool Apply(XDocument doc, PythonSite site, HandlerWriter writer, string kwsgiPath, bool kwsgiGiven, string? python, string? app)
    {
        if (python is not null)
        {
            site.Changes.RemoveAll(c => c.StartsWith("--python ", StringComparison.Ordinal));
            site.Changes.Insert(0, $"--python {python} (given)");
            site.Python = python;
        }
        if (app is not null)
        {
            site.Changes.Add($"app argument {app} (given)");
            site.App = app;
        }
        if (site.App is null)
        {
            throw new UsageException(site.WithoutApp ?? $"the {site.Kind} configuration does not name the app: pass --app module:attr");
        }
        if (site.RunsKwsgi && site.Section!.Name.LocalName == writer.SectionName && python is null && app is null)
        {
            return false;
        }

        if (site.MountPoint is var (mount, from))
        {
            AddUrlPrefix(site, writer, mount, from);
        }
        var arguments = new List<string>(writer.PortArguments);
        if (site.Python is not null)
        {
            arguments.AddRange(["--python", site.Python]);
        }
        arguments.AddRange(site.Options);
        arguments.Add(site.App);
        XNamespace ns = doc.Root!.Name.Namespace;

        if (site.Section is { } existing && existing.Name.LocalName == writer.SectionName)
        {
            // Same handler, another server behind it: only the command changes.
            site.Changes.Insert(0, $"<{writer.SectionName}> processPath {existing.Attr("processPath")} → {kwsgiPath}");
            existing.SetAttributeValue("processPath", kwsgiPath);
            existing.SetAttributeValue("arguments", WindowsCommandLine.Join(arguments));
        }
        else
        {
            var attributes = site.SectionAttributes.Where(a => writer.KnownAttributes.Contains(a.Key)).ToList();
            var dropped = site.SectionAttributes.Where(a => !writer.KnownAttributes.Contains(a.Key)).Select(a => a.Key).ToList();
            if (dropped.Count > 0)
            {
                site.Notes.Add($"<{writer.SectionName}> has no {string.Join(", ", dropped)}: not carried over.");
            }
            XElement section = writer.Section(ns, new KwsgiLaunch(kwsgiPath, arguments, site.Environment, attributes));
            ReplaceHandlers(site, writer, section, ns);
            site.Changes.Insert(0, $"{site.Kind} → <{writer.SectionName}> starting {kwsgiPath}");
        }
        site.Changes.Insert(1, $"arguments=\"{WindowsCommandLine.Join(arguments)}\"");
        if (!kwsgiGiven)
        {
            // processPath is read by IIS on its own machine; this kwsgi may be the one on a build machine or in WSL.
            site.Changes.Insert(1, $"processPath {kwsgiPath}: the kwsgi that ran this command (--kwsgi PATH names the one IIS is to start)");
            if (!IsWindowsPath(kwsgiPath))
            {
                site.Notes.Add($"processPath is {kwsgiPath}, which is not a Windows path: run again with --kwsgi C:\\path\\to\\kwsgi.exe (where kwsgi is on the IIS server), or edit processPath.");
            }
        }

        var parents = site.Obsolete.Select(e => e.Parent).OfType<XElement>().Distinct().ToList();
        foreach (XElement obsolete in site.Obsolete)
        {
            XmlLayout.Remove(obsolete);
        }
        foreach (XElement parent in parents.Where(p => p.Name.LocalName is "appSettings" or "heliconZoo" && XmlLayout.IsEmpty(p)))
        {
            XmlLayout.Remove(parent);
            site.Changes.Add($"empty <{parent.Name.LocalName}> removed");
        }
        // The handler relays an upgraded connection through IIS's WebSocket module (docs/iis.md, WebSockets); a site
        // that turned it off (as iisnode sites must) would refuse an ASGI app's WebSockets.
        foreach (XElement off in doc.Named("webSocket").Where(e => e.Parent?.Name.LocalName == "system.webServer"
            && string.Equals(e.Attr("enabled"), "false", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            XmlLayout.Remove(off);
            site.Changes.Add("<webSocket enabled=\"false\"> removed: the handler passes WebSockets to kwsgi only through IIS's WebSocket module");
        }
        if (python is null && site.PythonNamedBy is { } named && PythonVersionName.Guess(named) is { } version && version < PythonVersionName.Oldest)
        {
            site.Notes.Add(version.Major == 2
                ? $"{named} looks like Python {version}; kwsgi embeds Python {PythonVersionName.Oldest} or later: port the app to Python 3 and pass --python with one (run kwsgi iis migrate again, or edit arguments=)."
                : $"{named} looks like Python {version}; kwsgi embeds Python {PythonVersionName.Oldest} or later (pythonnet's floor): pass --python with a newer one and check the app and its packages on it.");
        }
        AddNotes(site, writer);
        return true;
    }

    private static void ReplaceHandlers(PythonSite site, HandlerWriter writer, XElement section, XNamespace ns)
    {
        if (site.Section is not null)
        {
            XmlLayout.Replace(site.Section, section);
        }
        if (site.Handlers.Count == 0)
        {
            // The proxy handler is inherited from the server level: ask for the other one here.
            XElement webServer = section.Parent!;
            XElement? list = webServer.Children("handlers").FirstOrDefault();
            if (list is null)
            {
                list = new XElement(ns + "handlers");
                XmlLayout.Append(webServer, list);
            }
            XmlLayout.Append(list, writer.HandlerEntry(ns, writer.DefaultHandlerName));
            site.Changes.Add($"handler \"{writer.DefaultHandlerName}\" ({writer.Module}) added");
            return;
        }
        // One entry keeps its name: <location> elements that remove it by name (to let IIS serve a static folder) still
        // work. The other proxy's conventional name would mislead, unless something refers to it.
        XElement handlers = site.Handlers[0].Parent!;
        string? oldName = site.Handlers.Count == 1 ? site.Handlers[0].Attr("name") : null;
        bool referenced = handlers.Document!.Named("remove").Any(r => r.Parent?.Name.LocalName == "handlers" && r.Attr("name") == oldName);
        string name = oldName is null || (oldName is "httpPlatformHandler" or "aspNetCore" && !referenced) ? writer.DefaultHandlerName : oldName;
        XmlLayout.Replace(site.Handlers[0], writer.HandlerEntry(ns, name));
        foreach (XElement other in site.Handlers.Skip(1))
        {
            XmlLayout.Remove(other);
        }
        site.Changes.Add(site.Handlers.Count == 1
            ? $"handler \"{name}\": {site.Handlers[0].Attr("modules")} → {writer.Module}, path *"
            : $"handlers {string.Join(", ", site.Handlers.Select(h => $"\"{h.Attr("name")}\""))} → one handler \"{name}\" ({writer.Module})");
        if (site.Section is null)
        {
            XmlLayout.InsertAfter(handlers, section);
        }

        var oldNames = site.Handlers.Select(h => h.Attr("name")).Where(n => n is not null && n != name).ToHashSet();
        foreach (XElement remove in handlers.Document!.Named("remove").Where(r => r.Parent?.Name.LocalName == "handlers" && oldNames.Contains(r.Attr("name"))))
        {
            site.Notes.Add($"A <remove name=\"{remove.Attr("name")}\"> still names the old handler: change it to name=\"{name}\".");
        }
    }

    private static bool IsWindowsPath(string path) =>
        (path.Length >= 3 && char.IsAsciiLetter(path[0]) && path[1] == ':' && path[2] is '\\' or '/') || path.StartsWith(@"\\", StringComparison.Ordinal) || path.StartsWith('%');

    /// <summary>
    /// The app's mount point becomes SCRIPT_NAME through --url-prefix. IIS's own variable for it
    /// (%APPL_VIRTUAL_PATH%) is unknown in web.config: ANCM passes it to kwsgi, HttpPlatformHandler does not.
    /// </summary>
    private static void AddUrlPrefix(PythonSite site, HandlerWriter writer, string mount, string from)
    {
        string value = mount.Trim();
        if (value.Equals("%APPL_VIRTUAL_PATH%", StringComparison.OrdinalIgnoreCase))
        {
            if (writer is AspNetCoreWriter)
            {
                site.Changes.Add($"{from} {value} dropped: the ASP.NET Core Module passes the IIS application's path (ASPNETCORE_APPL_PATH), which kwsgi makes SCRIPT_NAME");
            }
            else
            {
                site.Changes.Add($"{from} {value} dropped");
                site.Notes.Add($"{from} was {value}, the IIS application's path, which HttpPlatformHandler does not pass on: if the site is an IIS application " +
                    "below the root (/blog), add --url-prefix /blog to arguments= (or migrate with --aspnetcore: the ASP.NET Core Module passes it).");
            }
        }
        else if (!value.StartsWith('/'))
        {
            site.Changes.Add($"{from} {value} dropped");
            site.Notes.Add($"{from} '{value}' does not start with /, so it never matched a path: not carried over (kwsgi's --url-prefix takes /path).");
        }
        else if (value.TrimEnd('/') is { Length: > 0 } prefix)
        {
            site.Options.AddRange(["--url-prefix", prefix]);
            site.Changes.Add($"{from} {value} → --url-prefix {prefix} (SCRIPT_NAME {prefix}, PATH_INFO the rest)");
            site.Notes.Add($"kwsgi matches --url-prefix {prefix} with its case and answers 404 outside it; wfastcgi ignored case: check links that spell it otherwise.");
        }
        else
        {
            site.Changes.Add($"{from} {value} dropped: the app is at the site's root");
        }
    }

    private static void AddNotes(PythonSite site, HandlerWriter writer)
    {
        if (site.RunsKwsgi)
        {
            return;
        }
        if (writer is AspNetCoreWriter && site.Environment.Any(v => v.Value.Contains("%HTTP_PLATFORM_PORT%", StringComparison.OrdinalIgnoreCase)))
        {
            site.Notes.Add("An environment variable uses %HTTP_PLATFORM_PORT%, which ANCM does not set: the port is in ASPNETCORE_PORT.");
        }
        if (site.Section?.Name.LocalName != writer.SectionName)
        {
            site.Notes.Add(writer is AspNetCoreWriter
                ? "Install the ASP.NET Core Hosting Bundle (it brings the ASP.NET Core Module V2) on the server."
                : "Install HttpPlatformHandler v1.2 on the server if it is not there yet.");
        }
        if (site.Python is not null)
        {
            site.Notes.Add($"Let the app pool read the Python folder and kwsgi's folder, e.g. icacls \"{site.Python}\" /grant \"IIS_IUSRS:(OI)(CI)RX\" /T.");
        }
        string log = site.SectionAttributes.FirstOrDefault(a => a.Key == "stdoutLogFile").Value ?? writer.DefaultLogFile;
        if (WindowsPath.Folder(log) is { Length: > 0 } folder and not ".")
        {
            site.Notes.Add($"Create the folder {folder} (for stdoutLogFile) in the site folder and let the app pool's identity write to it.");
        }
    }
}

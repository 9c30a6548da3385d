using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Reads a Helicon Zoo site: HeliconZoo_x86/_x64 handlers whose scriptProcessor names a Python engine
/// (<c>python.2.7.wsgi</c>), and the matching <c>&lt;heliconZoo&gt;&lt;application&gt;</c> with WSGI_APP, PYTHONPATH,
/// DEPLOY_FILE, ERROR_LOG_DIR and WATCH_FILE_CHANGES_MASK.
/// </summary>
internal static partial class HeliconZooSite
{
    public static bool IsHeliconPython(XElement add) =>
        (add.Attr("modules") ?? "").StartsWith("HeliconZoo", StringComparison.OrdinalIgnoreCase)
        && (add.Attr("scriptProcessor") ?? "").StartsWith("python", StringComparison.OrdinalIgnoreCase);

    // Helicon Zoo expanded the site's physical path; IIS's reverse-proxy handlers start the process in that folder.
    [GeneratedRegex(@"%APPL_PHYSICAL_PATH%(?<sep>[\\/]?)", RegexOptions.IgnoreCase)]
    private static partial Regex PhysicalPathRegex();

    public static PythonSite? TryRead(XDocument doc, string siteFolder)
    {
        var handlers = doc.Named("handlers").SelectMany(h => h.Children("add")).Where(IsHeliconPython).ToList();
        if (handlers.Count == 0)
        {
            return null;
        }
        if (handlers.Select(h => h.Parent).Distinct().Count() > 1)
        {
            throw new Hosting.UsageException("Helicon Zoo handlers are declared in several places in this web.config; kwsgi iis migrate handles one <handlers> list: migrate it by hand (see docs/iis.md)");
        }
        string engine = handlers[0].Attr("scriptProcessor")!;
        var site = new PythonSite { Kind = $"Helicon Zoo ({engine})", Handlers = handlers };

        // Zoo names an application after its handler: "blog.project" for "blog.project#x64", or one per bitness,
        // "django.project.x86" and "django.project.x64". Every one of them goes; their settings are one site's.
        var names = handlers.Select(h => h.Attr("name") ?? "")
            .SelectMany(n => new[] { n, n.Replace('#', '.'), n.Split('#')[0] })
            .ToHashSet(StringComparer.OrdinalIgnoreCase);
        var applications = doc.Named("heliconZoo").SelectMany(z => z.Children("application")).ToList();
        var mine = applications.Where(a => names.Contains(a.Attr("name") ?? "")).ToList();
        if (mine.Count == 0 && applications.Count == 1)
        {
            mine = applications;
        }
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        // The 64-bit application first: its value wins where the two differ (an app pool is 64-bit unless told otherwise).
        foreach (XElement application in mine.OrderBy(a => (a.Attr("name") ?? "").Contains("x64", StringComparison.OrdinalIgnoreCase) ? 0 : 1))
        {
            site.Obsolete.Add(application);
            site.Changes.Add($"<heliconZoo> application \"{application.Attr("name")}\" removed");
            foreach (XElement variable in application.Children("environmentVariables").SelectMany(e => e.Children("add")))
            {
                string name = variable.Attr("name") ?? "", value = variable.Attr("value") ?? "";
                if (values.TryGetValue(name, out string? kept))
                {
                    if (kept != value)
                    {
                        site.Notes.Add($"<heliconZoo> application \"{application.Attr("name")}\" sets {name} to {value}, the other one to {kept}: {kept} was kept.");
                    }
                    continue;
                }
                values[name] = value;
                Read(name, value, site, siteFolder);
            }
        }
        foreach (XElement other in applications.Except(mine))
        {
            site.Notes.Add($"<heliconZoo> application \"{other.Attr("name")}\" belongs to no handler migrated here and stays; IIS refuses <heliconZoo> once Helicon Zoo is uninstalled: remove it then.");
        }
        if (site.App is null && site.AppRefusal is null && values.TryGetValue("DJANGO_SETTINGS_MODULE", out string? settings))
        {
            // Zoo ran Django's own WSGI handler whenever DJANGO_SETTINGS_MODULE was set and WSGI_APP was not.
            site.App = "django.core.wsgi:get_wsgi_application()";
            site.Changes.Add($"DJANGO_SETTINGS_MODULE {settings} without WSGI_APP → app argument {site.App} (Helicon Zoo's Django handler)");
        }
        site.WithoutApp = site.AppRefusal ?? $"the Helicon Zoo application{(mine.Count == 1 ? $" \"{mine[0].Attr("name")}\"" : mine.Count > 1 ? $"s {string.Join(", ", mine.Select(a => $"\"{a.Attr("name")}\""))}" : " of handler " + $"\"{handlers[0].Attr("name")}\"")} " +
            $"set{(mine.Count > 1 ? "" : "s")} neither WSGI_APP nor DJANGO_SETTINGS_MODULE: pass --app module:attr";

        site.Notes.Add($"Helicon Zoo's engine {engine} is defined in applicationHost.config, which names no interpreter here: " +
            "pass --python (an interpreter or virtualenv folder), or kwsgi uses VIRTUAL_ENV or python on the PATH of the app pool's identity.");
        site.PythonNamedBy = engine;
        site.Notes.Add("Uninstall Helicon Zoo (or remove its handlers from applicationHost.config) once no other site uses it.");
        return site;
    }

    private static void Read(string name, string value, PythonSite site, string siteFolder)
    {
        if (name.Length == 0)
        {
            return;
        }
        // APPL_PHYSICAL_PATH ends with a backslash: "%APPL_PHYSICAL_PATH%venv" and "%APPL_PHYSICAL_PATH%\venv" are both .\venv.
        string local = PhysicalPathRegex().Replace(value, m =>
            m.Groups["sep"].Value.Length > 0 || m.Index + m.Length == value.Length || value[m.Index + m.Length] == ';' ? "." + m.Groups["sep"].Value : @".\");
        switch (name.ToUpperInvariant())
        {
            case "WSGI_APP":
                try
                {
                    site.App = AppArgument.FromDottedName(value, "WSGI_APP", AppArgument.SearchFolders(siteFolder, null));
                    site.Changes.Add($"WSGI_APP {value.Trim()} → app argument {site.App}");
                }
                catch (Hosting.UsageException ex)
                {
                    site.AppRefusal = ex.Message;
                }
                break;
            case "DJANGO.ROOT":
                // mod_python's name for the mount point, which Zoo's Django handler honoured.
                site.MountPoint = (value, $"heliconZoo {name}");
                break;
            case "DEPLOY_FILE":
                site.Changes.Add("DEPLOY_FILE dropped");
                site.Notes.Add($"DEPLOY_FILE: Helicon Zoo ran {value} before starting the app; kwsgi does not. Run it as a deployment step, " +
                    $"in the site folder with the site's Python (python {value}), before IIS starts kwsgi.");
                break;
            case "ERROR_LOG_DIR":
                string log = value.TrimEnd('\\', '/') + @"\kwsgi.log";
                log = log.Contains(':') || log.StartsWith('\\') || log.StartsWith('.') ? log : @".\" + log;
                site.SectionAttributes.Add(new("stdoutLogFile", log));
                site.Changes.Add($"ERROR_LOG_DIR {value} → stdoutLogFile {log}");
                break;
            case "WATCH_FILE_CHANGES_MASK":
                site.Changes.Add("WATCH_FILE_CHANGES_MASK dropped");
                site.Notes.Add($"WATCH_FILE_CHANGES_MASK ({value}) is not carried over: to restart on its files add --reload " +
                    $"--reload-include {value} to the arguments; for deployments, --reload-file PATH, recycling the app pool or touching web.config.");
                break;
            default:
                site.AddEnvironment(name, local, value == local ? $"heliconZoo {name}" : $"heliconZoo {name} (%APPL_PHYSICAL_PATH% → .)");
                break;
        }
    }
}

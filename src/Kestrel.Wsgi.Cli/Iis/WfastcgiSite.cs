using System.Xml.Linq;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Reads a wfastcgi site: a FastCgiModule handler whose scriptProcessor is <c>python.exe|…\wfastcgi.py</c>, the
/// <c>&lt;appSettings&gt;</c> wfastcgi exports to the environment, and the URL Rewrite rule that sends every
/// request to handler.fcgi when the handler has such a path.
/// </summary>
internal static class WfastcgiSite
{
    // wfastcgi's own settings: known names are written in capitals (Windows environment names ignore case).
    private static readonly string[] s_knownNames = ["PYTHONPATH", "WSGI_LOG", "DJANGO_SETTINGS_MODULE", "WSGI_PTVSD_SECRET"];

    public static bool IsFastCgiPython(XElement add) =>
        string.Equals(add.Attr("modules"), "FastCgiModule", StringComparison.OrdinalIgnoreCase)
        && add.Attr("scriptProcessor") is { } processor
        && (processor.Contains("wfastcgi", StringComparison.OrdinalIgnoreCase) || WindowsPath.IsPython(WindowsPath.Program(processor.Split('|')[0])));

    public static PythonSite? TryRead(XDocument doc, string siteFolder)
    {
        var handlers = doc.Named("handlers").SelectMany(h => h.Children("add")).Where(IsFastCgiPython).ToList();
        if (handlers.Count == 0)
        {
            return null;
        }
        if (handlers.Select(h => h.Parent).Distinct().Count() > 1)
        {
            throw new UsageException($"wfastcgi handlers are declared in {handlers.Select(h => h.Parent).Distinct().Count()} places in this web.config; kwsgi iis migrate handles one <handlers> list: migrate it by hand (see docs/iis.md)");
        }
        string processor = handlers[0].Attr("scriptProcessor")!;
        string interpreter = processor.Split('|')[0].Trim();
        string script = processor.Contains('|') ? processor[(processor.IndexOf('|') + 1)..].Trim() : "";
        var site = new PythonSite { Kind = "wfastcgi (FastCGI)", Handlers = handlers };
        site.Python = WindowsPath.PythonHome(interpreter);
        site.PythonNamedBy = interpreter;
        site.Changes.Add($"--python {site.Python} (from the FastCGI scriptProcessor {interpreter})");

        string? handler = null, altHandler = null;
        foreach (XElement setting in doc.Root!.Children("appSettings").SelectMany(s => s.Children("add")))
        {
            string key = setting.Attr("key") ?? "";
            string value = setting.Attr("value") ?? "";
            if (key.Length == 0)
            {
                continue;
            }
            site.Obsolete.Add(setting);
            string upper = key.ToUpperInvariant();
            switch (upper)
            {
                case "WSGI_HANDLER":
                    handler = value;
                    break;
                case "WSGI_ALT_VIRTUALENV_HANDLER":
                    // PTVS's virtualenv proxy: WSGI_HANDLER is the proxy, this is the app.
                    altHandler = value;
                    break;
                case "WSGI_ALT_VIRTUALENV_ACTIVATE_THIS":
                    // …\env\Scripts\activate_this.py: the virtualenv is two folders up.
                    site.Python = WindowsPath.Folder(WindowsPath.Folder(value));
                    site.Changes[0] = $"--python {site.Python} (the virtualenv of WSGI_ALT_VIRTUALENV_ACTIVATE_THIS)";
                    break;
                case "SCRIPT_NAME":
                    // wfastcgi moves this prefix from PATH_INFO to SCRIPT_NAME: the app's mount point.
                    site.MountPoint = (value, $"appSettings {key}");
                    break;
                case "WSGI_RESTART_FILE_REGEX":
                    site.Changes.Add($"WSGI_RESTART_FILE_REGEX dropped");
                    site.Notes.Add($"WSGI_RESTART_FILE_REGEX ({value}) is not carried over: a regular expression has no glob form. " +
                        "To restart on source changes add --reload (and --reload-include GLOB for other files) to the arguments; " +
                        "for deployments, --reload-file PATH, recycling the app pool or touching web.config.");
                    break;
                default:
                    string name = s_knownNames.Contains(upper) || upper.StartsWith("WSGI_", StringComparison.Ordinal) ? upper : key;
                    site.AddEnvironment(name, value, $"appSettings {key}");
                    break;
            }
        }
        string? chosen = altHandler ?? handler;
        if (chosen is not null)
        {
            string setting = altHandler is not null ? "WSGI_ALT_VIRTUALENV_HANDLER" : "WSGI_HANDLER";
            string? pythonPath = site.Environment.FirstOrDefault(v => v.Key == "PYTHONPATH").Value;
            try
            {
                site.App = AppArgument.FromDottedName(chosen, setting, AppArgument.SearchFolders(siteFolder, pythonPath));
                site.Changes.Add($"{setting} {chosen.Trim()} → app argument {site.App}");
            }
            catch (UsageException ex)
            {
                site.WithoutApp = ex.Message; // --app still migrates the site
            }
        }
        else
        {
            site.WithoutApp = $"the wfastcgi handler \"{handlers[0].Attr("name")}\" has no WSGI_HANDLER in <appSettings> (it may be in applicationHost.config's <fastCgi> environment variables): pass --app module:attr";
        }

        FindRewriteRules(doc, handlers, site);

        site.Notes.Add($"Remove the FastCGI application of this site from applicationHost.config (IIS Manager → server → FastCGI Settings), e.g. " +
            $"%windir%\\system32\\inetsrv\\appcmd.exe set config -section:system.webServer/fastCgi /-\"[fullPath='{interpreter}',arguments='{script}']\" /commit:apphost " +
            "— only once no other site uses it.");
        return site;
    }

    /// <summary>
    /// A rule removed with its <c>&lt;serverVariables&gt;</c>: HttpPlatformHandler and ANCM send X-Forwarded-For and
    /// X-Forwarded-Proto themselves (and kwsgi trusts them from 127.0.0.1); any other variable the app loses.
    /// </summary>
    private static void DroppedServerVariables(XElement rule, PythonSite site)
    {
        foreach (XElement set in rule.Children("serverVariables").SelectMany(v => v.Children("set")))
        {
            string name = set.Attr("name") ?? "";
            string value = set.Attr("value") ?? "";
            if (name.ToUpperInvariant() is "HTTP_X_FORWARDED_FOR" or "HTTP_X_FORWARDED_PROTO")
            {
                site.Changes.Add($"server variable {name}={value} dropped with the rule \"{rule.Attr("name")}\": the reverse-proxy handler sends {HeaderOf(name)} itself, and kwsgi trusts it from 127.0.0.1");
            }
            else
            {
                site.Changes.Add($"server variable {name}={value} dropped with the rule \"{rule.Attr("name")}\"");
                site.Notes.Add($"The rule \"{rule.Attr("name")}\" also set the server variable {name} to {value}, which the app no longer gets: " +
                    "set it in a rule of its own (action type=\"None\") if the app reads it.");
            }
        }
    }

    private static string HeaderOf(string serverVariable) =>
        string.Join('-', serverVariable[5..].Split('_').Select(w => w[..1] + w[1..].ToLowerInvariant()));

    /// <summary>"^(static|content)/.*" → the folders static, content a &lt;location&gt; each; a pattern it cannot read → the folders this rule matches.</summary>
    private static string StaticAdvice(string match, string handler)
    {
        var m = System.Text.RegularExpressions.Regex.Match(match, @"^\^?/?\(?(?<names>[\w\-]+(?:\|[\w\-]+)*)\)?/");
        string removal = $"<remove name=\"{handler}\" /> in its <handlers>";
        return m.Success
            ? string.Join(" and ", m.Groups["names"].Value.Split('|').Select(n => $"<location path=\"{n}\">")) + $" with {removal}"
            : $"the folders it matches a <location> with {removal}";
    }

    /// <summary>
    /// The rules that send requests to the FastCGI script (<c>handler.fcgi/{R:1}</c>): with the new handler on
    /// path="*" they have no target any more, and only they go. The target is the handler's own path, or any
    /// <c>*.fcgi</c> file when the handler took every path (path="*": the rule then only made the URL one wfastcgi
    /// undid from X-Original-URL, which kwsgi does not read; docs/iis.md).
    /// </summary>
    private static void FindRewriteRules(XDocument doc, IReadOnlyList<XElement> handlers, PythonSite site)
    {
        var targets = handlers.Select(h => (h.Attr("path") ?? "*").TrimStart('/')).Where(p => !p.Contains('*')).ToHashSet(StringComparer.OrdinalIgnoreCase);
        bool everyPath = handlers.Any(h => (h.Attr("path") ?? "*") == "*");
        foreach (XElement rule in doc.Named("rule").Where(r => r.Parent?.Name.LocalName == "rules" && r.Parent.Parent?.Name.LocalName == "rewrite"))
        {
            XElement? action = rule.Children("action").FirstOrDefault();
            string url = (action?.Attr("url") ?? "").TrimStart('/');
            string first = url.Split('/', '?')[0];
            bool rewrites = string.Equals(action?.Attr("type") ?? "Rewrite", "Rewrite", StringComparison.OrdinalIgnoreCase);
            bool rewritesToScript = rewrites
                && first.Length > 0
                && (targets.Contains(first) || first.EndsWith(".fcgi", StringComparison.OrdinalIgnoreCase));
            if (rewritesToScript)
            {
                site.Obsolete.Add(rule);
                site.Changes.Add($"URL Rewrite rule \"{rule.Attr("name")}\" (to {action!.Attr("url")}) removed");
                DroppedServerVariables(rule, site);
                if (targets.Contains(first))
                {
                    // The handler took only this path: IIS's static file handler answered every request not rewritten.
                    site.Notes.Add($"The rewrite rule \"{rule.Attr("name")}\" sent requests to {first} and IIS served the others (existing files) itself; now every request goes to kwsgi. Serve static folders " +
                        "with kwsgi's --static /static=static in arguments=, or give them a <location> that removes the handler (see docs/iis.md). " +
                        $"The empty {first} file is no longer needed.");
                }
                else
                {
                    site.Notes.Add($"The empty {first} file (the target of the rewrite rule \"{rule.Attr("name")}\") is no longer needed.");
                }
            }
            else if (targets.Count > 0 && (rewrites || string.Equals(action?.Attr("type"), "None", StringComparison.OrdinalIgnoreCase)))
            {
                // The FastCGI handler had its own path: what this rule let through (or rewrote elsewhere) IIS answered itself.
                string match = rule.Children("match").FirstOrDefault()?.Attr("url") ?? "";
                string handler = handlers[0].Attr("name") ?? "";
                site.Notes.Add($"The rewrite rule \"{rule.Attr("name")}\" (url {match}) left requests to IIS's static file handler; with the handler on path=\"*\" " +
                    $"they now reach kwsgi: give {StaticAdvice(match, handler)}, or serve them with --static in arguments= (see docs/iis.md).");
            }
            else if (rewrites && everyPath)
            {
                // wfastcgi undid every rewrite (PATH_INFO from X-Original-URL); kwsgi leaves IIS's rewrite in place.
                site.Notes.Add($"The rewrite rule \"{rule.Attr("name")}\" (to {action?.Attr("url")}) stays: wfastcgi gave the app the URL from before the rewrite " +
                    "(X-Original-URL), kwsgi gives it the rewritten URL. Check that the app expects that, or make the rule a redirect (see docs/iis.md).");
            }
        }
    }

}

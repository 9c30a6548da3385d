using System.Xml.Linq;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Reads a site already behind a reverse-proxy handler (<c>&lt;httpPlatform&gt;</c> or <c>&lt;aspNetCore&gt;</c>)
/// that starts waitress (<c>python -m waitress … module:app</c>, <c>waitress-serve … module:app</c>) or kwsgi itself.
/// </summary>
internal static class ProxiedServerSite
{
    // waitress-serve options that take no value; every other --option does.
    private static readonly HashSet<string> s_waitressFlags =
    [
        "--call", "--help", "-h", "--ipv4", "--ipv6", "--no-ipv4", "--no-ipv6", "--expose-tracebacks", "--no-expose-tracebacks",
        "--log-untrusted-proxy-headers", "--clear-untrusted-proxy-headers", "--no-clear-untrusted-proxy-headers", "--asyncore-use-poll",
    ];

    // Where waitress and kwsgi mean the same thing.
    private static readonly HashSet<string> s_sameInKwsgi = ["--call", "--url-prefix"];

    // Decided by IIS (the address and port) or by kwsgi's own defaults.
    private static readonly HashSet<string> s_replaced = ["--port", "--host", "--listen", "-p"];

    public static bool IsSection(XElement e) => e.Name.LocalName is "httpPlatform" or "aspNetCore" && e.Parent?.Name.LocalName == "system.webServer";

    public static bool IsProxyHandler(XElement add) =>
        (add.Attr("modules") ?? "").ToLowerInvariant() is "httpplatformhandler" or "aspnetcoremodule" or "aspnetcoremodulev2";

    /// <summary>The site, or null with <paramref name="found"/> saying what the section starts instead.</summary>
    public static PythonSite? TryRead(XDocument doc, string siteFolder, out string? found)
    {
        found = null;
        XElement? section = doc.Descendants().FirstOrDefault(IsSection);
        if (section is null)
        {
            return null;
        }
        string processPath = section.Attr("processPath") ?? "";
        List<string> args = WindowsCommandLine.Split(section.Attr("arguments") ?? "");
        string program = WindowsPath.Program(processPath);
        var handlers = doc.Named("handlers").SelectMany(h => h.Children("add")).Where(IsProxyHandler).ToList();

        PythonSite site;
        if (program == "kwsgi")
        {
            site = new PythonSite { Kind = $"kwsgi ({section.Name.LocalName})", Handlers = handlers, Section = section, RunsKwsgi = true };
            ReadKwsgi(args, site);
        }
        else if (WaitressArguments(program, args) is { } waitressArgs)
        {
            site = new PythonSite { Kind = $"waitress ({section.Name.LocalName})", Handlers = handlers, Section = section };
            if (program != "py")
            {
                site.Python = WindowsPath.PythonHome(processPath);
                site.PythonNamedBy = processPath;
                site.Changes.Add($"--python {site.Python} (from processPath {processPath})");
            }
            ReadWaitress(waitressArgs, site);
        }
        else if (WindowsPath.IsPython(program))
        {
            site = PythonCommand(section, processPath, args, handlers, siteFolder);
        }
        else
        {
            found = $"<{section.Name.LocalName}> starting {WindowsCommandLine.Join([processPath, .. args])}, which is not Python";
            return null;
        }

        foreach (XElement variable in section.Children("environmentVariables").SelectMany(e => e.Children("environmentVariable")))
        {
            site.Environment.Add(new(variable.Attr("name") ?? "", variable.Attr("value") ?? ""));
        }
        foreach (XAttribute attribute in section.Attributes())
        {
            if (attribute.Name.LocalName is not ("processPath" or "arguments" or "hostingModel"))
            {
                site.SectionAttributes.Add(new(attribute.Name.LocalName, attribute.Value));
            }
        }
        return site;
    }

    /// <summary>
    /// Python starting something other than <c>-m waitress</c>: usually a script that calls waitress's serve()
    /// (run_waitress_server.py), read for its app; else Django's runserver, a Flask app.run(), another module. The
    /// site is migrated when the script names the app plainly or --app does; <see cref="PythonSite.WithoutApp"/>
    /// says which it was.
    /// </summary>
    private static PythonSite PythonCommand(XElement section, string processPath, List<string> args, List<XElement> handlers, string siteFolder)
    {
        string command = $"<{section.Name.LocalName}> starts {WindowsCommandLine.Join([processPath, .. args])}";
        int first = FirstScriptArgument(args);
        string? script = first < args.Count && args[first] is not ("-m" or "-c") ? args[first] : null;
        string name = script is null ? "" : WindowsPath.Name(script);
        var site = new PythonSite { Kind = $"python {(script is null ? string.Join(' ', args.Skip(first).Take(2)) : name)} ({section.Name.LocalName})", Handlers = handlers, Section = section };
        if (WindowsPath.Program(processPath) != "py")
        {
            site.Python = WindowsPath.PythonHome(processPath);
            site.PythonNamedBy = processPath;
            site.Changes.Add($"--python {site.Python} (from processPath {processPath})");
        }

        string? why;
        if (script is null)
        {
            why = first < args.Count && args[first] == "-m" && first + 1 < args.Count ? $"it runs the module {args[first + 1]}, not waitress" : "it runs no script";
        }
        else if (name.Equals("manage.py", StringComparison.OrdinalIgnoreCase) && args.Skip(first + 1).FirstOrDefault() == "runserver")
        {
            why = "Django's development server (manage.py runserver) serves the project's WSGI application, usually PROJECT.wsgi:application";
        }
        else if (FindScript(script, siteFolder) is not { } path)
        {
            why = $"{script} is not in the site folder here, so it could not be read";
        }
        else
        {
            RunnerScript.Reading reading = ReadScript(path);
            why = reading.Refusal is null ? null : $"{name} is not a plain waitress serve(app, …) call ({reading.Refusal})";
            if (reading.App is not null)
            {
                site.App = reading.App;
                site.Options.AddRange(reading.Options);
                site.Changes.Add($"{name} (waitress's serve(), read, not run) → app argument {reading.App}");
                if (reading.Options.Count > 0)
                {
                    site.Changes.Add($"{name}: serve(url_prefix=…) → {string.Join(' ', reading.Options)}");
                }
                if (reading.Dropped.Count > 0)
                {
                    site.Changes.Add($"{name}: serve() options dropped: {string.Join(", ", reading.Dropped)}");
                    site.Notes.Add($"waitress options without a kwsgi equivalent were dropped ({string.Join(", ", reading.Dropped)}); " +
                        "kwsgi runs --workers processes (default: one per core) × --threads each (default 4): see kwsgi --help.");
                }
            }
        }
        site.WithoutApp = $"{command}: {why ?? "the app is not named"}: pass --app module:attr, the WSGI app it serves, to migrate it to kwsgi";
        if (script is not null)
        {
            site.Notes.Add($"kwsgi imports the app itself and no longer runs {name}: move anything else it did before serving " +
                "(os.environ, sys.path, logging set-up) into the app's module or <environmentVariables>.");
        }
        return site;
    }

    /// <summary>The index of the first argument after the interpreter's own options (-u, -B, -X utf8, -W ignore …).</summary>
    private static int FirstScriptArgument(List<string> args)
    {
        int i = 0;
        while (i < args.Count && args[i].StartsWith('-') && args[i] is not ("-m" or "-c"))
        {
            i += args[i] is "-X" or "-W" ? 2 : 1;
        }
        return i;
    }

    /// <summary>The script on this machine: as written when it exists here, else where it would be in the site folder.</summary>
    private static string? FindScript(string script, string siteFolder)
    {
        string unquoted = script.Trim('"');
        string relative = unquoted.Replace('\\', Path.DirectorySeparatorChar).TrimStart('.', Path.DirectorySeparatorChar);
        string[] candidates =
        [
            unquoted,
            Path.Combine(siteFolder, relative),
            Path.Combine(siteFolder, WindowsPath.Name(unquoted)),
        ];
        return candidates.FirstOrDefault(c => !c.Contains('%') && File.Exists(c));
    }

    private static RunnerScript.Reading ReadScript(string path)
    {
        try
        {
            var info = new FileInfo(path);
            // A runner script is a few lines; anything large is not one.
            return info.Length > 256 * 1024 ? new RunnerScript.Reading(null, [], [], "it is larger than a runner script") : RunnerScript.Read(File.ReadAllText(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new RunnerScript.Reading(null, [], [], $"it cannot be read: {ex.Message}");
        }
    }

    /// <summary>waitress-serve's arguments, from either form of starting it; null when the command is something else.</summary>
    private static List<string>? WaitressArguments(string program, List<string> args)
    {
        if (program == "waitress-serve")
        {
            return args;
        }
        if (!WindowsPath.IsPython(program))
        {
            return null;
        }
        // Interpreter options (-u, -B, -O, -X utf8…) before "-m waitress".
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "-m" && i + 1 < args.Count)
            {
                return args[i + 1] == "waitress" ? args[(i + 2)..] : null;
            }
            if (args[i] == "-X" || args[i] == "-W")
            {
                i++;
            }
            else if (!args[i].StartsWith('-'))
            {
                return null;
            }
        }
        return null;
    }

    private static void ReadWaitress(List<string> args, PythonSite site)
    {
        var dropped = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            if (!arg.StartsWith('-'))
            {
                try
                {
                    site.App = AppArgument.FromDottedName(arg, "waitress's app", []);
                    site.Changes.Add($"waitress app {arg} → app argument {site.App}");
                }
                catch (Hosting.UsageException ex)
                {
                    site.WithoutApp = ex.Message;
                }
                continue;
            }
            string name = arg.Split('=', 2)[0];
            string? value = arg.Contains('=') ? arg[(arg.IndexOf('=') + 1)..] : null;
            if (value is null && !s_waitressFlags.Contains(name) && i + 1 < args.Count)
            {
                value = args[++i];
            }
            if (s_sameInKwsgi.Contains(name))
            {
                site.Options.Add(name);
                if (value is not null)
                {
                    site.Options.Add(value);
                }
            }
            else if (!s_replaced.Contains(name))
            {
                dropped.Add(value is null ? name : $"{name} {value}");
            }
        }
        if (dropped.Count > 0)
        {
            site.Changes.Add($"waitress options dropped: {string.Join(", ", dropped)}");
            site.Notes.Add($"waitress options without a kwsgi equivalent were dropped ({string.Join(", ", dropped)}); " +
                "kwsgi runs --workers processes (default: one per core) × --threads each (default 4): see kwsgi --help.");
        }
    }

    private static void ReadKwsgi(List<string> args, PythonSite site)
    {
        for (int i = 0; i < args.Count; i++)
        {
            string name = args[i].Split('=', 2)[0];
            if (name is "--port" or "-p")
            {
                i += args[i].Contains('=') ? 0 : 1;
            }
            else if (name == "--python" && !args[i].Contains('=') && i + 1 < args.Count)
            {
                site.Python = args[++i];
            }
            else if (i == args.Count - 1 && !args[i].StartsWith('-'))
            {
                site.App = args[i];
            }
            else
            {
                site.Options.Add(args[i]);
            }
        }
    }
}

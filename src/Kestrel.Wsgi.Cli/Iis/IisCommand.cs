using System.CommandLine;
using Kestrel.Wsgi.Front.StaticFiles;
using Kestrel.Wsgi.Hosting;
using Kestrel.Wsgi.Python;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// <c>kwsgi iis migrate</c> and <c>kwsgi iis config</c>: write the web.config that has IIS start kwsgi.
/// Every user error is one line on stderr and exit code 2, as for the server itself.
/// </summary>
internal static class IisCommand
{
    private const int UsageError = 2;

    private static readonly Argument<string> s_webConfig = new("web.config") { Description = "The web.config to rewrite (a wfastcgi, Helicon Zoo or waitress site)." };
    private static readonly Option<bool> s_aspNetCore = new("--aspnetcore") { Description = "Write the ASP.NET Core Module form (<aspNetCore hostingModel=\"OutOfProcess\">) instead of <httpPlatform>." };
    private static readonly Option<bool> s_dryRun = new("--dry-run") { Description = "Print the new web.config instead of writing it (the summary goes to stderr)." };
    private static readonly Option<string?> s_app = new("--app") { Description = "The app argument, when the web.config does not name it (module:attr)." };

    private static readonly Argument<string> s_configApp = new("APP") { Description = "The WSGI app, as kwsgi takes it: module:attr, module:factory()." };
    private static readonly Option<string> s_handler = new("--handler") { Description = "httpPlatform (default) or aspNetCore.", DefaultValueFactory = _ => "httpPlatform" };
    private static readonly Option<string[]> s_static = new("--static")
    {
        Description = "A static folder, as URL=FOLDER (repeatable). IIS serves it when FOLDER is the URL's own path in the site, else kwsgi does.",
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly Option<string> s_staticBy = new("--static-by") { Description = "Who serves the --static folders: iis (default, where it can) or kwsgi.", DefaultValueFactory = _ => "iis" };
    private static readonly Option<string?> s_output = new("--output", "-o") { Description = "Write the web.config to this file (an existing one is backed up) instead of printing it." };

    // Both subcommands: separate instances, an option belongs to one command.
    private static Option<string?> KwsgiOption() => new("--kwsgi") { Description = "The kwsgi executable IIS starts (default: this one)." };

    private static Option<string?> PythonOption() => new("--python") { Description = "The Python to embed: an interpreter or a virtualenv folder." };

    public static int Run(string[] args)
    {
        Option<string?> migrateKwsgi = KwsgiOption(), migratePython = PythonOption(), configKwsgi = KwsgiOption(), configPython = PythonOption();
        var migrate = new Command("migrate", "Rewrite a wfastcgi, Helicon Zoo or waitress web.config to start kwsgi (a backup is kept).")
        {
            s_webConfig, s_aspNetCore, migrateKwsgi, migratePython, s_app, s_dryRun,
        };
        var config = new Command("config", "Print a complete web.config that serves APP from the current folder with kwsgi.")
        {
            s_configApp, s_handler, configKwsgi, configPython, s_static, s_staticBy, s_output,
        };
        var root = new RootCommand("kwsgi: a WSGI server on Kestrel.") { new Command("iis", "Write web.config files for IIS.") { migrate, config } };
        ParseResult parsed = root.Parse(["iis", .. args]);
        if (args.Any(a => a is "-h" or "--help" or "-?" or "/?"))
        {
            return parsed.Invoke();
        }
        if (args.Length == 0 || args[0] is not ("migrate" or "config"))
        {
            return Fail($"iis needs a subcommand, migrate or config{(args.Length > 0 ? $", not {args[0]}" : "")} (see kwsgi iis --help)");
        }
        Command chosen = args[0] == "migrate" ? migrate : config;
        if (UnknownOption(chosen, args[1..]) is string unknown)
        {
            return Fail($"unknown option {unknown} for iis {args[0]} (see kwsgi iis {args[0]} --help)");
        }
        Argument<string> positional = chosen == migrate ? s_webConfig : s_configApp;
        if (parsed.GetResult(positional) is null or { Tokens.Count: 0 })
        {
            return Fail($"iis {args[0]} needs {(chosen == migrate ? "the web.config file to rewrite" : "APP, the app as module:attr")} (see kwsgi iis {args[0]} --help)");
        }
        if (parsed.Errors.Count > 0)
        {
            return Fail($"{parsed.Errors[0].Message.TrimEnd('.')} (see kwsgi iis {args[0]} --help)");
        }
        try
        {
            return chosen == migrate
                ? Migrate(parsed.GetValue(s_webConfig)!, parsed.GetValue(s_aspNetCore), parsed.GetValue(migrateKwsgi), parsed.GetValue(migratePython),
                    parsed.GetValue(s_app), parsed.GetValue(s_dryRun))
                : Config(parsed.GetValue(s_configApp)!, parsed.GetValue(s_handler)!, parsed.GetValue(configKwsgi), parsed.GetValue(configPython),
                    parsed.GetValue(s_static) ?? [], parsed.GetValue(s_staticBy)!, parsed.GetValue(s_output));
        }
        catch (UsageException ex)
        {
            return Fail(ex.Message);
        }
    }

    private static int Migrate(string path, bool aspNetCore, string? kwsgi, string? python, string? app, bool dryRun)
    {
        WebConfigFile file = WebConfigFile.Load(path);
        string siteFolder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        PythonSite site = SiteReader.Read(file.Document, path, siteFolder);
        HandlerWriter writer = HandlerWriter.For(aspNetCore);
        if (!WebConfigMigration.Apply(file.Document, site, writer, kwsgi ?? KwsgiExecutable(), kwsgiGiven: kwsgi is not null, python, app))
        {
            Console.WriteLine($"{path} already starts kwsgi through <{writer.SectionName}>: nothing to change.");
            return 0;
        }
        TextWriter report = dryRun ? Console.Error : Console.Out;
        if (dryRun)
        {
            Console.Out.Write(file.ToText());
            Console.Out.Flush();
        }
        else
        {
            string backup = WebConfigFile.Backup(path);
            file.Save(path);
            site.Changes.Add($"backup: {backup}");
        }
        report.WriteLine($"{path}: {(dryRun ? "would migrate" : "migrated")} from {site.Kind} to <{writer.SectionName}>{(dryRun ? " (dry run: nothing written)" : "")}");
        WriteList(report, site.Changes, "  ");
        if (site.Notes.Count > 0)
        {
            report.WriteLine("To do by hand:");
            WriteList(report, site.Notes, "  - ");
        }
        return 0;
    }

    private static int Config(string app, string handler, string? kwsgi, string? python, string[] statics, string staticBy, string? output)
    {
        HandlerWriter writer = handler.ToLowerInvariant() switch
        {
            "httpplatform" => new HttpPlatformWriter(),
            "aspnetcore" => new AspNetCoreWriter(),
            _ => throw new UsageException($"--handler {handler}: expected httpPlatform or aspNetCore"),
        };
        bool staticByKwsgi = staticBy.ToLowerInvariant() switch
        {
            "iis" => false,
            "kwsgi" => true,
            _ => throw new UsageException($"--static-by {staticBy}: expected iis or kwsgi"),
        };
        if (string.IsNullOrWhiteSpace(app))
        {
            throw new UsageException("APP is empty: name the app as module:attr");
        }
        var mounts = statics.Select(StaticMount.Parse).ToList();
        var notes = new List<string>();
        string chosenPython = ChoosePython(python);
        var document = NewWebConfig.Create(writer, kwsgi is null ? KwsgiExecutable() : Path.GetFullPath(kwsgi), chosenPython, app, mounts, staticByKwsgi, notes);
        WebConfigFile file = WebConfigFile.New(document);
        notes.Add($"Create the folder {WindowsPath.Folder(writer.DefaultLogFile)} (for stdoutLogFile) and let the app pool's identity write to it; let it read {chosenPython}.");
        notes.Add("WebSockets (ASGI apps): install IIS's WebSocket Protocol feature (Install-WindowsFeature Web-WebSockets); the handler relays them through it.");
        TextWriter report;
        if (output is null)
        {
            Console.Out.Write(file.ToText());
            Console.Out.Flush();
            report = Console.Error;
        }
        else
        {
            string? backup = File.Exists(output) ? WebConfigFile.Backup(output) : null;
            file.Save(output);
            report = Console.Out;
            report.WriteLine($"{output}: written{(backup is not null ? $" (the previous one is in {backup})" : "")}");
        }
        WriteList(report, notes, "  - ");
        return 0;
    }

    /// <summary>
    /// The Python the config names, found the way the server finds it (--python, VIRTUAL_ENV, PATH) and checked
    /// to be embeddable; a folder stays a folder (a virtualenv), everything absolute.
    /// </summary>
    private static string ChoosePython(string? requested)
    {
        PythonInstallation installation = PythonLocator.Locate(requested);
        if (requested is not null)
        {
            string full = Path.GetFullPath(requested);
            return Directory.Exists(full) || File.Exists(full) ? full : installation.Executable;
        }
        return Environment.GetEnvironmentVariable("VIRTUAL_ENV") is { Length: > 0 } venv ? Path.GetFullPath(venv) : installation.Executable;
    }

    /// <summary>This kwsgi's executable; under <c>dotnet kwsgi.dll</c>, the apphost next to the dll.</summary>
    private static string KwsgiExecutable()
    {
        string? process = Environment.ProcessPath;
        if (process is not null && WindowsPath.Program(process) != "dotnet")
        {
            return process;
        }
        string apphost = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "kwsgi.exe" : "kwsgi");
        return File.Exists(apphost) ? apphost : throw new UsageException("cannot tell where the kwsgi executable is (started through dotnet): pass --kwsgi PATH");
    }

    /// <summary>The first option-looking token the subcommand does not know (the parser would take it for the file or APP).</summary>
    private static string? UnknownOption(Command command, string[] args)
    {
        var known = command.Options.SelectMany(o => o.Aliases.Append(o.Name)).Append("-?").Append("-h").Append("--help").ToHashSet(StringComparer.Ordinal);
        foreach (string arg in args.TakeWhile(a => a != "--"))
        {
            if (arg.Length > 1 && arg[0] == '-' && !known.Contains(arg.Split('=', 2)[0]))
            {
                return arg.Split('=', 2)[0];
            }
        }
        return null;
    }

    private static void WriteList(TextWriter writer, IEnumerable<string> lines, string prefix)
    {
        foreach (string line in lines)
        {
            writer.WriteLine(prefix + line);
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"kwsgi: {message.ReplaceLineEndings(" ")}");
        return UsageError;
    }
}

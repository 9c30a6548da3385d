using System.CommandLine;
using Kestrel.Wsgi.Dispatch;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// The kwsgi command line: the command line, then KWSGI_* variables, then the --config file, each filling what the
/// ones before left unset → <see cref="KwsgiOptions"/> → <see cref="KwsgiServer"/>. Every user error is one line
/// and exit code 2.
/// </summary>
internal static class CommandLine
{
    private const int UsageError = 2;

    private static readonly OptionDefinition<string?> s_config = new("--config",
        "Read settings from this TOML file (keys are option names with _ for -, and app); the command line and KWSGI_* variables win over it",
        shownDefault: "none", aliases: "-c");
    private static readonly OptionDefinition<bool> s_printConfig = new("--print-config",
        "Print every setting, its value and where it came from (default, file, environment, command line), then exit without starting");
    private static readonly OptionDefinition<bool> s_checkConfig = new("--check-config",
        "Check every setting, then exit: 0 when they are good, 2 and one line when not (as gunicorn's --check-config)");

    /// <summary>Options about this run rather than the server: no variable or file sets them.</summary>
    public static IReadOnlyList<Option> RunOnly { get; } = [s_printConfig, s_checkConfig];

    /// <summary>Every option kwsgi takes, in --help's order; each group's file defines its own.</summary>
    public static IEnumerable<Option> AllOptions =>
        ServerOptions.All.Concat(LimitOptions.All).Concat(ObservabilityOptions.All).Concat(ProcessOptions.All).Concat(DevLoopOptions.All).Concat(AsgiOptions.All)
            .Concat([s_config, s_printConfig, s_checkConfig])
            .Concat(WaitressOptions.All).Concat(GunicornOptions.All);

    /// <summary>What the sources say: the checked options, the process settings, warnings, and where each setting came from.</summary>
    internal sealed record Reading(KwsgiOptions Options, ProcessSettings Process, IReadOnlyList<string> Warnings, ParseResult Parsed, SettingSources Sources)
    {
        public bool PrintConfig => Parsed.GetValue(s_printConfig);

        public bool CheckConfig => Parsed.GetValue(s_checkConfig);
    }

    public static async Task<int> RunAsync(string[] args)
    {
        RootCommand root = CreateRoot();
        if (args.Any(a => a is "-h" or "--help" or "-?" or "/?" or "--version"))
        {
            return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
        }
        Reading reading;
        try
        {
            reading = Read(root, args, Environment.GetEnvironmentVariable);
        }
        catch (UsageException ex)
        {
            return Fail(ex.Message);
        }
        foreach (string warning in reading.Warnings)
        {
            Errors.WriteLine($"kwsgi: warning: {warning}");
        }
        if (reading.PrintConfig)
        {
            PrintedConfig.Write(Console.Out, root, reading.Parsed, reading.Sources);
            return 0;
        }
        if (reading.CheckConfig)
        {
            return 0;
        }
        try
        {
            using IDisposable process = reading.Process.Enact();
            return await KwsgiServer.RunAsync(reading.Options).ConfigureAwait(false);
        }
        catch (UsageException ex)
        {
            return Fail(ex.Message);
        }
        catch (WorkerStartupException ex)
        {
            if (ex.Details.Length > 0)
            {
                Errors.Write(ex.Details.EndsWith('\n') ? ex.Details : ex.Details + "\n");
            }
            return Fail(ex.Message);
        }
    }

    public static RootCommand CreateRoot()
    {
        var root = new RootCommand("kwsgi: a WSGI server on Kestrel with a pool of embedded-CPython worker processes. " +
            "waitress-serve's and gunicorn's options are accepted too (docs/migrating.md). For IIS web.config files: kwsgi iis --help.")
        {
            ServerOptions.App,
        };
        foreach (Option option in AllOptions)
        {
            root.Options.Add(option);
        }
        return root;
    }

    /// <summary>
    /// Reads every source into options, checking each value; throws <see cref="UsageException"/> with one sentence
    /// (prefixed FILE:LINE when the value came from the config file). Starts nothing.
    /// </summary>
    public static Reading Read(RootCommand root, string[] args, Func<string, string?> environment)
    {
        if (UnknownOption(root, args) is string unknown)
        {
            throw new UsageException($"unknown option {unknown} (see kwsgi --help)");
        }
        string[] givenArgs = args;
        var sources = new SettingSources();
        foreach (Option option in SettingSources.NamedIn(args, root.Options))
        {
            sources.Set(option, SettingSource.CommandLine);
        }
        if (root.Parse(args).GetResult(ServerOptions.App) is { Tokens.Count: > 0 })
        {
            sources.SetApp(SettingSource.CommandLine);
        }
        args = EnvironmentOptions.AddTo(args, root.Options, sources, environment);
        if (root.Parse(args).GetValue(s_config) is string configFile)
        {
            args = ConfigFile.AddTo(args, configFile, root.Options, sources);
        }
        ParseResult parsed = root.Parse(args);
        bool runsOnly = parsed.GetValue(s_printConfig) || parsed.GetValue(s_checkConfig);
        if (parsed.GetResult(ServerOptions.App) is not { Tokens.Count: > 0 } && !runsOnly)
        {
            throw new UsageException("no app given: kwsgi [options] module:app, or app = \"module:app\" in --config (see kwsgi --help)");
        }
        if (parsed.Errors.Count > 0)
        {
            string message = System.Text.RegularExpressions.Regex.Replace(parsed.Errors[0].Message, @"expected type '[^']*'",
                m => m.Value.Contains("Boolean", StringComparison.Ordinal) ? "true or false" : "a number");
            // gunicorn's -p is its pid file; kwsgi's is --port.
            string hint = message.Contains("'--port'", StringComparison.Ordinal) && givenArgs.Contains("-p") ? "; gunicorn's -p FILE is --pid FILE here" : "";
            throw new UsageException($"{message.TrimEnd('.')}{hint} (see kwsgi --help)");
        }
        var warnings = new List<string>();
        try
        {
            KwsgiOptions options = ServerOptions.Apply(parsed, sources);
            options = LimitOptions.Apply(parsed, options);
            options = ObservabilityOptions.Apply(parsed, options);
            options = DevLoopOptions.Apply(parsed, options);
            options = AsgiOptions.Apply(parsed, options);
            options = GunicornOptions.Apply(parsed, options, warnings);
            WaitressOptions.Check(parsed, warnings);
            return new Reading(options, ProcessOptions.Read(parsed), warnings, parsed, sources);
        }
        catch (UsageException ex) when (InFile(ex.Message, root, sources) is string location)
        {
            throw new UsageException($"{location}: {ex.Message}");
        }
    }

    /// <summary>FILE:LINE when the message is about an option (it starts with its name) that the config file set.</summary>
    private static string? InFile(string message, RootCommand root, SettingSources sources)
    {
        string name = message.Split(' ', 2)[0];
        Option? option = root.Options.FirstOrDefault(o => o.Name == name);
        return option is null ? null : sources.FileLocation(option);
    }

    /// <summary>
    /// The first option-looking token that no option answers to. The parser would take it for APP and then
    /// complain about the real APP, which misleads.
    /// </summary>
    private static string? UnknownOption(RootCommand root, string[] args)
    {
        var known = root.Options.SelectMany(o => o.Aliases.Append(o.Name)).ToHashSet(StringComparer.Ordinal);
        foreach (string arg in args)
        {
            if (arg == "--")
            {
                break;
            }
            if (arg.Length > 1 && arg[0] == '-' && !char.IsAsciiDigit(arg[1]))
            {
                string name = arg.Split('=', 2)[0];
                if (!known.Contains(name))
                {
                    return name;
                }
            }
        }
        return null;
    }

    private static int Fail(string message)
    {
        Errors.WriteLine($"kwsgi: {message}");
        return UsageError;
    }

    /// <summary>
    /// Under IIS the failure goes to stdout: that is the stream stdoutLogFile is named for, and a start-up failure
    /// there is the one line an administrator reads after a 502. Elsewhere stderr, as for any command.
    /// </summary>
    private static TextWriter Errors => HostedByIis ? Console.Out : Console.Error;

    private static bool HostedByIis =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HTTP_PLATFORM_PORT")) ||
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(AncmSettings.PortVariable));
}

using System.CommandLine;

namespace Kestrel.Wsgi.Cli;

/// <summary>Where a setting came from, least specific first: a later source wins over an earlier one.</summary>
internal enum SettingSource
{
    Default,
    File,
    Environment,
    CommandLine,
}

/// <summary>
/// Which source set each option (and the app): the command line, then a KWSGI_* variable, then the --config file,
/// each filling only what the ones before it left unset. <c>--print-config</c> shows it; a mistake in the file is
/// reported at its line.
/// </summary>
internal sealed class SettingSources
{
    private readonly Dictionary<Option, SettingSource> _sources = [];
    private readonly Dictionary<Option, int> _fileLines = [];

    /// <summary>The --config file, when one was read.</summary>
    public string? File { get; set; }

    public SettingSource App { get; private set; }

    public int AppLine { get; private set; }

    public SettingSource Of(Option option) => _sources.GetValueOrDefault(option, SettingSource.Default);

    public bool IsSet(Option option) => Of(option) != SettingSource.Default;

    public void Set(Option option, SettingSource source, int line = 0)
    {
        _sources[option] = source;
        if (source == SettingSource.File)
        {
            _fileLines[option] = line;
        }
    }

    public void SetApp(SettingSource source, int line = 0)
    {
        App = source;
        AppLine = line;
    }

    /// <summary>Where a mistake in <paramref name="option"/>'s value is: <c>kwsgi.toml:3</c>, or null when not in the file.</summary>
    public string? FileLocation(Option option) =>
        Of(option) == SettingSource.File ? $"{File}:{_fileLines[option]}" : null;

    /// <summary>For --print-config: <c>command line</c>, <c>environment (KWSGI_WORKERS)</c>, <c>file kwsgi.toml:3</c>, <c>default</c>.</summary>
    public string Describe(Option option) => Of(option) switch
    {
        SettingSource.CommandLine => "command line",
        SettingSource.Environment => $"environment ({OptionNames.Variable(option)})",
        SettingSource.File => $"file {FileLocation(option)}",
        _ => "default",
    };

    /// <summary>The options a command line names (by any of their names), before any value is looked at.</summary>
    public static IEnumerable<Option> NamedIn(IEnumerable<string> args, IEnumerable<Option> options)
    {
        var byName = new Dictionary<string, Option>(StringComparer.Ordinal);
        foreach (Option option in options)
        {
            foreach (string name in option.Aliases.Append(option.Name))
            {
                byName[name] = option;
            }
        }
        foreach (string arg in args.TakeWhile(a => a != "--"))
        {
            if (arg.StartsWith('-') && byName.TryGetValue(arg.Split('=', 2)[0], out Option? option))
            {
                yield return option;
            }
        }
    }
}

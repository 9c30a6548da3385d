using System.CommandLine;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// Options from the environment, as uWSGI's UWSGI_* variables: <c>KWSGI_WORKERS=4</c> is <c>--workers 4</c>, and
/// <c>KWSGI_APP</c> is the app argument (else wfastcgi's <c>WSGI_HANDLER</c>). The command line wins over the environment. Hosts that can set
/// variables but not arguments use them (IIS's &lt;environmentVariables&gt;, a container's <c>-e</c>).
/// </summary>
internal static class EnvironmentOptions
{
    public const string Prefix = "KWSGI_";
    public const string AppVariable = Prefix + "APP";

    /// <summary>wfastcgi's app setting (its appSettings become environment variables): the app when nothing else names one.</summary>
    public const string WfastcgiHandlerVariable = "WSGI_HANDLER";

    /// <summary>Repeatable options take several values from one variable, separated by this.</summary>
    public const char ListSeparator = ';';

    /// <summary>The command line followed by every option it lacks that a KWSGI_ variable gives; the app last.</summary>
    public static string[] AddTo(string[] args, IEnumerable<Option> options, SettingSources sources, Func<string, string?> environment)
    {
        var added = new List<string>(args);
        foreach (Option option in options)
        {
            if (option.Name is "--help" or "--version" || sources.IsSet(option) || OptionNames.IsCommandLineOnly(option))
            {
                continue;
            }
            if (environment(OptionNames.Variable(option)) is not { Length: > 0 } value)
            {
                continue;
            }
            foreach (string one in OptionNames.IsRepeatable(option) ? value.Split(ListSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [value])
            {
                added.Add($"{option.Name}={one}");
            }
            sources.Set(option, SettingSource.Environment);
        }
        string? app = environment(AppVariable) is { Length: > 0 } named ? named : environment(WfastcgiHandlerVariable);
        if (sources.App == SettingSource.Default && !string.IsNullOrEmpty(app))
        {
            added.Add(app);
            sources.SetApp(SettingSource.Environment);
        }
        return [.. added];
    }
}

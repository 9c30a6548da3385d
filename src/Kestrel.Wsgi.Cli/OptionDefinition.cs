using System.CommandLine;
using System.Globalization;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// One option, defined once: its name and aliases (the command line), its help text and its default. The
/// <c>KWSGI_*</c> variable and the config-file key follow from the name (<see cref="OptionNames"/>), the help line
/// ends with the default, and the README's options table is checked against it (tests: OptionDocsTests).
/// </summary>
internal sealed class OptionDefinition<T> : Option<T>, IOptionDefinition
{
    /// <param name="name">The long name, <c>--max-requests</c>.</param>
    /// <param name="help">What the option does, one sentence, without the default.</param>
    /// <param name="defaultValue">The value when nothing sets it; null: the option is unset (its meaning is <paramref name="shownDefault"/>).</param>
    /// <param name="shownDefault">The default as a person reads it, when it is not the plain value: "processor count", "0: no limit".</param>
    /// <param name="aliases">Other names: a short form (<c>-w</c>), or the name waitress or gunicorn gives it.</param>
    public OptionDefinition(string name, string help, Func<T>? defaultValue = null, string? shownDefault = null, params string[] aliases)
        : base(name, aliases)
    {
        Help = help;
        if (defaultValue is not null)
        {
            DefaultValueFactory = _ => defaultValue();
        }
        DefaultText = shownDefault ?? (defaultValue is null ? null : OptionNames.Format(defaultValue()));
        // --help adds "[default: VALUE]" itself for an option with a default value; the text says it only when it says more.
        bool helpShowsIt = defaultValue is not null && DefaultText == OptionNames.Format(defaultValue());
        Description = DefaultText is null || helpShowsIt ? $"{help}." : $"{help} (default {DefaultText}).";
    }

    public string Help { get; }

    public string? DefaultText { get; }
}

/// <summary>What an <see cref="OptionDefinition{T}"/> adds to a plain option.</summary>
internal interface IOptionDefinition
{
    /// <summary>The help text without its default.</summary>
    string Help { get; }

    /// <summary>The default as the help and the docs show it; null: no default (unset).</summary>
    string? DefaultText { get; }
}

/// <summary>The names an option has besides its own, derived from it; plain System.CommandLine options get them too.</summary>
internal static class OptionNames
{
    /// <summary><c>--max-requests</c> → <c>KWSGI_MAX_REQUESTS</c>.</summary>
    public static string Variable(Option option) =>
        EnvironmentOptions.Prefix + option.Name.TrimStart('-').Replace('-', '_').ToUpperInvariant();

    /// <summary><c>--max-requests</c> → <c>max_requests</c>, the key in a kwsgi.toml (gunicorn's and hypercorn's spelling).</summary>
    public static string ConfigKey(Option option) => option.Name.TrimStart('-').Replace('-', '_');

    /// <summary>The default as the docs show it: a definition's own text, else the value, else null (unset).</summary>
    public static string? DefaultText(Option option) =>
        option is IOptionDefinition definition ? definition.DefaultText
        : option.HasDefaultValue ? Format(option.GetDefaultValue()) : null;

    /// <summary>Options that act on this run only (--print-config, --check-config): neither a variable nor the file sets them.</summary>
    public static bool IsCommandLineOnly(Option option) => option.Name is "--help" or "--version" || CommandLine.RunOnly.Contains(option);

    /// <summary>Whether the option takes several values (repeatable on the command line, an array in the file).</summary>
    public static bool IsRepeatable(Option option) => option.ValueType.IsArray;

    /// <summary>Whether the option is a switch (<c>--call</c>): true or false.</summary>
    public static bool IsSwitch(Option option) => option.ValueType == typeof(bool);

    public static string? Format(object? value) => value switch
    {
        null => null,
        bool b => b ? "true" : "false",
        double d => d.ToString("0.###", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        System.Collections.IEnumerable list when value is not string => string.Join(", ", list.Cast<object>().Select(Format)),
        _ => value.ToString(),
    };
}

/// <summary>The library's defaults, which the options' definitions show and fall back to: a default is written once, in <see cref="Kestrel.Wsgi.Hosting.KwsgiOptions"/>.</summary>
internal static class KwsgiDefaults
{
    public static readonly Kestrel.Wsgi.Hosting.KwsgiOptions Options = new() { App = "" };
}

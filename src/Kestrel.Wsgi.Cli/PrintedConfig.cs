using System.CommandLine;
using System.CommandLine.Parsing;
using System.Text;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// <c>--print-config</c>: every setting, one per line, as a kwsgi.toml would set it, with where its value came from:
/// <c>workers = 4  # environment (KWSGI_WORKERS)</c>. Defaults are comment lines (<c># backlog = 2048  # default</c>),
/// so the output is a kwsgi.toml that sets what this run's sources set.
/// </summary>
internal static class PrintedConfig
{
    public static void Write(TextWriter output, RootCommand root, ParseResult parsed, SettingSources sources)
    {
        if (sources.File is string file)
        {
            output.WriteLine($"# read from {file}");
        }
        string? app = parsed.GetValue(ServerOptions.App);
        output.WriteLine(app is null ? $"# {ConfigFile.AppKey} is not set" : $"{ConfigFile.AppKey} = {Quote(app)}  # {Describe(sources.App, sources)}");
        foreach (Option option in root.Options)
        {
            if (option.Hidden || OptionNames.IsCommandLineOnly(option) || !ConfigFile.Takes(option))
            {
                continue;
            }
            string key = OptionNames.ConfigKey(option);
            string source = sources.Describe(option);
            string? value = ValueOf(parsed.GetResult(option), option);
            // A default is a comment, so that the output read back as a kwsgi.toml sets just what was set.
            string comment = sources.IsSet(option) ? "" : "# ";
            output.WriteLine(value is null
                ? $"# {key} is not set ({source}{(OptionNames.DefaultText(option) is string shown ? $": {shown}" : "")})"
                : $"{comment}{key} = {value}  # {source}");
        }
    }

    private static string Describe(SettingSource source, SettingSources sources) => source switch
    {
        SettingSource.CommandLine => "command line",
        SettingSource.Environment => $"environment ({EnvironmentOptions.AppVariable} or {EnvironmentOptions.WfastcgiHandlerVariable})",
        SettingSource.File => $"file {sources.File}:{sources.AppLine}",
        _ => "default",
    };

    /// <summary>The value as a TOML literal: what was given, else the default; null when neither.</summary>
    private static string? ValueOf(OptionResult? result, Option option)
    {
        if (result is { Implicit: false })
        {
            IReadOnlyList<string> tokens = result.Tokens.Select(t => t.Value).ToList();
            return OptionNames.IsSwitch(option) && tokens.Count == 0 ? "true" : Literal(option, tokens);
        }
        if (!option.HasDefaultValue || option.GetDefaultValue() is not object value)
        {
            return null;
        }
        return value is System.Collections.IEnumerable list and not string
            ? Literal(option, list.Cast<object>().Select(v => OptionNames.Format(v)!).ToList())
            : Literal(option, [OptionNames.Format(value)!]);
    }

    private static string Literal(Option option, IReadOnlyList<string> values)
    {
        Type type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        if (OptionNames.IsRepeatable(option))
        {
            return "[" + string.Join(", ", values.Select(Quote)) + "]";
        }
        string value = values.Count > 0 ? values[^1] : "";
        return Type.GetTypeCode(type) is TypeCode.Boolean or TypeCode.Int32 or TypeCode.Int64 or TypeCode.Double ? value.ToLowerInvariant() : Quote(value);
    }

    /// <summary>A TOML basic string.</summary>
    private static string Quote(string value)
    {
        var quoted = new StringBuilder("\"");
        foreach (char c in value)
        {
            quoted.Append(c switch
            {
                '"' => "\\\"",
                '\\' => "\\\\",
                < ' ' or '\x7f' => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        }
        return quoted.Append('"').ToString();
    }
}

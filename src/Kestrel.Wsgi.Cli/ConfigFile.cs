using System.CommandLine;
using System.Globalization;
using Kestrel.Wsgi.Hosting;
using Tomlyn.Parsing;
using Tomlyn.Syntax;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// <c>--config kwsgi.toml</c>: keys are the options' names without dashes, <c>-</c> written <c>_</c>
/// (<c>max_requests = 1000</c>), and <c>app</c>. The file is the least specific source: it fills only what the
/// command line and the environment left unset. Values mean what they mean on the command line, relative paths
/// included (docs/configuration.md). Every mistake is one line, <c>FILE:LINE: …</c>.
/// </summary>
internal static class ConfigFile
{
    public const string AppKey = "app";

    /// <summary>The arguments followed by every option the file sets that nothing before it did; the app last.</summary>
    public static string[] AddTo(string[] args, string path, IEnumerable<Option> options, SettingSources sources)
    {
        if (path.EndsWith(".py", StringComparison.OrdinalIgnoreCase))
        {
            throw new UsageException($"--config {path}: a gunicorn config file is Python, which kwsgi does not run; write the settings in a kwsgi.toml (docs/configuration.md)");
        }
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new UsageException($"{path}: cannot read the config file: {ex.Message}");
        }
        DocumentSyntax document = SyntaxParser.Parse(text, path, validate: true);
        if (document.HasErrors)
        {
            DiagnosticMessage error = document.Diagnostics.First(d => d.Kind == DiagnosticMessageKind.Error);
            throw new UsageException($"{path}:{Line(error.Span)}: {error.Message}");
        }
        if (document.Tables.FirstOrDefault() is TableSyntaxBase table)
        {
            throw new UsageException($"{path}:{Line(table.Span)}: kwsgi.toml has no [tables]: every key goes at the top level");
        }
        sources.File = path;
        var byKey = options.Where(Takes)
            .ToDictionary(OptionNames.ConfigKey, StringComparer.Ordinal);
        var added = new List<string>(args);
        foreach (KeyValueSyntax entry in document.KeyValues)
        {
            int line = Line(entry.Span);
            string key = entry.Key?.ToString().Trim() ?? "";
            if (key == AppKey)
            {
                string app = entry.Value is StringValueSyntax { Value: string named } ? named
                    : throw new UsageException($"{path}:{line}: {AppKey} must be a string, e.g. app = \"myproject.wsgi:application\"");
                if (sources.App == SettingSource.Default)
                {
                    added.Add(app);
                    sources.SetApp(SettingSource.File, line);
                }
                continue;
            }
            if (!byKey.TryGetValue(key, out Option? option))
            {
                string hint = byKey.ContainsKey(key.Replace('-', '_')) ? $" (write it {key.Replace('-', '_')})" : " (see kwsgi --help; keys are option names without dashes)";
                throw new UsageException($"{path}:{line}: unknown key {key}{hint}");
            }
            IReadOnlyList<string> values = ValuesOf(entry.Value, option, path, line, key);
            if (sources.IsSet(option))
            {
                continue;
            }
            foreach (string value in values)
            {
                added.Add($"{option.Name}={value}");
            }
            sources.Set(option, SettingSource.File, line);
        }
        return [.. added];
    }

    /// <summary>Whether a key in the file may set the option: not --config itself, nor what acts on one run only.</summary>
    public static bool Takes(Option option) => !OptionNames.IsCommandLineOnly(option) && option.Name != "--config";

    /// <summary>A value of the type the option takes, as command-line text; anything else is one line naming the type wanted.</summary>
    private static IReadOnlyList<string> ValuesOf(ValueSyntax? value, Option option, string path, int line, string key)
    {
        if (OptionNames.IsRepeatable(option))
        {
            if (value is StringValueSyntax { Value: string single })
            {
                return [single];
            }
            if (value is ArraySyntax array && array.Items.All(item => item.Value is StringValueSyntax))
            {
                return array.Items.Select(item => ((StringValueSyntax)item.Value!).Value!).ToList();
            }
            throw new UsageException($"{path}:{line}: {key} must be a string or an array of strings");
        }
        Type type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        string? text = (value, Type.GetTypeCode(type)) switch
        {
            (BooleanValueSyntax b, TypeCode.Boolean) => b.Value ? "true" : "false",
            (IntegerValueSyntax i, TypeCode.Int32 or TypeCode.Int64 or TypeCode.Double) => i.Value.ToString(CultureInfo.InvariantCulture),
            (FloatValueSyntax f, TypeCode.Double) => f.Value.ToString("R", CultureInfo.InvariantCulture),
            (StringValueSyntax { Value: string s }, TypeCode.String) => s,
            _ => null,
        };
        return text is not null ? [text] : throw new UsageException($"{path}:{line}: {key} must be {TypeName(type)}");
    }

    private static string TypeName(Type type) => Type.GetTypeCode(type) switch
    {
        TypeCode.Boolean => "true or false",
        TypeCode.Int32 or TypeCode.Int64 => "an integer",
        TypeCode.Double => "a number",
        _ => "a string",
    };

    /// <summary>Tomlyn counts lines from 0; editors and compilers from 1.</summary>
    private static int Line(SourceSpan span) => span.Start.Line + 1;
}

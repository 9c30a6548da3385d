using System.CommandLine;
using System.Text.RegularExpressions;
using Kestrel.Wsgi.Cli;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>
/// The docs' option tables agree with the options' definitions: README's table names every option with its aliases
/// and its default, and nothing else; docs/limits.md's defaults are the definitions'; docs/migrating.md says of
/// each waitress and gunicorn option what kwsgi really does with it.
/// </summary>
[Collection(nameof(CommandLineReadingTests))]
public sealed partial class OptionDocsTests
{
    [GeneratedRegex(@"(?<![\w-])(-{1,2}[A-Za-z][\w-]*)")]
    private static partial Regex OptionNameRegex();

    private static IEnumerable<Option> Documented => TestRoot.Root.Options.Where(o => !o.Hidden && o.Name is not ("--help" or "--version"));

    private static Option? Find(string name) => TestRoot.Root.Options.FirstOrDefault(o => o.Name == name || o.Aliases.Contains(name));

    /// <summary>The rows of the markdown table that starts with <paramref name="header"/>, as cells.</summary>
    private static List<string[]> Table(string file, string header)
    {
        string[] lines = File.ReadAllLines(Path.Combine(TestPaths.RepoRoot, file));
        int start = Array.FindIndex(lines, l => l.StartsWith(header, StringComparison.Ordinal));
        Assert.True(start >= 0, $"{file} has no table starting {header}");
        return lines.Skip(start + 2).TakeWhile(l => l.StartsWith('|'))
            .Select(l => Regex.Split(l.Trim().Trim('|'), @"(?<!\\)\|").Select(c => c.Trim()).ToArray()).ToList();
    }

    private static IEnumerable<string> NamesIn(string cell) => OptionNameRegex().Matches(cell).Select(m => m.Value);

    /// <summary>The default's value, as the docs write it: the text before any explanation ("0.0.0.0; …", "1073741824 (1 GiB)").</summary>
    private static string? DefaultValue(Option option) =>
        OptionNames.DefaultText(option) is string shown ? Regex.Split(shown, @";| \(|, ")[0].Trim() : null;

    [Fact]
    public void Readme_NamesEveryOptionWithItsAliases_AndNothingElse()
    {
        List<string[]> rows = Table("README.md", "| option | meaning |");
        var documented = rows.SelectMany(r => NamesIn(r[0])).ToHashSet();
        var missing = Documented.SelectMany(o => o.Aliases.Append(o.Name)).Where(n => !documented.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"README's options table lacks {string.Join(", ", missing)}");
        var unknown = documented.Where(n => Find(n) is not { Hidden: false }).ToList();
        Assert.True(unknown.Count == 0, $"README's options table names options kwsgi does not have: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Readme_GivesEveryOptionsDefault()
    {
        List<string[]> rows = Table("README.md", "| option | meaning |");
        var wrong = new List<string>();
        foreach (Option option in Documented)
        {
            if (DefaultValue(option) is not string value)
            {
                continue;
            }
            string[]? row = rows.FirstOrDefault(r => NamesIn(r[0]).Contains(option.Name));
            string text = string.Join(" ", row?.Skip(1) ?? []).Replace("`", "");
            if (!text.Contains($"default {value}", StringComparison.Ordinal))
            {
                wrong.Add($"{option.Name}: 'default {value}'");
            }
        }
        Assert.True(wrong.Count == 0, $"README's options table does not say: {string.Join("; ", wrong)}");
    }

    [Fact]
    public void LimitsTable_DefaultsAreTheDefinitions()
    {
        var wrong = new List<string>();
        foreach (string[] row in Table("docs/limits.md", "| kwsgi | default |"))
        {
            foreach (string name in NamesIn(row[0]).Take(1))
            {
                Option? option = Find(name);
                if (option is null)
                {
                    wrong.Add($"{name} is not an option");
                }
                else if (DefaultValue(option) is string value && !row[1].Replace("`", "").StartsWith(value, StringComparison.Ordinal))
                {
                    wrong.Add($"{name}: the default is {value}, the table says {row[1]}");
                }
            }
        }
        Assert.True(wrong.Count == 0, string.Join("; ", wrong));
    }

    [Theory]
    [InlineData("| waitress-serve | kwsgi | how |")]
    [InlineData("| gunicorn | kwsgi | how |")]
    public void MigratingTables_SayWhatKwsgiDoesWithEachOption(string header)
    {
        var wrong = new List<string>();
        foreach (string[] row in Table("docs/migrating.md", header))
        {
            string how = row[2].Split(' ', 2)[0].Trim('*', ':', ',', ';');
            var ours = NamesIn(row[1]).Select(Find).ToList();
            foreach (string theirs in NamesIn(row[0]))
            {
                Option? option = Find(theirs);
                ForeignOption? foreign = WaitressOptions.Foreign.Concat(GunicornOptions.Foreign).FirstOrDefault(f => f.Option == option);
                bool right = how switch
                {
                    "same" or "alias" => option is not null && ours.Contains(option) && foreign is null,
                    "mapped" => option is not null && foreign is null,
                    "warning" => foreign is { Refused: false } || (option is not null && foreign is null && row[2].Contains("warn", StringComparison.Ordinal)),
                    "refused" => foreign is { Refused: true } || option is null,
                    "later" => option is null,
                    "differs" => option is not null && !ours.Contains(option) && foreign is null,
                    _ => false,
                };
                if (!right)
                {
                    wrong.Add($"{theirs} ({how})");
                }
            }
        }
        Assert.True(wrong.Count == 0, $"docs/migrating.md is wrong about: {string.Join(", ", wrong)}");
    }

    [Fact]
    public void MigratingTables_ListEveryWaitressAndGunicornOption()
    {
        string text = File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "docs/migrating.md"));
        var documented = NamesIn(text).ToHashSet();
        var missing = WaitressOptions.Foreign.Concat(GunicornOptions.Foreign)
            .SelectMany(f => f.Option.Aliases.Append(f.Option.Name))
            .Where(n => !documented.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"docs/migrating.md lacks {string.Join(", ", missing)}");
    }
}

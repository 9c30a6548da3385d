using System.CommandLine;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// A waitress-serve or gunicorn option with no kwsgi meaning, accepted so that their command lines run unchanged:
/// it either has no effect (one warning line naming why) or cannot be honoured safely (refused: one line, exit 2).
/// Hidden from --help; docs/migrating.md lists every one.
/// </summary>
internal sealed class ForeignOption
{
    private ForeignOption(Option option, string reason, bool refused)
    {
        Option = option;
        Reason = reason;
        Refused = refused;
        option.Hidden = true;
        option.Description = refused ? $"Refused: {reason}." : $"No effect: {reason}.";
    }

    public Option Option { get; }

    /// <summary>Why it means nothing here, or what to do instead.</summary>
    public string Reason { get; }

    public bool Refused { get; }

    /// <summary>An option that takes a value and has no effect.</summary>
    public static ForeignOption Ignored(string name, string reason, params string[] aliases) =>
        new(new Option<string?>(name, aliases), reason, refused: false);

    /// <summary>A switch (no value) that has no effect.</summary>
    public static ForeignOption IgnoredSwitch(string name, string reason, params string[] aliases) =>
        new(new Option<bool>(name, aliases), reason, refused: false);

    /// <summary>An option that takes a value and is refused.</summary>
    public static ForeignOption RefusedValue(string name, string reason, params string[] aliases) =>
        new(new Option<string?>(name, aliases), reason, refused: true);

    /// <summary>A switch that is refused.</summary>
    public static ForeignOption RefusedSwitch(string name, string reason, params string[] aliases) =>
        new(new Option<bool>(name, aliases), reason, refused: true);

    /// <summary>Adds a warning for each ignored option given; throws for the first refused one.</summary>
    public static void Check(ParseResult parsed, IEnumerable<ForeignOption> options, ICollection<string> warnings)
    {
        foreach (ForeignOption foreign in options)
        {
            if (parsed.GetResult(foreign.Option) is not { Implicit: false } given)
            {
                continue;
            }
            string name = given.IdentifierToken?.Value ?? foreign.Option.Name;
            if (foreign.Refused)
            {
                throw new UsageException($"{name} is not supported: {foreign.Reason}");
            }
            warnings.Add($"{name} has no effect here ({foreign.Reason})");
        }
    }
}

using System.CommandLine;
using System.Globalization;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>The kwsgi process itself, as gunicorn's server mechanics: its pid file, its environment, its umask.</summary>
internal static class ProcessOptions
{
    private static readonly OptionDefinition<string?> s_pid = new("--pid",
        "Write the front's process id to this file at start, and remove it at exit");
    private static readonly OptionDefinition<string[]> s_env = new("--env",
        "Set KEY=VALUE in the environment of kwsgi and its workers (repeatable)", aliases: "-e")
    {
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly OptionDefinition<string?> s_umask = new("--umask",
        "File mode mask of kwsgi and its workers (Linux, macOS): octal with a leading 0 or 0o, e.g. 0o027", shownDefault: "inherited", aliases: "-m");
    private static readonly OptionDefinition<string?> s_pythonPath = new("--pythonpath",
        "Folders, separated by commas, put before the app's sys.path (they go first in PYTHONPATH)");

    public static IEnumerable<Option> All => [s_pid, s_env, s_umask, s_pythonPath];

    public static ProcessSettings Read(ParseResult parsed)
    {
        var environment = new List<KeyValuePair<string, string>>();
        foreach (string pair in parsed.GetValue(s_env) ?? [])
        {
            int equals = pair.IndexOf('=');
            if (equals <= 0)
            {
                throw new UsageException($"--env {pair} must be KEY=VALUE");
            }
            environment.Add(new(pair[..equals], pair[(equals + 1)..]));
        }
        if (parsed.GetValue(s_pythonPath) is string folders)
        {
            string[] added = folders.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            string? existing = environment.LastOrDefault(e => e.Key == "PYTHONPATH").Value ?? Environment.GetEnvironmentVariable("PYTHONPATH");
            environment.Add(new("PYTHONPATH", string.Join(Path.PathSeparator, added.Concat(string.IsNullOrEmpty(existing) ? [] : [existing]))));
        }
        string? pidFile = parsed.GetValue(s_pid);
        if (pidFile is { Length: 0 })
        {
            throw new UsageException("--pid needs a file name");
        }
        return new ProcessSettings(pidFile, environment, Umask(parsed.GetValue(s_umask)));
    }

    /// <summary>gunicorn takes Python's int(x, 0); a leading 0 also means octal here, as umask(1) reads it.</summary>
    private static int? Umask(string? text)
    {
        if (text is null)
        {
            return null;
        }
        string digits = text.Trim();
        int radix = 10;
        if (digits.StartsWith("0o", StringComparison.OrdinalIgnoreCase))
        {
            (digits, radix) = (digits[2..], 8);
        }
        else if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            (digits, radix) = (digits[2..], 16);
        }
        else if (digits.Length > 1 && digits[0] == '0')
        {
            radix = 8;
        }
        try
        {
            int mask = digits.Length == 0 ? -1 : radix == 10 ? int.Parse(digits, NumberStyles.None, CultureInfo.InvariantCulture) : Convert.ToInt32(digits, radix);
            return mask is >= 0 and <= 0x1ff ? mask : throw new FormatException();
        }
        catch (Exception ex) when (ex is FormatException or OverflowException or ArgumentException)
        {
            throw new UsageException($"--umask {text} must be a file mode mask from 0 to 0o777, e.g. 0o027");
        }
    }
}

using System.Text;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Joins and splits an <c>arguments=</c> string the way the Windows C runtime (and .NET on Windows) splits a
/// command line: spaces separate, double quotes group, backslashes are literal except before a quote.
/// </summary>
internal static class WindowsCommandLine
{
    public static string Join(IEnumerable<string> args) => string.Join(' ', args.Select(Quote));

    /// <summary>One argument, quoted only when it has to be (a path with spaces, an empty string, a quote).</summary>
    public static string Quote(string arg)
    {
        if (arg.Length > 0 && arg.AsSpan().IndexOfAny(" \t\"") < 0)
        {
            return arg;
        }
        var quoted = new StringBuilder("\"");
        int backslashes = 0;
        foreach (char c in arg)
        {
            if (c == '\\')
            {
                backslashes++;
                continue;
            }
            // Backslashes are literal unless a quote follows: then each one is doubled.
            quoted.Append('\\', c == '"' ? backslashes * 2 + 1 : backslashes).Append(c);
            backslashes = 0;
        }
        // Before the closing quote, too: "C:\Program Files\" would otherwise escape it.
        return quoted.Append('\\', backslashes * 2).Append('"').ToString();
    }

    public static List<string> Split(string commandLine)
    {
        var args = new List<string>();
        var current = new StringBuilder();
        bool inArg = false, inQuotes = false;
        for (int i = 0; i < commandLine.Length; i++)
        {
            char c = commandLine[i];
            if (c is ' ' or '\t' && !inQuotes)
            {
                if (inArg)
                {
                    args.Add(current.ToString());
                    current.Clear();
                    inArg = false;
                }
                continue;
            }
            inArg = true;
            if (c == '\\')
            {
                int run = 1;
                while (i + run < commandLine.Length && commandLine[i + run] == '\\')
                {
                    run++;
                }
                i += run - 1;
                if (i + 1 < commandLine.Length && commandLine[i + 1] == '"')
                {
                    current.Append('\\', run / 2);
                    if (run % 2 == 1)
                    {
                        current.Append('"');
                        i++;
                    }
                }
                else
                {
                    current.Append('\\', run);
                }
            }
            else if (c == '"')
            {
                // "" inside quotes is a literal quote (the C runtime's rule since 2008).
                if (inQuotes && i + 1 < commandLine.Length && commandLine[i + 1] == '"')
                {
                    current.Append('"');
                    i++;
                }
                else
                {
                    inQuotes = !inQuotes;
                }
            }
            else
            {
                current.Append(c);
            }
        }
        if (inArg)
        {
            args.Add(current.ToString());
        }
        return args;
    }
}

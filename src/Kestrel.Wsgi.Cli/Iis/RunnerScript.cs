using System.Text;
using System.Text.RegularExpressions;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Reads, never runs, a script that starts waitress (<c>python run_waitress_server.py</c> under HttpPlatformHandler):
/// when it is one <c>serve(app, …)</c> call whose app is imported (<c>from module import app</c>,
/// <c>import module</c> … <c>module.app</c>), that is the app argument. Anything less plain is refused with the reason,
/// and the caller asks for --app.
/// </summary>
internal static partial class RunnerScript
{
    /// <summary>The app (module:attr) and kwsgi options, or the reason the script is not read (<see cref="Refusal"/>).</summary>
    public sealed record Reading(string? App, IReadOnlyList<string> Options, IReadOnlyList<string> Dropped, string? Refusal);

    // serve()'s keywords that IIS decides (the address) or that mean nothing under kwsgi's front.
    private static readonly HashSet<string> s_ignored = ["host", "port", "listen", "unix_socket", "unix_socket_perms", "ipv4", "ipv6"];

    [GeneratedRegex(@"^(?:[A-Za-z_]\w*)(?:\s*\.\s*[A-Za-z_]\w*)*$")]
    private static partial Regex DottedNameRegex();

    [GeneratedRegex(@"^from\s+(?<module>\.*[\w.]*)\s+import\s+(?<names>.+)$")]
    private static partial Regex FromImportRegex();

    [GeneratedRegex(@"^import\s+(?<modules>.+)$")]
    private static partial Regex ImportRegex();

    // NAME = …, NAME: type = …, NAME += …, def NAME, class NAME, for NAME in, with … as NAME: a name the script binds itself.
    [GeneratedRegex(@"^(?:(?<name>[A-Za-z_]\w*)\s*(?::[^=]+)?(?:[-+*/|&]?=)(?!=)|(?:async\s+)?def\s+(?<name>[A-Za-z_]\w*)|class\s+(?<name>[A-Za-z_]\w*)|for\s+(?<name>[A-Za-z_]\w*)\s+in\b)|\bas\s+(?<name>[A-Za-z_]\w*)\s*:")]
    private static partial Regex BindingRegex();

    public static Reading Read(string text)
    {
        List<string>? lines = LogicalLines(text);
        if (lines is null)
        {
            return Refused("its brackets or quotes do not balance");
        }
        var serveNames = new HashSet<string>(StringComparer.Ordinal);
        var fromImports = new Dictionary<string, (string Module, string Attr)>(StringComparer.Ordinal);
        var modules = new Dictionary<string, string>(StringComparer.Ordinal);
        var bound = new HashSet<string>(StringComparer.Ordinal);
        foreach (string line in lines)
        {
            if (FromImportRegex().Match(line) is { Success: true } from)
            {
                string module = from.Groups["module"].Value;
                foreach (var (name, alias) in ImportedNames(from.Groups["names"].Value))
                {
                    if (module == "waitress" && name == "serve")
                    {
                        serveNames.Add(alias);
                    }
                    else
                    {
                        fromImports[alias] = (module, name);
                    }
                }
            }
            else if (ImportRegex().Match(line) is { Success: true } import)
            {
                foreach (var (name, alias) in ImportedNames(import.Groups["modules"].Value))
                {
                    if (name == "waitress")
                    {
                        serveNames.Add(alias + ".serve");
                    }
                    // import a.b binds a, and a.b.x is attribute x of module a.b; import a.b as n binds n to a.b.
                    modules[alias == name ? name : alias] = name;
                }
            }
            else if (BindingRegex().Match(line) is { Success: true } binding)
            {
                bound.Add(binding.Groups["name"].Value);
            }
        }
        if (serveNames.Count == 0)
        {
            return Refused("it does not import waitress's serve");
        }

        var calls = new List<string>();
        foreach (string line in lines)
        {
            foreach (string serve in serveNames)
            {
                int at = line.IndexOf(serve + "(", StringComparison.Ordinal);
                while (at >= 0)
                {
                    if (at == 0 || !(char.IsLetterOrDigit(line[at - 1]) || line[at - 1] is '_' or '.'))
                    {
                        calls.Add(line[(at + serve.Length)..]);
                    }
                    at = line.IndexOf(serve + "(", at + 1, StringComparison.Ordinal);
                }
            }
        }
        if (calls.Count != 1)
        {
            return Refused(calls.Count == 0 ? "it never calls serve()" : $"it calls serve() {calls.Count} times");
        }
        List<string>? arguments = CallArguments(calls[0]);
        if (arguments is null || arguments.Count == 0 || arguments[0].Contains('='))
        {
            return Refused("its serve() call has no app as first argument");
        }

        string expression = arguments[0];
        if (!DottedNameRegex().IsMatch(expression))
        {
            return Refused($"it passes {expression} to serve(), not an imported app");
        }
        string[] parts = expression.Split('.', StringSplitOptions.TrimEntries);
        string? app = null;
        if (bound.Contains(parts[0]))
        {
            return Refused($"it passes {expression} to serve(), which the script builds itself ({parts[0]} = …)");
        }
        if (fromImports.TryGetValue(parts[0], out var imported))
        {
            if (imported.Module.StartsWith('.'))
            {
                return Refused($"it imports {parts[0]} relative to its package (from {imported.Module} import …)");
            }
            app = $"{imported.Module}:{string.Join('.', [imported.Attr, .. parts[1..]])}";
        }
        else
        {
            // The longest dotted prefix imported as a module is the module; the rest is the attribute chain.
            for (int k = parts.Length - 1; k >= 1 && app is null; k--)
            {
                string prefix = string.Join('.', parts[..k]);
                if (modules.TryGetValue(prefix, out string? module))
                {
                    app = $"{module}:{string.Join('.', parts[k..])}";
                }
            }
        }
        if (app is null)
        {
            return Refused($"it passes {expression} to serve(), which it does not import from a module");
        }

        var options = new List<string>();
        var dropped = new List<string>();
        foreach (string argument in arguments.Skip(1))
        {
            int equals = argument.IndexOf('=');
            string name = equals > 0 ? argument[..equals].Trim() : argument;
            string value = equals > 0 ? argument[(equals + 1)..].Trim() : "";
            if (name == "url_prefix" && StringLiteral(value) is { } prefix)
            {
                options.AddRange(["--url-prefix", prefix]);
            }
            else if (!s_ignored.Contains(name))
            {
                dropped.Add(equals > 0 ? $"{name}={value}" : argument);
            }
        }
        return new Reading(app, options, dropped, null);
    }

    private static Reading Refused(string why) => new(null, [], [], why);

    /// <summary>a, b as c, (d, e) → (a, a), (b, c), (d, d), (e, e).</summary>
    private static IEnumerable<(string Name, string Alias)> ImportedNames(string list)
    {
        foreach (string item in list.Trim().TrimStart('(').TrimEnd(')').Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] words = item.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (words.Length == 1)
            {
                yield return (words[0], words[0]);
            }
            else if (words.Length == 3 && words[1] == "as")
            {
                yield return (words[0], words[2]);
            }
        }
    }

    /// <summary>The script as statements: comments gone, lines inside brackets or after a backslash joined, trimmed; null when it does not balance.</summary>
    private static List<string>? LogicalLines(string text)
    {
        var lines = new List<string>();
        var current = new StringBuilder();
        int depth = 0;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (c is '\'' or '"')
            {
                int end = StringEnd(text, i);
                if (end < 0)
                {
                    return null;
                }
                current.Append(text, i, end - i);
                i = end - 1;
            }
            else if (c == '#')
            {
                while (i + 1 < text.Length && text[i + 1] != '\n')
                {
                    i++;
                }
            }
            else if (c == '\\' && i + 1 < text.Length && text[i + 1] is '\n' or '\r')
            {
                current.Append(' ');
                i += text[i + 1] == '\r' && i + 2 < text.Length && text[i + 2] == '\n' ? 2 : 1;
            }
            else if (c == '\n' && depth == 0)
            {
                Flush();
            }
            else
            {
                depth += c is '(' or '[' or '{' ? 1 : c is ')' or ']' or '}' ? -1 : 0;
                if (depth < 0)
                {
                    return null;
                }
                current.Append(c is '\n' or '\r' or '\t' ? ' ' : c);
            }
        }
        if (depth != 0)
        {
            return null;
        }
        Flush();
        return lines;

        void Flush()
        {
            // "if x: serve(app)" and "a; b" hold more than one statement; the parts are read alike.
            string line = current.ToString().Trim();
            current.Clear();
            foreach (string statement in line.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                lines.Add(statement);
            }
        }
    }

    /// <summary>The index just past the string literal starting at <paramref name="start"/> (with any prefix before it already read), or -1.</summary>
    private static int StringEnd(string text, int start)
    {
        char quote = text[start];
        bool triple = start + 2 < text.Length && text[start + 1] == quote && text[start + 2] == quote;
        int i = start + (triple ? 3 : 1);
        while (i < text.Length)
        {
            if (text[i] == '\\')
            {
                i += 2;
                continue;
            }
            if (!triple && text[i] == '\n')
            {
                return -1;
            }
            if (text[i] == quote && (!triple || (i + 2 < text.Length && text[i + 1] == quote && text[i + 2] == quote)))
            {
                return i + (triple ? 3 : 1);
            }
            i++;
        }
        return -1;
    }

    /// <summary>"(app, host='0.0.0.0', port=8080)…" → ["app", "host='0.0.0.0'", "port=8080"]; null when the brackets do not close.</summary>
    private static List<string>? CallArguments(string call)
    {
        var arguments = new List<string>();
        var current = new StringBuilder();
        int depth = 0;
        for (int i = 0; i < call.Length; i++)
        {
            char c = call[i];
            if (c is '\'' or '"')
            {
                int end = StringEnd(call, i);
                if (end < 0)
                {
                    return null;
                }
                current.Append(call, i, end - i);
                i = end - 1;
                continue;
            }
            if (c is '(' or '[' or '{')
            {
                depth++;
                if (depth == 1)
                {
                    continue;
                }
            }
            else if (c is ')' or ']' or '}')
            {
                depth--;
                if (depth == 0)
                {
                    if (current.ToString().Trim() is { Length: > 0 } last)
                    {
                        arguments.Add(last);
                    }
                    return arguments;
                }
            }
            else if (c == ',' && depth == 1)
            {
                arguments.Add(current.ToString().Trim());
                current.Clear();
                continue;
            }
            current.Append(c);
        }
        return null;
    }

    /// <summary>'/api' or "/api" → /api; anything else (f-strings, expressions) → null.</summary>
    private static string? StringLiteral(string value) =>
        value.Length >= 2 && value[0] is '\'' or '"' && value[^1] == value[0] && value.IndexOf(value[0], 1) == value.Length - 1 && !value.Contains('\\')
            ? value[1..^1]
            : null;
}

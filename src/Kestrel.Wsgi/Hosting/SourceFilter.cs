using System.Text;
using System.Text.RegularExpressions;

namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// Which files under the app's folder <c>--reload</c> watches: every <c>*.py</c> and whatever matches a
/// <c>--reload-include</c> glob, outside the folders that hold caches, version control or installed packages.
/// Paths are relative to the app's folder, separated by '/'.
/// </summary>
internal sealed class SourceFilter
{
    /// <summary>
    /// Folders never looked into: Python writes its bytecode into __pycache__ as it imports (a reload would set off
    /// the next), and the others hold history, tools' caches or installed packages rather than the app's own code.
    /// A folder holding pyvenv.cfg (any virtualenv) is skipped as well (<see cref="SourceTree"/> checks).
    /// </summary>
    public static readonly IReadOnlySet<string> SkippedFolders = new HashSet<string>(StringComparer.Ordinal)
    {
        "__pycache__", ".git", ".hg", ".svn", "node_modules", ".venv", "venv",
        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
    };

    private readonly Regex[] _includes;

    public SourceFilter(IEnumerable<string> includes, bool ignoreCase)
    {
        RegexOptions options = RegexOptions.CultureInvariant | (ignoreCase ? RegexOptions.IgnoreCase : RegexOptions.None);
        _includes = includes.Select(glob => new Regex(ToRegex(glob), options)).ToArray();
    }

    /// <summary>Whether a change of this file reloads the app.</summary>
    public bool Watches(string relativePath)
    {
        string[] parts = relativePath.Split('/');
        for (int i = 0; i < parts.Length - 1; i++)
        {
            if (SkippedFolders.Contains(parts[i]))
            {
                return false;
            }
        }
        return relativePath.EndsWith(".py", StringComparison.Ordinal) || _includes.Any(glob => glob.IsMatch(relativePath));
    }

    /// <summary>Whether a path lies inside a skipped folder (or is one): its events are not even looked at.</summary>
    public static bool IsInSkippedFolder(string relativePath)
    {
        foreach (string part in relativePath.Split('/'))
        {
            if (SkippedFolders.Contains(part))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>Throws <see cref="UsageException"/> for a glob that cannot name a file under the app's folder.</summary>
    public static void CheckGlob(string glob)
    {
        string normal = Normalize(glob);
        if (normal.Length == 0 || normal.EndsWith('/'))
        {
            throw new UsageException($"--reload-include '{glob}' must be a file pattern such as '*.html' or 'templates/**'");
        }
        if (Path.IsPathRooted(glob) || normal.Split('/').Contains(".."))
        {
            throw new UsageException($"--reload-include '{glob}' must be relative to the app's folder, inside it");
        }
    }

    private static string Normalize(string glob)
    {
        string normal = glob.Trim().Replace('\\', '/');
        while (normal.StartsWith("./", StringComparison.Ordinal))
        {
            normal = normal[2..];
        }
        return normal;
    }

    /// <summary>
    /// A glob as a regular expression over the relative path: <c>*</c> any characters but '/', <c>?</c> one of them,
    /// <c>**</c> any number of folders. As in .gitignore, a glob without '/' matches the file's name at any depth.
    /// </summary>
    internal static string ToRegex(string glob)
    {
        string normal = Normalize(glob);
        var pattern = new StringBuilder("^");
        if (!normal.Contains('/'))
        {
            pattern.Append("(?:.*/)?");
        }
        for (int i = 0; i < normal.Length; i++)
        {
            char c = normal[i];
            if (c == '*' && i + 1 < normal.Length && normal[i + 1] == '*')
            {
                bool folders = i + 2 < normal.Length && normal[i + 2] == '/';
                pattern.Append(folders ? "(?:.*/)?" : ".*");
                i += folders ? 2 : 1;
            }
            else if (c == '*')
            {
                pattern.Append("[^/]*");
            }
            else if (c == '?')
            {
                pattern.Append("[^/]");
            }
            else
            {
                pattern.Append(Regex.Escape(c.ToString()));
            }
        }
        return pattern.Append('$').ToString();
    }
}

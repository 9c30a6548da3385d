using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// Turns wfastcgi's WSGI_HANDLER (and Helicon Zoo's WSGI_APP) into kwsgi's <c>module:attr</c> form.
/// </summary>
/// <remarks>
/// wfastcgi splits a dotted name at the last dot and, when that module cannot be imported, moves one more
/// segment into the attribute chain and tries again (<c>app.app.wsgi_app</c> is attribute <c>app.wsgi_app</c>
/// of module <c>app</c>). Without importing anything, the same choice is made by looking for the module's
/// file in the site folder and on PYTHONPATH; a module found nowhere (a package such as <c>django.core.wsgi</c>)
/// keeps wfastcgi's first guess.
/// </remarks>
internal static class AppArgument
{
    public static string FromDottedName(string handler, string setting, IReadOnlyList<string> searchFolders)
    {
        string name = handler.Trim();
        if (name.Length == 0)
        {
            throw new UsageException($"{setting} is empty: pass --app module:attr");
        }
        if (name.Contains(':'))
        {
            // Already module:attr (waitress's and kwsgi's form).
            string[] halves = name.Split(':', 2);
            Check(halves[0], halves[1], name, setting);
            return name;
        }

        string[] segments = name.Split('.');
        if (segments[..^1].FirstOrDefault(s => s.Contains('(')) is { } call)
        {
            // wfastcgi calls each name that ends in (); kwsgi calls only a factory at the end.
            throw new UsageException($"{setting} '{name}' calls {call} before its last name, which kwsgi's app argument cannot (it calls only a final factory, module:factory()): " +
                $"add a line such as application = {name} to a module and pass --app module:application");
        }
        if (segments.Length < 2)
        {
            throw new UsageException($"{setting} '{name}' names a module, not the app in it: pass --app {name}:NAME with the app's name in that module");
        }
        int split = segments.Length - 1;
        for (int k = segments.Length - 1; k >= 1; k--)
        {
            if (ModuleExists(segments[..k], searchFolders))
            {
                split = k;
                break;
            }
        }
        string module = string.Join('.', segments[..split]);
        string attr = string.Join('.', segments[split..]);
        Check(module, attr, name, setting);
        return $"{module}:{attr}";
    }

    private static void Check(string module, string attr, string name, string setting)
    {
        if (!module.Split('.').All(IsIdentifier))
        {
            throw new UsageException($"{setting} '{name}': '{module}' is not a Python module name: pass --app module:attr");
        }
        string bare = attr.EndsWith("()", StringComparison.Ordinal) ? attr[..^2] : attr;
        if (bare.Length > 0 && !bare.Split('.').All(IsIdentifier))
        {
            throw new UsageException($"{setting} '{name}': '{attr}' is not an attribute kwsgi can load (module:attr, module:attr.attr, module:factory()): pass --app module:attr");
        }
    }

    private static bool IsIdentifier(string s) =>
        s.Length > 0 && !char.IsAsciiDigit(s[0]) && s.All(c => c == '_' || char.IsLetterOrDigit(c));

    private static bool ModuleExists(string[] module, IReadOnlyList<string> searchFolders)
    {
        if (!module.All(IsIdentifier))
        {
            return false;
        }
        foreach (string folder in searchFolders)
        {
            string path = Path.Combine([folder, .. module]);
            if (File.Exists(path + ".py") || File.Exists(path + ".pyc") || Directory.Exists(path))
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// Where a module may live on this machine: the site folder and the PYTHONPATH entries (';'-separated,
    /// relative ones taken from the site folder) that exist here.
    /// </summary>
    public static List<string> SearchFolders(string siteFolder, string? pythonPath)
    {
        var folders = new List<string> { siteFolder };
        foreach (string entry in (pythonPath ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (entry.Contains('%'))
            {
                continue;
            }
            string full = Path.IsPathRooted(entry) ? entry : Path.Combine(siteFolder, entry);
            if (Directory.Exists(full))
            {
                folders.Add(full);
            }
        }
        return folders;
    }
}

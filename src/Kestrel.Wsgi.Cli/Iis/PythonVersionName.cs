using System.Text.RegularExpressions;

namespace Kestrel.Wsgi.Cli.Iis;

/// <summary>
/// The Python version a path or engine name spells, when it spells one: <c>C:\Python34\python.exe</c>,
/// <c>D:\home\Python354x64\python.exe</c> (Azure: 3.5.4), <c>C:\Python310</c>, <c>python3.5</c>, Helicon Zoo's
/// <c>python.2.7.wsgi</c>. Nothing is run: the interpreter named in a web.config is usually on another machine.
/// </summary>
internal static partial class PythonVersionName
{
    /// <summary>pythonnet's floor: Python.Runtime refuses to start an older interpreter.</summary>
    public static readonly Version Oldest = new(3, 7);

    [GeneratedRegex(@"python[.\-]?(?:(?<major>[23])\.(?<minor>\d{1,2})(?!\d)|(?<digits>[23]\d{1,3})(?!\d))", RegexOptions.IgnoreCase)]
    private static partial Regex VersionRegex();

    public static Version? Guess(string pathOrEngine)
    {
        Match? last = null;
        foreach (Match m in VersionRegex().Matches(pathOrEngine))
        {
            last = m; // the innermost folder or the file name says most
        }
        if (last is null)
        {
            return null;
        }
        if (last.Groups["major"].Success)
        {
            return new Version(int.Parse(last.Groups["major"].Value), int.Parse(last.Groups["minor"].Value));
        }
        string digits = last.Groups["digits"].Value;
        // Python27 and Python39 are 2.7 and 3.9; Python310 to Python319 are 3.10 to 3.19 (3.1 is long gone);
        // Python354 is Azure's 3.5.4, the last digit a patch level.
        int minor = digits.Length >= 3 && digits[1] == '1' ? int.Parse(digits[1..3]) : digits.Length >= 2 ? digits[1] - '0' : -1;
        return minor < 0 ? null : new Version(digits[0] - '0', minor);
    }
}

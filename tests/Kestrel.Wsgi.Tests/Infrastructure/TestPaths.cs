namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>Where the repository, the test apps and the kwsgi executable are.</summary>
public static class TestPaths
{
    private static readonly Lazy<string> s_repoRoot = new(FindRepoRoot);

    public static string RepoRoot => s_repoRoot.Value;

    public static string AppsDir => Path.Combine(RepoRoot, "tests", "apps");

    /// <summary>
    /// The apphost next to the test assembly, or null when only kwsgi.dll is there.
    /// The environment variable KWSGI_EXE overrides it (to test another build of kwsgi).
    /// </summary>
    public static string? Apphost
    {
        get
        {
            if (Environment.GetEnvironmentVariable("KWSGI_EXE") is { Length: > 0 } exe)
            {
                return exe;
            }
            string path = Path.Combine(AppContext.BaseDirectory, OperatingSystem.IsWindows() ? "kwsgi.exe" : "kwsgi");
            return File.Exists(path) ? path : null;
        }
    }

    public static string KwsgiDll => Path.Combine(AppContext.BaseDirectory, "kwsgi.dll");

    private static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KestrelWsgi.sln")))
            {
                return dir.FullName;
            }
            dir = dir.Parent;
        }
        throw new InvalidOperationException($"KestrelWsgi.sln not found above {AppContext.BaseDirectory}");
    }
}

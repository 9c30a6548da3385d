using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>Which files --reload watches: *.py and --reload-include globs, never inside caches, VCS or package folders.</summary>
public class SourceFilterTests
{
    [Theory]
    [InlineData("app.py", true)]
    [InlineData("pkg/sub/views.py", true)]
    [InlineData("app.pyc", false)]
    [InlineData("app.py~", false)]
    [InlineData("templates/index.html", false)]
    [InlineData("__pycache__/app.py", false)]
    [InlineData("pkg/__pycache__/views.cpython-311.pyc", false)]
    [InlineData(".git/hooks/pre-commit.py", false)]
    [InlineData(".venv/lib/python3.11/site-packages/flask/app.py", false)]
    [InlineData("venv/lib/x.py", false)]
    [InlineData("web/node_modules/pkg/build.py", false)]
    [InlineData(".mypy_cache/x.py", false)]
    [InlineData("myvenv/x.py", true)] // only a pyvenv.cfg makes it a virtualenv (the scan checks)
    public void PythonFiles_OutsideSkippedFolders(string path, bool watched) =>
        Assert.Equal(watched, new SourceFilter([], ignoreCase: false).Watches(path));

    [Theory]
    [InlineData("*.html", "index.html", true)]
    [InlineData("*.html", "templates/deep/page.html", true)] // no '/': the name, at any depth
    [InlineData("*.html", "templates/page.htm", false)]
    [InlineData("*.html", "notes.txt", false)]
    [InlineData("*.html", "node_modules/x/index.html", false)]
    [InlineData("templates/**/*.jinja", "templates/a.jinja", true)]
    [InlineData("templates/**/*.jinja", "templates/a/b/c.jinja", true)]
    [InlineData("templates/**/*.jinja", "other/templates/a.jinja", false)]
    [InlineData("templates/**/*.jinja", "templates/a.jinja2", false)]
    [InlineData("templates/**", "templates/any/file.txt", true)]
    [InlineData("./config/*.toml", "config/app.toml", true)]
    [InlineData("config/*.toml", "config/deeper/app.toml", false)]
    [InlineData("page?.md", "docs/page1.md", true)]
    [InlineData("page?.md", "page10.md", false)]
    [InlineData("a+b(c).txt", "a+b(c).txt", true)] // regex characters are literal
    public void IncludeGlobs(string glob, string path, bool watched) =>
        Assert.Equal(watched, new SourceFilter([glob], ignoreCase: false).Watches(path));

    [Fact]
    public void IgnoringCase_IsForWindowsAndMacOS()
    {
        Assert.False(new SourceFilter(["*.html"], ignoreCase: false).Watches("INDEX.HTML"));
        Assert.True(new SourceFilter(["*.html"], ignoreCase: true).Watches("INDEX.HTML"));
    }

    [Theory]
    [InlineData("")]
    [InlineData("templates/")]
    [InlineData("../outside/*.py")]
    [InlineData("/etc/*.conf")]
    public void BadGlobs_AreUsageErrors(string glob)
    {
        var error = Assert.Throws<UsageException>(() => SourceFilter.CheckGlob(glob));
        Assert.StartsWith("--reload-include", error.Message);
    }

    [Theory]
    [InlineData("__pycache__", true)]
    [InlineData("pkg/__pycache__/app.cpython-311.pyc", true)]
    [InlineData(".git/index", true)]
    [InlineData("pkg/app.py", false)]
    [InlineData("gitignore/app.py", false)]
    public void EventsInSkippedFolders_AreNotLookedAt(string path, bool skipped) =>
        Assert.Equal(skipped, SourceFilter.IsInSkippedFolder(path));
}

using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>Two scans of the app's folder name exactly the watched files changed, created or deleted between them.</summary>
public sealed class SourceTreeTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kwsgi-tree-").FullName;
    private readonly SourceFilter _filter = new(["*.html"], ignoreCase: false);

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Write(string path, string text, int secondsAhead = 0)
    {
        string full = Path.Combine(_root, path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        File.WriteAllText(full, text);
        if (secondsAhead != 0)
        {
            // Some file systems keep whole seconds: a distinct time makes the change visible everywhere.
            File.SetLastWriteTimeUtc(full, DateTime.UtcNow.AddSeconds(secondsAhead));
        }
    }

    [Fact]
    public void Scan_FindsWatchedFiles_AndSkipsCachesAndVirtualenvs()
    {
        Write("app.py", "a");
        Write("pkg/views.py", "v");
        Write("pkg/templates/page.html", "p");
        Write("notes.txt", "n");
        Write("__pycache__/app.py", "x");
        Write(".venv/lib/site.py", "x");
        Write("env311/pyvenv.cfg", "home = /usr/bin");
        Write("env311/lib/python3.11/site-packages/flask/app.py", "x");
        SourceTree tree = SourceTree.Scan(_root, _filter);
        Assert.Equal(3, tree.Count);
    }

    [Fact]
    public void ChangesSince_NamesChangedCreatedAndDeletedFiles_Sorted()
    {
        Write("app.py", "a");
        Write("pkg/views.py", "v");
        Write("pkg/old.py", "o");
        Write("gone/x.py", "x");
        Write("notes.txt", "n");
        SourceTree before = SourceTree.Scan(_root, _filter);

        Write("pkg/views.py", "v2", secondsAhead: 5);
        Write("pkg/new.py", "n");
        File.Delete(Path.Combine(_root, "pkg/old.py"));
        Directory.Delete(Path.Combine(_root, "gone"), recursive: true);
        Write("notes.txt", "changed", secondsAhead: 5);
        Write("__pycache__/app.cpython-311.pyc", "bytecode");

        Assert.Equal(["gone/x.py", "pkg/new.py", "pkg/old.py", "pkg/views.py"], SourceTree.Scan(_root, _filter).ChangesSince(before));
    }

    [Fact]
    public void ChangesSince_IsEmpty_WhenNothingWatchedChanged()
    {
        Write("app.py", "a");
        SourceTree before = SourceTree.Scan(_root, _filter);
        Write("server.log", "a line");
        Write("pkg/__pycache__/app.cpython-311.pyc", "bytecode");
        Assert.Empty(SourceTree.Scan(_root, _filter).ChangesSince(before));
    }

    [Fact]
    public void ChangesSince_SeesASameSizeRewrite_ByItsTime()
    {
        Write("app.py", "v1");
        SourceTree before = SourceTree.Scan(_root, _filter);
        Write("app.py", "v2", secondsAhead: 3);
        Assert.Equal(["app.py"], SourceTree.Scan(_root, _filter).ChangesSince(before));
    }

    [Fact]
    public void ForgetBytecode_DeletesOnlyTheChangedModulesCache()
    {
        Write("pkg/views.py", "v");
        Write("pkg/__pycache__/views.cpython-311.pyc", "old");
        Write("pkg/__pycache__/views.cpython-311.opt-1.pyc", "old");
        Write("pkg/__pycache__/models.cpython-311.pyc", "keep");
        SourceTree.ForgetBytecode(_root, ["pkg/views.py", "templates/page.html", "deleted/gone.py"]);
        Assert.Equal(["models.cpython-311.pyc"], Directory.GetFiles(Path.Combine(_root, "pkg/__pycache__")).Select(Path.GetFileName));
    }
}

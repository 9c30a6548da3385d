using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests.Windows;

/// <summary>
/// Folders with spaces (and, on Linux, a backslash: a plain character there) in the app folder, the Python's path
/// and the temp folder: the worker gets them through ArgumentList, so they must arrive whole.
/// </summary>
public sealed class PathsWithSpacesTests : IDisposable
{
    private readonly PrivateTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task AppFolderPythonAndTempFolderWithSpaces_ServeTheApp()
    {
        string appFolder = Path.Combine(_temp.Folder, "my app", @"v2\final");
        Directory.CreateDirectory(appFolder);
        await File.WriteAllTextAsync(Path.Combine(appFolder, "spaced.py"), """
            import json, os, sys

            def app(environ, start_response):
                body = json.dumps({"cwd": os.getcwd(), "executable": sys.executable, "file": __file__}).encode()
                start_response("200 OK", [("Content-Type", "application/json")])
                return [body]
            """);
        string pythonFolder = Path.Combine(_temp.Folder, "py thon");
        Directory.CreateDirectory(pythonFolder);
        string python = Path.Combine(pythonFolder, "python3");
        File.CreateSymbolicLink(python, "/usr/bin/python3");

        int port = KwsgiProcess.FreePort();
        await using var server = await KwsgiProcess.StartAndWaitAsync(
            ["--host", "127.0.0.1", "--port", port.ToString(), "--workers", "2", "--chdir", appFolder, "--python", python, "spaced:app"],
            _temp.Environment(), port);

        var info = Json.Parse(await server.Client.GetStringAsync("/"));
        Assert.Equal(appFolder, info.Str("cwd"));
        Assert.Equal(python, info.Str("executable"));
        Assert.Equal(Path.Combine(appFolder, "spaced.py"), info.Str("file"));
        foreach (int worker in await server.WaitForWorkersAsync(2, TimeSpan.FromSeconds(10)))
        {
            // The channel's path (in the temp folder with a space) reached the worker as one argument.
            string[] argv = File.ReadAllText($"/proc/{worker}/cmdline").Split('\0');
            string channel = argv[Array.IndexOf(argv, "--channel") + 1];
            Assert.StartsWith(_temp.Folder + "/kwsgi-", channel);
        }
        Assert.Empty(_temp.ChannelFiles());
    }
}

namespace Kestrel.Wsgi.Python;

/// <summary>A Python interpreter a worker can embed: its shared library and the module search path it would use itself.</summary>
internal sealed record PythonInstallation(
    string Executable,
    string Version,
    string Library,
    IReadOnlyList<string> SysPath);

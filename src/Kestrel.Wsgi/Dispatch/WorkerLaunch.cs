using System.Diagnostics;
using Kestrel.Wsgi.Python;

namespace Kestrel.Wsgi.Dispatch;

/// <summary>How to start a worker process: this same executable in its hidden worker mode.</summary>
internal sealed record WorkerLaunch(PythonInstallation Python, string App, bool CallFactory, int Threads, int Workers, string WorkingDirectory)
{
    /// <summary>
    /// Where the workers' stdout and stderr go: the front's log, tagged with pid and request id (<see cref="WorkerOutput"/>);
    /// null: the workers write to the front's own stdout and stderr, untagged.
    /// </summary>
    public Microsoft.Extensions.Logging.ILogger? OutputLogger { get; init; }

    /// <summary>Log the workers' output one entry per line (the text log) rather than one per write (JSON).</summary>
    public bool OutputSplitLines { get; init; }

    /// <summary>A 500 from an app's exception carries the traceback in its body (<c>--expose-tracebacks</c>).</summary>
    public bool ExposeTracebacks { get; init; }
    /// <summary>ASGI: --interface, --lifespan, --loop, and whether the worker writes its debug lines (docs/asgi.md).</summary>
    public string Interface { get; init; } = "auto";
    public string Lifespan { get; init; } = "auto";
    public string Loop { get; init; } = "auto";
    public bool Debug { get; init; }

    public ProcessStartInfo CreateStartInfo(Channel.ChannelAddress channel)
    {
        var info = new ProcessStartInfo
        {
            UseShellExecute = false,
            WorkingDirectory = WorkingDirectory,
        };
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("The kwsgi executable's path is unknown.");
        info.FileName = host;
        if (Path.GetFileNameWithoutExtension(host).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            // Started as `dotnet kwsgi.dll`: the worker needs the same assembly. Never a single-file bundle
            // here (that runs as kwsgi/kwsgi.exe), so Location is a real path.
#pragma warning disable IL3000
            info.ArgumentList.Add(typeof(WorkerLaunch).Assembly.Location.Replace("Kestrel.Wsgi.dll", "kwsgi.dll", StringComparison.Ordinal));
#pragma warning restore IL3000
        }
        var settings = new Worker.WorkerSettings
        {
            Channel = channel.ToString(),
            FrontProcessId = Environment.ProcessId,
            App = App,
            CallFactory = CallFactory,
            Threads = Threads,
            Workers = Workers,
            PythonLibrary = Python.Library,
            PythonExecutable = Python.Executable,
            PythonPath = string.Join(Path.PathSeparator, Python.SysPath),
            ExposeTracebacks = ExposeTracebacks,
            Interface = Interface,
            Lifespan = Lifespan,
            Loop = Loop,
            Debug = Debug,
        };
        foreach (string argument in settings.ToArguments())
        {
            info.ArgumentList.Add(argument);
        }
        // The front runs the server GC (its adaptive heap count keeps it small); a worker, one process per
        // GIL with little managed allocation, wants the workstation GC and no GC threads of its own.
        if (Environment.GetEnvironmentVariable("DOTNET_gcServer") is null)
        {
            info.Environment["DOTNET_gcServer"] = "0";
        }
        // A worker allocates little managed memory per request; the default gen0 budget (sized to the CPU
        // cache) only shows up as resident memory in every worker. Only settable from the environment.
        if (Environment.GetEnvironmentVariable("DOTNET_GCgen0size") is null)
        {
            info.Environment["DOTNET_GCgen0size"] = "0x400000";
        }
        // A worker's own .NET code is small and precompiled (ReadyToRun); its request path is Python and the kernel.
        // Without tiering that code is final and nothing is recompiled in the background: measured (Flask, 2 workers)
        // worker start-up CPU ~475 -> ~335 ms, tree RSS after 2000 requests ~225 -> ~215 MiB, request speed unchanged
        // (perf/ANALYSIS.md, Footprint). The front keeps tiering: its Kestrel hot path gains from tier-1 code.
        if (Environment.GetEnvironmentVariable("DOTNET_TieredCompilation") is null)
        {
            info.Environment["DOTNET_TieredCompilation"] = "0";
        }
        // A worker ends with _exit (no runtime shutdown), which would leave the runtime's diagnostic IPC socket
        // and debugger pipes in the temp folder on every stop; nothing attaches to workers in production.
        // DOTNET_EnableDiagnostics=1 in kwsgi's environment keeps them for a profiling session.
        if (Environment.GetEnvironmentVariable("DOTNET_EnableDiagnostics") is null)
        {
            info.Environment["DOTNET_EnableDiagnostics"] = "0";
        }
        if (OutputLogger is not null)
        {
            info.RedirectStandardOutput = true;
            info.RedirectStandardError = true;
            info.Environment[WorkerOutput.TagVariable] = "1";
        }
        // Output the app prints reaches the log at once, not when a buffer fills.
        if (Environment.GetEnvironmentVariable("PYTHONUNBUFFERED") is null)
        {
            info.Environment["PYTHONUNBUFFERED"] = "1";
        }
        return info;
    }
}

using System.Diagnostics;
using System.Runtime.InteropServices;
using Kestrel.Wsgi.Channel;
using Python.Runtime;

namespace Kestrel.Wsgi.Worker;

/// <summary>
/// The life of a worker process: connect to the front, start CPython, import the app, run T Python threads
/// on the channel's requests, and exit when told to stop or when the front goes away.
/// </summary>
public static class WorkerHost
{
    /// <summary>Runs the hidden <c>kwsgi worker …</c> mode; returns the process exit code.</summary>
    public static int Run(IReadOnlyList<string> args)
    {
        WorkerSettings settings;
        try
        {
            settings = WorkerSettings.Parse(args);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException)
        {
            Console.Error.WriteLine($"kwsgi: {ex.Message} (the worker mode is started by kwsgi itself)");
            return 2;
        }

        // The front coordinates shutdown and drains the workers over the channel; a Ctrl-C (SIGINT), Ctrl-Break or
        // Ctrl-\ (SIGQUIT) reaching the whole process group or console must not kill requests in flight. On
        // Windows these are the console's CTRL_C/CTRL_BREAK events, and SIGTERM is CTRL_SHUTDOWN: answering TRUE
        // is what CREATE_NEW_PROCESS_GROUP would have bought (see docs/windows.md).
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, context => context.Cancel = true);
        using var sigquit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, context => context.Cancel = true);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => context.Cancel = true);

        using ChannelConnection connection = ChannelConnection.Connect(ChannelAddress.Parse(settings.Channel));
        var channel = new WorkerChannel(connection, frontGone: () => Exit(0));
        // From now on, not only once the app is loaded: a front that dies while the app imports must take this worker
        // with it (a shared-memory channel does not fail the Ready frame's send the way a socket does).
        WatchFront(settings.FrontProcessId);

        List<Thread> threads;
        PyObject module;
        PyObject? asgi;
        try
        {
            (module, asgi) = StartPython(settings, channel);
            if (asgi is not null)
            {
                if (!connection.IsSocket)
                {
                    throw new AppLoadException($"the app is an ASGI app, which needs the socket channel; KWSGI_CHANNEL={Environment.GetEnvironmentVariable("KWSGI_CHANNEL")} carries WSGI apps only", "");
                }
                return RunAsgi(module, asgi, connection);
            }
            threads = StartThreads(module, settings.Threads);
        }
        catch (AppLoadException ex)
        {
            channel.Send(FrameType.StartupFailed, FrameFlags.None, 0, System.Text.Encoding.UTF8.GetBytes(ex.Message + "\n" + ex.Details));
            return 2;
        }

        // The initializing thread holds the GIL until it lets go here (pythonnet #109, #964).
        PythonEngine.BeginAllowThreads();
        channel.Send(FrameType.Ready, FrameFlags.None, 0, default);

        Heartbeat.Start(channel);

        foreach (Thread thread in threads)
        {
            thread.Join();
        }
        using (Py.GIL())
        {
            module.InvokeMethod("run_exit_functions").Dispose();
        }
        Exit(0);
        return 0;
    }

    /// <summary>
    /// An ASGI worker: one thread runs the event loop (kwsgi_asgi.serve), which watches the channel socket itself. The
    /// loop reports when lifespan startup is over: then Ready goes out (or StartupFailed, and the worker exits 2).
    /// </summary>
    private static int RunAsgi(PyObject module, PyObject asgi, ChannelConnection connection)
    {
        var channel = new AsgiChannel(connection);
        AsgiFunctions.Install(asgi, channel, started: failure =>
        {
            if (failure is not null)
            {
                channel.Send(FrameType.StartupFailed, FrameFlags.None, 0, System.Text.Encoding.UTF8.GetBytes(failure));
                Exit(2);
            }
            channel.Send(FrameType.Ready, FrameFlags.None, 0, [ReadyInterface.Asgi]);
            Heartbeat.Start(channel);
        }, frontGone: () => Exit(0));
        var loop = new Thread(() =>
        {
            using (Py.GIL())
            {
                try
                {
                    asgi.InvokeMethod("serve").Dispose();
                }
                catch (PythonException ex)
                {
                    Console.Error.WriteLine($"kwsgi: the event loop stopped: {ex.Message}");
                    Exit(1);
                }
            }
        })
        {
            Name = "kwsgi asgi loop",
            IsBackground = true,
        };
        loop.Start();
        PythonEngine.BeginAllowThreads();
        loop.Join();
        using (Py.GIL())
        {
            module.InvokeMethod("run_exit_functions").Dispose();
        }
        Exit(0);
        return 0;
    }

    /// <summary>
    /// Ends the process without finalizing the interpreter: one interpreter per process for the process's
    /// life (pythonnet #1701, #1500), and a worker whose front is gone has nobody left to answer.
    /// </summary>
    private static void Exit(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        if (OperatingSystem.IsWindows())
        {
            // Windows' _exit: no DLL detach notifications, no runtime shutdown.
            TerminateProcess(GetCurrentProcess(), (uint)code);
        }
        _exit(code);
    }

    /// <summary>
    /// Exits when the front is gone even if no thread is reading the channel (every thread busy in the
    /// app), so no worker outlives its front.
    /// </summary>
    private static void WatchFront(int frontProcessId)
    {
        Action watch;
        if (OperatingSystem.IsWindows())
        {
            // No getppid; the front's process handle, opened while the front is certainly alive (our channel is
            // connected), is signalled when it ends. Belt and braces: the front's job object kills us first.
            Process front;
            try
            {
                front = Process.GetProcessById(frontProcessId);
                _ = front.SafeHandle;
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                return;
            }
            watch = () =>
            {
                front.WaitForExit();
                Exit(0);
            };
        }
        else
        {
            // The front started this process, so it is the parent until it dies (then the reaper is); compared with the
            // front's pid rather than a getppid() read here, which a front already gone would have made the reaper's.
            watch = () =>
            {
                while (getppid() == frontProcessId)
                {
                    Thread.Sleep(1000);
                }
                Exit(0);
            };
        }
        var watcher = new Thread(() => watch())
        {
            Name = "kwsgi front watch",
            IsBackground = true,
        };
        watcher.Start();
    }

    [DllImport("libc")]
    private static extern int getppid();

    [DllImport("libc", EntryPoint = "_exit")]
    private static extern void _exit(int status);

    [DllImport("kernel32")]
    private static extern nint GetCurrentProcess();

    [DllImport("kernel32")]
    [return: MarshalAs(UnmanagedType.Bool)]
    private static extern bool TerminateProcess(nint process, uint exitCode);

    /// <summary>Starts CPython and loads the app: the worker module, and the ASGI module when the app is an ASGI app.</summary>
    private static (PyObject Module, PyObject? Asgi) StartPython(WorkerSettings settings, WorkerChannel channel)
    {
        // Only the program name is set: CPython then computes sys.prefix, sys.path and a virtualenv's
        // site-packages (pyvenv.cfg next to the executable) exactly as that interpreter does when run.
        // Setting the path instead (Py_SetPath) would leave sys.prefix empty.
        Runtime.PythonDLL = settings.PythonLibrary;
        PythonEngine.ProgramName = settings.PythonExecutable;
        PythonEngine.Initialize([settings.PythonExecutable], setSysArgv: true, initSigs: false);
        CPython.Bind(settings.PythonLibrary);

        PyModule module = LoadModule("kwsgi_worker");
        ChannelFunctions.Install(module, channel);
        using (PyObject expected = new PyList(settings.PythonPath.Split(Path.PathSeparator).Select(p => (PyObject)new PyString(p)).ToArray()))
        using (PyObject runtimeFolder = new PyString(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory()))
        {
            module.InvokeMethod("extend_path", expected, runtimeFolder).Dispose();
        }

        try
        {
            using PyObject app = module.InvokeMethod("load_app", new PyString(settings.App), new PyInt(settings.CallFactory ? 1 : 0));
            using PyObject kind = module.InvokeMethod("interface_of", app, new PyString(settings.Interface), new PyString(settings.App));
            if (kind.ToString() == "asgi")
            {
                PyModule asgi = LoadModule("kwsgi_asgi");
                using PyObject debug = new PyInt(settings.Debug ? 1 : 0);
                asgi.InvokeMethod("configure", app, new PyString(settings.Lifespan), new PyString(settings.Loop), debug).Dispose();
                return (module, asgi);
            }
            using PyObject multithread = new PyInt(settings.Threads > 1 ? 1 : 0);
            using PyObject multiprocess = new PyInt(settings.Workers > 1 ? 1 : 0);
            using PyObject exposeTracebacks = new PyInt(settings.ExposeTracebacks ? 1 : 0);
            module.InvokeMethod("configure", app, multithread, multiprocess, exposeTracebacks).Dispose();
        }
        catch (PythonException ex) when (ex.Type.Name == "StartupError")
        {
            using PyObject args = ex.Value!.GetAttr("args");
            string message = args[0].ToString() ?? "the app could not be loaded";
            string details = args.Length() > 1 ? args[1].ToString() ?? "" : "";
            throw new AppLoadException(message, details);
        }
        catch (PythonException ex)
        {
            throw new AppLoadException($"loading the app failed: {ex.Message}", ex.StackTrace ?? "");
        }
        return (module, null);
    }

    /// <summary>Runs one of the worker's Python modules (embedded resources) and registers it in sys.modules.</summary>
    private static PyModule LoadModule(string name)
    {
        using var source = typeof(WorkerHost).Assembly.GetManifestResourceStream(name + ".py")
            ?? throw new InvalidOperationException($"{name}.py is missing from the assembly.");
        string code = new StreamReader(source).ReadToEnd();
        PyModule module = PyModule.FromString(name, code, name + ".py");
        using (PyDict modules = PyModule.SysModules)
        {
            modules.SetItem(name, module);
        }
        return module;
    }

    private static List<Thread> StartThreads(PyObject module, int count)
    {
        var threads = new List<Thread>(count);
        for (int i = 0; i < count; i++)
        {
            var thread = new Thread(() => Serve(module))
            {
                Name = $"kwsgi python {i + 1}",
                IsBackground = true,
            };
            thread.Start();
            threads.Add(thread);
        }
        return threads;
    }

    /// <summary>A Python thread attached once for its whole life (pythonnet #2074): serve() loops in Python.</summary>
    private static void Serve(PyObject module)
    {
        using (Py.GIL())
        {
            try
            {
                module.InvokeMethod("serve").Dispose();
            }
            catch (PythonException ex)
            {
                Console.Error.WriteLine($"kwsgi: a worker thread stopped: {ex.Message}");
            }
        }
    }
}

/// <summary>The app could not be loaded; <see cref="Exception.Message"/> is one sentence for the user.</summary>
internal sealed class AppLoadException(string message, string details) : Exception(message)
{
    public string Details { get; } = details;
}

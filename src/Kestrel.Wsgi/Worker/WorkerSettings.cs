namespace Kestrel.Wsgi.Worker;

/// <summary>What the front tells a worker process on its (hidden) command line.</summary>
internal sealed record WorkerSettings
{
    /// <summary>A <see cref="Kestrel.Wsgi.Channel.ChannelAddress"/> as text: a socket path, or pipe:NAME.</summary>
    public required string Channel { get; init; }

    /// <summary>The front's pid: on Windows a worker watches that process (there is no getppid).</summary>
    public int FrontProcessId { get; init; }
    public required string App { get; init; }
    public bool CallFactory { get; init; }
    // No defaults here: the front always says (its options hold the one definition of each default).
    public required int Threads { get; init; }
    public required int Workers { get; init; }
    public required string PythonLibrary { get; init; }
    public required string PythonExecutable { get; init; }
    public required string PythonPath { get; init; }

    /// <summary>A 500 from an app's exception carries the traceback in its body (--expose-tracebacks, docs/reload.md).</summary>
    public bool ExposeTracebacks { get; init; }
    // ASGI (docs/asgi.md): which interface the app speaks, its lifespan protocol, the event loop; debug output.
    public string Interface { get; init; } = "auto";
    public string Lifespan { get; init; } = "auto";
    public string Loop { get; init; } = "auto";
    public bool Debug { get; init; }

    public IEnumerable<string> ToArguments()
    {
        yield return "worker";
        yield return "--channel";
        yield return Channel;
        yield return "--front-pid";
        yield return FrontProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return "--app";
        yield return App;
        if (CallFactory)
        {
            yield return "--call";
        }
        yield return "--threads";
        yield return Threads.ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return "--workers";
        yield return Workers.ToString(System.Globalization.CultureInfo.InvariantCulture);
        yield return "--python-lib";
        yield return PythonLibrary;
        yield return "--python-exe";
        yield return PythonExecutable;
        yield return "--python-path";
        yield return PythonPath;
        if (ExposeTracebacks)
        {
            yield return "--expose-tracebacks";
        }
        yield return "--interface";
        yield return Interface;
        yield return "--lifespan";
        yield return Lifespan;
        yield return "--loop";
        yield return Loop;
        if (Debug)
        {
            yield return "--debug";
        }
    }

    /// <summary>Reads what <see cref="ToArguments"/> wrote (without the leading "worker").</summary>
    public static WorkerSettings Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool call = false, debug = false;
        bool exposeTracebacks = false;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--call")
            {
                call = true;
            }
            else if (args[i] == "--expose-tracebacks")
            {
                exposeTracebacks = true;
            }
            else if (args[i] == "--debug")
            {
                debug = true;
            }
            else if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Count)
            {
                values[args[i]] = args[++i];
            }
            else
            {
                throw new ArgumentException($"unexpected worker argument '{args[i]}'");
            }
        }
        string Get(string name) => values.TryGetValue(name, out string? value) ? value : throw new ArgumentException($"the worker needs {name}");
        return new WorkerSettings
        {
            Channel = Get("--channel"),
            FrontProcessId = int.Parse(Get("--front-pid"), System.Globalization.CultureInfo.InvariantCulture),
            App = Get("--app"),
            CallFactory = call,
            Threads = int.Parse(Get("--threads"), System.Globalization.CultureInfo.InvariantCulture),
            Workers = int.Parse(Get("--workers"), System.Globalization.CultureInfo.InvariantCulture),
            PythonLibrary = Get("--python-lib"),
            PythonExecutable = Get("--python-exe"),
            PythonPath = Get("--python-path"),
            ExposeTracebacks = exposeTracebacks,
            Interface = values.GetValueOrDefault("--interface", "auto"),
            Lifespan = values.GetValueOrDefault("--lifespan", "auto"),
            Loop = values.GetValueOrDefault("--loop", "auto"),
            Debug = debug,
        };
    }
}

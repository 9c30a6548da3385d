namespace Kestrel.Wsgi.Worker;

/// <summary>What the front tells a worker process on its (hidden) command line.</summary>
internal sealed record WorkerSettings
{
    public required string ChannelPath { get; init; }
    public required string App { get; init; }
    public bool CallFactory { get; init; }
    public int Threads { get; init; } = 4;
    public int Workers { get; init; } = 1;
    public required string PythonLibrary { get; init; }
    public required string PythonExecutable { get; init; }
    public required string PythonPath { get; init; }

    public IEnumerable<string> ToArguments()
    {
        yield return "worker";
        yield return "--channel";
        yield return ChannelPath;
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
    }

    /// <summary>Reads what <see cref="ToArguments"/> wrote (without the leading "worker").</summary>
    public static WorkerSettings Parse(IReadOnlyList<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        bool call = false;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--call")
            {
                call = true;
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
            ChannelPath = Get("--channel"),
            App = Get("--app"),
            CallFactory = call,
            Threads = int.Parse(Get("--threads"), System.Globalization.CultureInfo.InvariantCulture),
            Workers = int.Parse(Get("--workers"), System.Globalization.CultureInfo.InvariantCulture),
            PythonLibrary = Get("--python-lib"),
            PythonExecutable = Get("--python-exe"),
            PythonPath = Get("--python-path"),
        };
    }
}

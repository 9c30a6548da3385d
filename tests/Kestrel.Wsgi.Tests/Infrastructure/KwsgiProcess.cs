using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>The result of a kwsgi run that was expected to end by itself.</summary>
public sealed record KwsgiExit(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() =>
        $"exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// One kwsgi server process: started with arguments, its stdout/stderr captured,
/// ready once it prints "Listening on http://HOST:PORT". Disposal sends SIGTERM,
/// waits, then SIGKILLs what is left (front and any worker it was seen with).
/// </summary>
public sealed partial class KwsgiProcess : IAsyncDisposable
{
    public static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _lock = new();
    private readonly TaskCompletionSource<int> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stdoutEof = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrEof = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<int> _seenWorkers = new();
    private HttpClient? _client;
    private bool _disposed;

    public IReadOnlyList<string> Arguments { get; }

    public int Pid { get; }

    /// <summary>The port from the "Listening on" line (0 until ready).</summary>
    public int Port { get; private set; }

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    public string Stdout
    {
        get { lock (_lock) { return _stdout.ToString(); } }
    }

    public string Stderr
    {
        get { lock (_lock) { return _stderr.ToString(); } }
    }

    /// <summary>stdout followed by stderr.</summary>
    public string Output => Stdout + "\n" + Stderr;

    /// <summary>An HttpClient whose BaseAddress is this server, 30 s timeout (created on first use, disposed with the server).</summary>
    public HttpClient Client => _client ??= CreateClient(TimeSpan.FromSeconds(30));

    /// <summary>A new HttpClient for this server (the caller disposes it).</summary>
    public HttpClient CreateClient(TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
        };
        return new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = timeout };
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    private KwsgiProcess(IReadOnlyList<string> args, IDictionary<string, string?>? environment, string? workingDirectory)
    {
        Arguments = args;
        ProcessStartInfo psi;
        if (TestPaths.Apphost is { } apphost)
        {
            psi = new ProcessStartInfo(apphost);
        }
        else
        {
            psi = new ProcessStartInfo("dotnet");
            psi.ArgumentList.Add(TestPaths.KwsgiDll);
        }
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }
        psi.UseShellExecute = false;
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        psi.RedirectStandardInput = false;
        psi.StandardOutputEncoding = Encoding.UTF8;
        psi.StandardErrorEncoding = Encoding.UTF8;
        psi.WorkingDirectory = workingDirectory ?? TestPaths.AppsDir;
        // Keep the server's own environment predictable: no port from the outside unless a test asks.
        psi.Environment.Remove("HTTP_PLATFORM_PORT");
        psi.Environment.Remove("ASPNETCORE_PORT");
        psi.Environment.Remove("ASPNETCORE_TOKEN");
        psi.Environment.Remove("ASPNETCORE_APPL_PATH");
        psi.Environment.Remove("ASPNETCORE_URLS");
        psi.Environment.Remove("ASPNETCORE_HTTP_PORTS");
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null)
                {
                    psi.Environment.Remove(k);
                }
                else
                {
                    psi.Environment[k] = v;
                }
            }
        }

        _process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, isStdout: true);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, isStdout: false);
        _process.Exited += (_, _) => _ready.TrySetException(new InvalidOperationException("kwsgi exited before it was ready"));
        if (!_process.Start())
        {
            throw new InvalidOperationException("could not start kwsgi");
        }
        Pid = _process.Id;
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    [GeneratedRegex(@"Listening on (?:https?|h2c)://(?<host>\[[^\]]*\]|[^\s/:]+):(?<port>\d+)")]
    private static partial Regex ListeningRegex();

    private void OnLine(string? line, bool isStdout)
    {
        if (line is null)
        {
            (isStdout ? _stdoutEof : _stderrEof).TrySetResult();
            return;
        }
        lock (_lock)
        {
            (isStdout ? _stdout : _stderr).Append(line).Append('\n');
        }
        if (isStdout)
        {
            var m = ListeningRegex().Match(line);
            if (m.Success)
            {
                _ready.TrySetResult(int.Parse(m.Groups["port"].Value));
            }
        }
    }

    /// <summary>Starts kwsgi without waiting for anything.</summary>
    public static KwsgiProcess Launch(IEnumerable<string> args, IDictionary<string, string?>? environment = null, string? workingDirectory = null) =>
        new(args.ToList(), environment, workingDirectory);

    /// <summary>
    /// Starts <c>kwsgi --host 127.0.0.1 --port FREE --chdir tests/apps [--ready-when all] EXTRA... APP</c> and waits until it is ready.
    /// </summary>
    public static Task<KwsgiProcess> StartAsync(string app, params string[] extraArgs)
    {
        int port = FreePort();
        var args = new List<string> { "--host", "127.0.0.1", "--port", port.ToString(), "--chdir", TestPaths.AppsDir };
        if (!extraArgs.Contains("--ready-when"))
        {
            // Every worker loaded before the first request: tests that count workers, pids or reloads must not race
            // a second worker still importing (the default, one, opens the port at the first; ReadyWhenTests test it).
            args.AddRange(["--ready-when", "all"]);
        }
        args.AddRange(extraArgs);
        args.Add(app);
        return StartAndWaitAsync(args, null, port);
    }

    /// <summary>Starts kwsgi with exactly these arguments and waits for the "Listening on" line.</summary>
    public static async Task<KwsgiProcess> StartAndWaitAsync(IEnumerable<string> args, IDictionary<string, string?>? environment, int? expectedPort)
    {
        var p = Launch(args, environment);
        try
        {
            await p.WaitForReadyAsync(ReadyTimeout);
            if (expectedPort is { } ep && p.Port != ep)
            {
                throw new InvalidOperationException($"kwsgi listens on {p.Port}, expected {ep}.\n{p.Describe()}");
            }
            return p;
        }
        catch
        {
            await p.DisposeAsync();
            throw;
        }
    }

    public async Task WaitForReadyAsync(TimeSpan timeout)
    {
        var done = await Task.WhenAny(_ready.Task, Task.Delay(timeout));
        if (done != _ready.Task)
        {
            throw new TimeoutException($"kwsgi did not print 'Listening on http://…' within {timeout.TotalSeconds:0} s.\n{Describe()}");
        }
        try
        {
            Port = await _ready.Task;
        }
        catch (InvalidOperationException)
        {
            await WaitForOutputEofAsync(TimeSpan.FromSeconds(3));
            throw new InvalidOperationException($"kwsgi exited before it was ready.\n{Describe()}");
        }
    }

    /// <summary>Runs kwsgi to completion (killing it after <paramref name="timeout"/>).</summary>
    public static async Task<KwsgiExit> RunToExitAsync(IEnumerable<string> args, TimeSpan timeout, IDictionary<string, string?>? environment = null, string? workingDirectory = null)
    {
        await using var p = Launch(args, environment, workingDirectory);
        if (!await p.WaitForExitAsync(timeout))
        {
            string desc = p.Describe();
            throw new TimeoutException($"kwsgi did not exit within {timeout.TotalSeconds:0} s.\n{desc}");
        }
        await p.WaitForOutputEofAsync(TimeSpan.FromSeconds(5));
        return new KwsgiExit(p.ExitCode, p.Stdout, p.Stderr);
    }

    /// <summary>Waits for the front process to exit (not for its output pipes: orphans may hold them).</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!_process.HasExited)
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }
            await Task.Delay(20);
        }
        return true;
    }

    public async Task WaitForOutputEofAsync(TimeSpan timeout) =>
        await Task.WhenAny(Task.WhenAll(_stdoutEof.Task, _stderrEof.Task), Task.Delay(timeout));

    /// <summary>Polls the captured output until it contains <paramref name="text"/>.</summary>
    public Task<bool> WaitForOutputAsync(string text, TimeSpan timeout) =>
        ProcInfo.WaitUntilAsync(() => Output.Contains(text, StringComparison.Ordinal), timeout);

    /// <summary>Live worker processes: children of the front whose command line contains " worker ".</summary>
    public List<int> WorkerPids()
    {
        var pids = ProcInfo.Children(Pid)
            .Where(pid => (" " + ProcInfo.CommandLine(pid) + " ").Contains(" worker ", StringComparison.Ordinal))
            .ToList();
        lock (_seenWorkers)
        {
            _seenWorkers.UnionWith(pids);
        }
        return pids;
    }

    /// <summary>Waits until exactly <paramref name="count"/> workers are alive; returns them.</summary>
    public async Task<List<int>> WaitForWorkersAsync(int count, TimeSpan timeout)
    {
        List<int> pids = WorkerPids();
        await ProcInfo.WaitUntilAsync(() => (pids = WorkerPids()).Count == count, timeout, 100);
        return pids;
    }

    public bool SendSignal(int signal) => ProcInfo.Signal(Pid, signal);

    public string Describe() =>
        $"kwsgi {string.Join(' ', Arguments)} (pid {Pid}{(_process.HasExited ? $", exited {_process.ExitCode}" : "")})\n" +
        $"--- stdout ---\n{Tail(Stdout)}\n--- stderr ---\n{Tail(Stderr)}";

    private static string Tail(string s) => s.Length > 6000 ? "…" + s[^6000..] : s;

    /// <summary>
    /// A TCP port on 127.0.0.1 that was free a moment ago. Taken below Linux's ephemeral range (32768 and up), never
    /// from it: a port the kernel picks for "port 0" is one it may hand next to any test's outgoing connection,
    /// which then holds it when the server binds ("address already in use"). Each call gives a different port.
    /// </summary>
    public static int FreePort()
    {
        for (int attempt = 0; attempt < 1000; attempt++)
        {
            int port = LowPorts + (int)((uint)Interlocked.Increment(ref s_nextPort) % LowPortCount);
            try
            {
                var l = new TcpListener(IPAddress.Loopback, port);
                l.Start();
                l.Stop();
                return port;
            }
            catch (SocketException)
            {
                // in use: try the next one
            }
        }
        throw new InvalidOperationException("No free TCP port between 20000 and 32000.");
    }

    private const int LowPorts = 20000, LowPortCount = 12000;
    private static int s_nextPort = Random.Shared.Next(LowPortCount);

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _client?.Dispose();
        try
        {
            if (!_process.HasExited)
            {
                WorkerPids();
                ProcInfo.Signal(Pid, ProcInfo.SIGTERM);
                if (!await WaitForExitAsync(TimeSpan.FromSeconds(15)))
                {
                    try
                    {
                        _process.Kill(entireProcessTree: true);
                    }
                    catch (InvalidOperationException)
                    {
                    }
                    await WaitForExitAsync(TimeSpan.FromSeconds(5));
                }
            }
        }
        finally
        {
            // Never leak a worker into the next test, whatever the server did.
            int[] seen;
            lock (_seenWorkers)
            {
                seen = _seenWorkers.ToArray();
            }
            foreach (int pid in seen)
            {
                if (ProcInfo.IsAlive(pid) && (" " + ProcInfo.CommandLine(pid) + " ").Contains(" worker ", StringComparison.Ordinal))
                {
                    ProcInfo.Signal(pid, ProcInfo.SIGKILL);
                }
            }
            _process.Dispose();
        }
    }
}

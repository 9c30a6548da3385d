namespace Kestrel.Wsgi.Hosting;

/// <summary>
/// The front runs socket continuations on the thread that polled them (epoll), instead of handing each one to
/// the thread pool: a request is parsed, forwarded and its head written to the worker on the thread that read
/// it, and a worker's answer is written to the client on the thread that read that. On a VM each hand-off
/// between threads is a wake-up of ~30 µs (issue 11; docs/channel.md, The hops). The price: code on those
/// threads must never block, which the front's request path does not (files go through RandomAccess, which
/// runs on the thread pool; the log queue drops lines when full rather than wait).
/// </summary>
internal static class InlineIo
{
    /// <summary>.NET's switch (Unix), read once when the first socket is made: set before that.</summary>
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>True unless the user set the variable to something other than 1 (an escape hatch: <c>=0</c>).</summary>
    public static bool Enabled { get; private set; }

    public static void Enable()
    {
        string? set = Environment.GetEnvironmentVariable(Variable);
        if (set is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
            set = "1";
        }
        Enabled = set == "1";
    }
}

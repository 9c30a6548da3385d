using Kestrel.Wsgi.Cli;
using Kestrel.Wsgi.Worker;

// `kwsgi worker …` is the hidden mode the front starts its worker processes in.
if (args.Length > 0 && args[0] == "worker")
{
    return WorkerHost.Run(args[1..]);
}
// The front's channel sockets complete inline on the epoll thread (read before the first socket is made).
Environment.SetEnvironmentVariable("DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS", "1");
return await CommandLine.RunAsync(args);

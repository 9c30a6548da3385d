using Kestrel.Wsgi.Cli;
using Kestrel.Wsgi.Cli.Iis;
using Kestrel.Wsgi.Worker;

// `kwsgi worker …` is the hidden mode the front starts its worker processes in.
if (args.Length > 0 && args[0] == "worker")
{
    return WorkerHost.Run(args[1..]);
}
// `kwsgi iis …` writes web.config files; it never starts a server.
if (args.Length > 0 && args[0] == "iis")
{
    return IisCommand.Run(args[1..]);
}
return await CommandLine.RunAsync(args);

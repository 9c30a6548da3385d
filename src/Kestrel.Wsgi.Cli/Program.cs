using Kestrel.Wsgi.Cli;
using Kestrel.Wsgi.Worker;

// `kwsgi worker …` is the hidden mode the front starts its worker processes in.
if (args.Length > 0 && args[0] == "worker")
{
    return WorkerHost.Run(args[1..]);
}
return await CommandLine.RunAsync(args);

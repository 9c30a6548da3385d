using System.CommandLine;
using Kestrel.Wsgi.Hosting;

namespace Kestrel.Wsgi.Cli;

/// <summary>
/// The command-line options for development (docs/reload.md): reload on source changes as gunicorn's and uvicorn's
/// <c>--reload</c>, and tracebacks in 500 bodies as waitress's <c>--expose-tracebacks</c>. Never for production.
/// </summary>
internal static class DevLoopOptions
{
    private static readonly OptionDefinition<bool> s_reload = new("--reload",
        "Development: replace the workers when a .py file under the app's folder (--chdir) changes, is created or deleted",
        () => false);
    private static readonly OptionDefinition<string[]> s_reloadInclude = new("--reload-include",
        "With --reload, also watch files matching GLOB, relative to the app's folder, e.g. '*.html' or 'templates/**/*.jinja' (repeatable; gunicorn's --reload-extra-file names files the same way)",
        aliases: "--reload-extra-file")
    {
        Arity = ArgumentArity.OneOrMore,
        AllowMultipleArgumentsPerToken = false,
    };
    private static readonly OptionDefinition<string> s_reloadEngine = new("--reload-engine",
        "With --reload, how changes are noticed: auto (the OS's file events, polling if they are unavailable) or poll (look every second: containers, network shares)",
        () => "auto");
    private static readonly OptionDefinition<bool> s_exposeTracebacks = new("--expose-tracebacks",
        "Development: a 500 caused by an exception in the app carries its Python traceback in the body (never in production)",
        () => false);
    private static readonly OptionDefinition<bool> s_noExposeTracebacks = new("--no-expose-tracebacks",
        "The same as --expose-tracebacks false (waitress's spelling)");

    public static IEnumerable<Option> All => [s_reload, s_reloadInclude, s_reloadEngine, s_exposeTracebacks, s_noExposeTracebacks];

    /// <summary><paramref name="options"/> with the development options; throws <see cref="UsageException"/> for a bad value.</summary>
    public static KwsgiOptions Apply(ParseResult parsed, KwsgiOptions options)
    {
        bool reload = parsed.GetValue(s_reload);
        string[] includes = parsed.GetValue(s_reloadInclude) ?? [];
        foreach (string glob in includes)
        {
            SourceFilter.CheckGlob(glob);
        }
        string engine = parsed.GetValue(s_reloadEngine)!;
        bool poll = engine.ToLowerInvariant() switch
        {
            // gunicorn's names: inotify is the OS's events on Linux, which auto uses.
            "auto" or "inotify" => false,
            "poll" => true,
            _ => throw new UsageException($"--reload-engine {engine} must be auto or poll"),
        };
        if (!reload && includes.Length > 0)
        {
            throw new UsageException("--reload-include means nothing without --reload");
        }
        if (!reload && parsed.GetResult(s_reloadEngine) is { Implicit: false })
        {
            throw new UsageException("--reload-engine means nothing without --reload");
        }
        return options with
        {
            Reload = reload,
            ReloadInclude = includes,
            ReloadPoll = poll,
            ExposeTracebacks = parsed.GetValue(s_exposeTracebacks) && !parsed.GetValue(s_noExposeTracebacks),
        };
    }
}

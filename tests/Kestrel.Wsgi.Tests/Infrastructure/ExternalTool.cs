using System.Diagnostics;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>The result of a command-line client run by a test.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit code {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>Runs a real client (curl, h2load, openssl, python3) to completion.</summary>
public static class ExternalTool
{
    public static async Task<ToolRun> RunAsync(string fileName, IEnumerable<string> args, TimeSpan? timeout = null, IDictionary<string, string?>? environment = null)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            psi.Environment[name] = value;
        }
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {fileName}");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', psi.ArgumentList)} did not finish in time");
        }
        return new ToolRun(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>tests/clients/https_get.py under python3: one JSON object describing the answer or the error.</summary>
    public static async Task<System.Text.Json.JsonElement> PythonHttpsGetAsync(string url, string caFile, params string[] more)
    {
        ToolRun run = await RunAsync("python3", [Path.Combine(TestPaths.RepoRoot, "tests", "clients", "https_get.py"), url, "--cafile", caFile, .. more]);
        Assert.True(run.ExitCode == 0, $"https_get.py failed; {run}");
        return Json.Parse(run.Stdout);
    }
}

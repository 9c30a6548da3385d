using System.Collections.Concurrent;
using System.Net;

namespace Kestrel.Wsgi.Tests.Infrastructure;

/// <summary>
/// A few HTTP clients sending one request after another to a server until stopped, counting every answer
/// that is not 200 (or no answer at all) and the worker pids the answers name (the app answers its pid).
/// </summary>
public sealed class SteadyLoad : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _clients;
    private readonly ConcurrentQueue<string> _failures = new();
    private readonly ConcurrentDictionary<int, int> _pids = new();
    private long _succeeded;

    public SteadyLoad(KwsgiProcess server, int clients, string path = "/")
    {
        _clients = Enumerable.Range(0, clients).Select(_ => Task.Run(() => RunAsync(server, path))).ToArray();
    }

    public long Succeeded => Interlocked.Read(ref _succeeded);

    public IReadOnlyCollection<string> Failures => _failures.ToArray();

    /// <summary>Pids named by successful answers.</summary>
    public IReadOnlyCollection<int> Pids => _pids.Keys.ToArray();

    private async Task RunAsync(KwsgiProcess server, string path)
    {
        using HttpClient client = server.CreateClient(TimeSpan.FromSeconds(60));
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using HttpResponseMessage response = await client.GetAsync(path);
                string body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    _failures.Enqueue($"{(int)response.StatusCode} {body.Trim()}");
                }
                else
                {
                    Interlocked.Increment(ref _succeeded);
                    if (int.TryParse(body, out int pid))
                    {
                        _pids[pid] = 0;
                    }
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
            {
                _failures.Enqueue($"{ex.GetType().Name}: {ex.Message}");
            }
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> requests succeeded (or the timeout passed).</summary>
    public Task<bool> WaitForSuccessesAsync(long count, TimeSpan timeout) =>
        ProcInfo.WaitUntilAsync(() => Succeeded >= count, timeout);

    /// <summary>Stops the clients after their current request.</summary>
    public async Task StopAsync()
    {
        _stop.Cancel();
        await Task.WhenAll(_clients);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await StopAsync();
        }
        _stop.Dispose();
    }
}

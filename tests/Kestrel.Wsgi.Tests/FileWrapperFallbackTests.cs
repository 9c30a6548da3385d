using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// wsgi.file_wrapper when the front cannot open the file the worker names (issue 10, item 11): the worker
/// streams the bytes itself after the refusal, and they must all reach the client.
/// </summary>
public sealed class FileWrapperFallbackTests : IAsyncLifetime
{
    private static readonly byte[] Payload = Enumerable.Range(0, 256 * 4096).Select(i => (byte)(i % 256)).ToArray();
    private KwsgiProcess _server = null!;

    // One thread: a request whose worker thread never finished would leave the next request waiting forever.
    public async Task InitializeAsync() => _server = await KwsgiProcess.StartAsync("filewrap:app", "--workers", "1", "--threads", "1");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task FileTheFrontCannotOpen_IsStreamedByTheWorker_Whole_AndTheThreadIsFreed()
    {
        if (OperatingSystem.IsWindows())
        {
            return; // the app locks the file with flock (Unix)
        }
        // The app holds an exclusive flock on the file: the front's open (a shared lock) fails, the worker sends it.
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage response = await _server.Client.GetAsync("/locked");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(Payload.Length, response.Content.Headers.ContentLength);
            Assert.Equal(Payload, await response.Content.ReadAsByteArrayAsync());
        }
        using HttpResponseMessage after = await _server.Client.GetAsync("/range");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(Payload.AsSpan(1000, 500).ToArray(), await after.Content.ReadAsByteArrayAsync());
    }
}

using System.Net;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>wsgi.file_wrapper: a real file is sent by the front from disk; other file-likes stream through Python.</summary>
public sealed class FileWrapperTests : IAsyncLifetime
{
    private static readonly byte[] Payload = Enumerable.Range(0, 256 * 4096).Select(i => (byte)(i % 256)).ToArray();
    private KwsgiProcess _server = null!;

    public async Task InitializeAsync() => _server = await KwsgiProcess.StartAsync("filewrap:app", "--workers", "1");

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task RealFile_IsSentFromDisk_NotReadByPython()
    {
        // read() of this file raises: the exact bytes can only come from the front reading the file itself.
        using HttpResponseMessage response = await _server.Client.GetAsync("/unreadable");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Payload.Length, response.Content.Headers.ContentLength);
        Assert.Equal(Payload, await response.Content.ReadAsByteArrayAsync());
        Assert.DoesNotContain("read() was called", _server.Output);
    }

    [Fact]
    public async Task RealFile_FromItsPosition_UpToTheAppsContentLength()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/range");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Payload.AsSpan(1000, 500).ToArray(), await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task HeadOfARealFile_HasItsLengthAndNoBody()
    {
        using var request = new HttpRequestMessage(HttpMethod.Head, "/unreadable");
        using HttpResponseMessage response = await _server.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Payload.Length, response.Content.Headers.ContentLength);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("/bytesio", 100000)]  // not a file at all
    [InlineData("/deleted", 50000)]   // a file without a name the front could open
    public async Task FileLikesThatAreNotNamedFiles_StreamThroughPython(string path, int length)
    {
        using HttpResponseMessage response = await _server.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Payload.AsSpan(0, length).ToArray(), await response.Content.ReadAsByteArrayAsync());
    }
}

using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text.Json;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

public sealed class ContentLengthAppFixture : ServerFixture
{
    protected override string App => "contentlength:app";

    protected override string[] ExtraArgs => ["--workers", "1"];
}

public sealed class StreamedContentLengthAppFixture : ServerFixture
{
    protected override string App => "contentlength:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--no-buffer-request-body"];
}

/// <summary>Django (Debian's python3-django under /usr/bin/python3) serving tests/apps/djangosite's body views.</summary>
public abstract class DjangoSiteFixture(params string[] extraArgs) : IAsyncLifetime
{
    private KwsgiProcess? _server;

    public KwsgiProcess Server => _server ?? throw new InvalidOperationException("server not started");

    public async Task InitializeAsync()
    {
        int port = KwsgiProcess.FreePort();
        string[] args = ["--host", "127.0.0.1", "--port", port.ToString(), "--workers", "1", "--python", "/usr/bin/python3",
            "--chdir", Path.Combine(TestPaths.AppsDir, "djangosite"), .. extraArgs, "djangosite.wsgi:application"];
        _server = await KwsgiProcess.StartAndWaitAsync(args, new Dictionary<string, string?> { ["PYTHONDONTWRITEBYTECODE"] = "1" }, port);
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

public sealed class DjangoBufferedFixture() : DjangoSiteFixture();

public sealed class DjangoStreamedFixture() : DjangoSiteFixture("--no-buffer-request-body");

/// <summary>Chunked request bodies (issue 10, item 0) with bodies buffered in the front (the default).</summary>
public sealed class ChunkedBodyTests(ContentLengthAppFixture raw, DjangoBufferedFixture django)
    : ChunkedBodyTestsBase(raw.Server, django.Server), IClassFixture<ContentLengthAppFixture>, IClassFixture<DjangoBufferedFixture>;

/// <summary>The same with <c>--no-buffer-request-body</c>: a body of undeclared length is still read whole first.</summary>
public sealed class StreamedChunkedBodyTests(StreamedContentLengthAppFixture raw, DjangoStreamedFixture django)
    : ChunkedBodyTestsBase(raw.Server, django.Server), IClassFixture<StreamedContentLengthAppFixture>, IClassFixture<DjangoStreamedFixture>;

/// <summary>
/// A chunked request body reaches the app whole, with CONTENT_LENGTH set to its decoded length, because most
/// apps read exactly CONTENT_LENGTH bytes (an absent one reads as 0: silent data loss).
/// </summary>
public abstract class ChunkedBodyTestsBase(KwsgiProcess raw, KwsgiProcess django)
{
    private static async Task<JsonElement> SendAsync(KwsgiProcess server, string path, HttpContent content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using HttpResponseMessage response = await server.Client.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST {path} → {(int)response.StatusCode}: {text}\n{server.Describe()}");
        return Json.Parse(text);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10_000)]
    [InlineData(3 * 1024 * 1024)] // past the in-memory limit: spooled to a temp file
    public async Task RawApp_ReadingContentLength_GetsTheWholeChunkedBody(int size)
    {
        JsonElement seen = await SendAsync(raw, "/", new GeneratedContent(size, chunked: true));
        Assert.Equal(size.ToString(), seen.Str("content_length"));
        Assert.Equal(size, seen.GetProperty("length").GetInt32());
        Assert.Equal(DataPattern.Sha256Hex(size), seen.Str("sha256"));
        // The app gets the decoded body with its length: the chunked framing is the front's business.
        Assert.Equal(JsonValueKind.Null, seen.GetProperty("transfer_encoding").ValueKind);
    }

    [Fact]
    public async Task RawApp_EmptyChunkedBody_HasContentLengthZero()
    {
        await using RawHttpConnection connection = await RawHttpConnection.ConnectAsync(raw.Port);
        RawResponse response = await connection.RequestAsync("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        Assert.Equal(200, response.Status);
        JsonElement seen = Json.Parse(response.Body);
        Assert.Equal("0", seen.Str("content_length"));
        Assert.Equal(0, seen.GetProperty("length").GetInt32());
    }

    [Fact]
    public async Task RawApp_OddChunksWithExtensionsAndTrailer_DecodedLengthIsTheContentLength()
    {
        await using RawHttpConnection connection = await RawHttpConnection.ConnectAsync(raw.Port);
        RawResponse response = await connection.RequestAsync(
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
            "3;name=value\r\nabc\r\n1\r\nd\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n");
        Assert.Equal(200, response.Status);
        JsonElement seen = Json.Parse(response.Body);
        Assert.Equal("14", seen.Str("content_length"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData("abcd0123456789"u8)), seen.Str("sha256"));
    }

    [Fact]
    public async Task RawApp_DeclaredContentLength_IsPassedAsSent()
    {
        using HttpResponseMessage response = await raw.Client.PostAsync("/", new GeneratedContent(5000, chunked: false));
        JsonElement seen = Json.Parse(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal("5000", seen.Str("content_length"));
        Assert.Equal(DataPattern.Sha256Hex(5000), seen.Str("sha256"));
    }

    [Theory]
    [InlineData(100)]
    [InlineData(300_000)]
    public async Task Django_RequestBody_OfAChunkedPost_IsWhole(int size)
    {
        JsonElement seen = await SendAsync(django, "/body/", new GeneratedContent(size, chunked: true));
        Assert.Equal(size, seen.GetProperty("length").GetInt32());
        Assert.Equal(DataPattern.Sha256Hex(size), seen.Str("sha256"));
    }

    [Fact]
    public async Task Django_ChunkedMultipartUpload_KeepsItsFileAndFields()
    {
        byte[] file = new byte[200_000];
        new Random(7).NextBytes(file);
        using var form = new MultipartFormDataContent();
        form.Add(new StringContent("kept"), "title");
        var part = new StreamContent(new MemoryStream(file));
        part.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(part, "attachment", "data.bin");

        JsonElement seen = await SendAsync(django, "/upload/", form);

        Assert.Equal("kept", seen.GetProperty("fields").Str("title"));
        JsonElement attachment = seen.GetProperty("files").GetProperty("attachment");
        Assert.Equal("data.bin", attachment.Str("filename"));
        Assert.Equal(file.Length, attachment.GetProperty("length").GetInt32());
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(file)), attachment.Str("sha256"));
    }
}

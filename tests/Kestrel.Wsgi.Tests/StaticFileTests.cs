using System.Diagnostics;
using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Kestrel.Wsgi.Tests.Infrastructure;

namespace Kestrel.Wsgi.Tests;

/// <summary>
/// A copy of tests/apps/static in a temp folder (so tests may change files), plus what cannot be checked in:
/// a large file, precompressed siblings, symbolic links out of the root, and files next to the root that
/// traversal attempts aim at. Served by one kwsgi (hello:app behind it) with --static /static=ROOT.
/// </summary>
public sealed class StaticFileFixture : IAsyncLifetime
{
    public const string Secret = "TOP-SECRET-OUTSIDE-THE-ROOT";
    public const int MaxAge = 600;

    private KwsgiProcess? _server;

    public string Dir { get; } = Directory.CreateTempSubdirectory("kwsgi-static-").FullName;

    public string Root => Path.Combine(Dir, "static");

    public KwsgiProcess Server => _server ?? throw new InvalidOperationException("server not started");

    /// <summary>Above the in-memory limit: sent from disk.</summary>
    public byte[] Big { get; } = CreateBig(1536 * 1024 + 7);

    /// <summary>styles.css: text that compresses, with .br and .gz siblings.</summary>
    public byte[] Styles { get; } = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Range(0, 200).Select(i => $".rule{i} {{ margin: {i}px; }}\n")));

    public byte[] StylesBrotli { get; private set; } = [];

    public byte[] StylesGzip { get; private set; } = [];

    public async Task InitializeAsync()
    {
        CopyFolder(Path.Combine(TestPaths.AppsDir, "static"), Root);
        // What traversal attempts aim at: a secret next to the root, and a copy of an app's source.
        File.WriteAllText(Path.Combine(Dir, "secret.txt"), Secret);
        Directory.CreateDirectory(Path.Combine(Dir, "apps"));
        File.Copy(Path.Combine(TestPaths.AppsDir, "hello.py"), Path.Combine(Dir, "apps", "hello.py"));
        Directory.CreateDirectory(Path.Combine(Dir, "outside"));
        File.WriteAllText(Path.Combine(Dir, "outside", "secret.txt"), Secret);
        File.CreateSymbolicLink(Path.Combine(Root, "escape.txt"), Path.Combine("..", "secret.txt"));
        File.CreateSymbolicLink(Path.Combine(Root, "absolute-escape.txt"), Path.Combine(Dir, "secret.txt"));
        Directory.CreateSymbolicLink(Path.Combine(Root, "linkdir"), Path.Combine("..", "outside"));
        File.CreateSymbolicLink(Path.Combine(Root, "alias.css"), "site.css");

        File.WriteAllBytes(Path.Combine(Root, "big.bin"), Big);
        File.WriteAllBytes(Path.Combine(Root, "styles.css"), Styles);
        StylesBrotli = Compress(Styles, s => new BrotliStream(s, CompressionLevel.SmallestSize));
        StylesGzip = Compress(Styles, s => new GZipStream(s, CompressionLevel.SmallestSize));
        File.WriteAllBytes(Path.Combine(Root, "styles.css.br"), StylesBrotli);
        File.WriteAllBytes(Path.Combine(Root, "styles.css.gz"), StylesGzip);
        File.WriteAllText(Path.Combine(Root, "gzonly.js"), "console.log('only a gzip sibling');\n");
        File.WriteAllBytes(Path.Combine(Root, "gzonly.js.gz"), Compress("console.log('only a gzip sibling');\n"u8.ToArray(), s => new GZipStream(s, CompressionLevel.Optimal)));
        File.WriteAllText(Path.Combine(Root, "empty.txt"), "");

        _server = await KwsgiProcess.StartAsync("hello:app", "--workers", "1", "--static", "/static=" + Root, "--static-max-age", MaxAge.ToString());
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        Directory.Delete(Dir, recursive: true);
    }

    private static byte[] CreateBig(int length)
    {
        var bytes = new byte[length];
        new Random(42).NextBytes(bytes);
        return bytes;
    }

    private static byte[] Compress(byte[] data, Func<Stream, Stream> compressor)
    {
        var output = new MemoryStream();
        using (Stream c = compressor(output))
        {
            c.Write(data);
        }
        return output.ToArray();
    }

    public static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
        foreach (string dir in Directory.GetDirectories(from))
        {
            CopyFolder(dir, Path.Combine(to, Path.GetFileName(dir)));
        }
    }
}

/// <summary>--static: every header rule against real files, over real sockets.</summary>
public sealed class StaticFileTests(StaticFileFixture fx) : IClassFixture<StaticFileFixture>
{
    private async Task<RawResponse> SendAsync(string method, string target, params string[] headers)
    {
        await using var connection = await RawHttpConnection.ConnectAsync(fx.Server.Port);
        var request = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: localhost\r\n");
        foreach (string header in headers)
        {
            request.Append(header).Append("\r\n");
        }
        request.Append("Connection: close\r\n\r\n");
        return await connection.RequestAsync(request.ToString(), head: method == "HEAD");
    }

    private Task<RawResponse> GetAsync(string target, params string[] headers) => SendAsync("GET", target, headers);

    private byte[] FileBytes(string relative) => File.ReadAllBytes(Path.Combine(fx.Root, relative));

    // ---- 200: body, type, validators, caching ----

    [Fact]
    public async Task SmallFile_ServedWithTypeLengthValidatorsAndCacheControl()
    {
        RawResponse r = await GetAsync("/static/site.css");
        Assert.Equal(200, r.Status);
        Assert.Equal(FileBytes("site.css"), r.Body);
        Assert.Equal("text/css; charset=utf-8", r.Header("Content-Type"));
        Assert.Equal(r.Body.Length.ToString(), r.Header("Content-Length"));
        Assert.Matches("^\"[0-9a-f]+-[0-9a-f]+\"$", r.Header("ETag"));
        DateTimeOffset lastModified = DateTimeOffset.Parse(r.Header("Last-Modified")!);
        DateTime onDisk = File.GetLastWriteTimeUtc(Path.Combine(fx.Root, "site.css"));
        Assert.True(Math.Abs((lastModified.UtcDateTime - onDisk).TotalSeconds) < 1, $"{lastModified} vs {onDisk}");
        Assert.Equal($"public, max-age={StaticFileFixture.MaxAge}", r.Header("Cache-Control"));
        Assert.Equal("bytes", r.Header("Accept-Ranges"));
        Assert.Null(r.Header("Vary")); // no siblings: nothing varies
        Assert.Null(r.Header("Content-Encoding"));
    }

    [Theory]
    [InlineData("/static/app.js", "text/javascript; charset=utf-8")]
    [InlineData("/static/hello.txt", "text/plain; charset=utf-8")]
    [InlineData("/static/sub/page.html", "text/html; charset=utf-8")]
    [InlineData("/static/logo.svg", "image/svg+xml; charset=utf-8")]
    [InlineData("/static/big.bin", "application/octet-stream")]
    [InlineData("/static/styles.css.gz", "application/x-gzip")]
    public async Task ContentType_FollowsTheExtension(string path, string type)
    {
        RawResponse r = await SendAsync("HEAD", path);
        Assert.Equal(200, r.Status);
        Assert.Equal(type, r.Header("Content-Type"));
    }

    [Fact]
    public async Task LargeFile_SentWholeFromDisk()
    {
        RawResponse r = await GetAsync("/static/big.bin");
        Assert.Equal(200, r.Status);
        Assert.Equal(fx.Big.Length.ToString(), r.Header("Content-Length"));
        Assert.True(r.Body.AsSpan().SequenceEqual(fx.Big), "big.bin differs");
        Assert.NotNull(r.Header("ETag"));
    }

    [Fact]
    public async Task EmptyFile_IsEmpty200()
    {
        RawResponse r = await GetAsync("/static/empty.txt");
        Assert.Equal(200, r.Status);
        Assert.Equal("0", r.Header("Content-Length"));
        Assert.Empty(r.Body);
    }

    [Fact]
    public async Task PercentEncodedName_IsDecoded()
    {
        RawResponse r = await GetAsync("/static/sp%20ace.txt?v=3");
        Assert.Equal(200, r.Status);
        Assert.Equal(FileBytes("sp ace.txt"), r.Body);
    }

    [Fact]
    public async Task Head_HasTheHeadersOfGetAndNoBody()
    {
        RawResponse get = await GetAsync("/static/site.css");
        await using var connection = await RawHttpConnection.ConnectAsync(fx.Server.Port);
        RawResponse head = await connection.RequestAsync("HEAD /static/site.css HTTP/1.1\r\nHost: x\r\n\r\n", head: true);
        Assert.Equal(200, head.Status);
        foreach (string name in new[] { "Content-Length", "Content-Type", "ETag", "Last-Modified", "Cache-Control" })
        {
            Assert.Equal(get.Header(name), head.Header(name));
        }
        Assert.Empty(await connection.PeekExtraBytesAsync(TimeSpan.FromMilliseconds(200)));
        // The connection is still in step: a second request on it works.
        RawResponse again = await connection.RequestAsync("HEAD /static/big.bin HTTP/1.1\r\nHost: x\r\n\r\n", head: true);
        Assert.Equal(fx.Big.Length.ToString(), again.Header("Content-Length"));
        Assert.Empty(await connection.PeekExtraBytesAsync(TimeSpan.FromMilliseconds(200)));
    }

    // ---- conditional requests ----

    [Fact]
    public async Task IfNoneMatch_SameTag_Is304WithValidatorsAndNoBody()
    {
        RawResponse first = await GetAsync("/static/site.css");
        string etag = first.Header("ETag")!;
        RawResponse r = await GetAsync("/static/site.css", $"If-None-Match: {etag}");
        Assert.Equal(304, r.Status);
        Assert.Empty(r.Body);
        Assert.Equal(etag, r.Header("ETag"));
        Assert.Equal(first.Header("Cache-Control"), r.Header("Cache-Control"));
        Assert.Equal(first.Header("Last-Modified"), r.Header("Last-Modified"));
        // In a list, weak, or "*": still a match.
        Assert.Equal(304, (await GetAsync("/static/site.css", $"If-None-Match: \"nope\", W/{etag}")).Status);
        Assert.Equal(304, (await GetAsync("/static/site.css", "If-None-Match: *")).Status);
        Assert.Equal(304, (await SendAsync("HEAD", "/static/site.css", $"If-None-Match: {etag}")).Status);
    }

    [Fact]
    public async Task IfNoneMatch_OtherTag_Is200()
    {
        RawResponse r = await GetAsync("/static/site.css", "If-None-Match: \"something-else\"");
        Assert.Equal(200, r.Status);
        Assert.Equal(FileBytes("site.css"), r.Body);
    }

    [Fact]
    public async Task IfModifiedSince_NotModified_Is304_Modified_Is200()
    {
        RawResponse first = await GetAsync("/static/hello.txt");
        string lastModified = first.Header("Last-Modified")!;
        Assert.Equal(304, (await GetAsync("/static/hello.txt", $"If-Modified-Since: {lastModified}")).Status);
        string later = DateTimeOffset.Parse(lastModified).AddDays(1).ToString("r");
        Assert.Equal(304, (await GetAsync("/static/hello.txt", $"If-Modified-Since: {later}")).Status);
        string earlier = DateTimeOffset.Parse(lastModified).AddSeconds(-1).ToString("r");
        RawResponse modified = await GetAsync("/static/hello.txt", $"If-Modified-Since: {earlier}");
        Assert.Equal(200, modified.Status);
        Assert.Equal(FileBytes("hello.txt"), modified.Body);
        Assert.Equal(200, (await GetAsync("/static/hello.txt", "If-Modified-Since: not a date")).Status);
    }

    [Fact]
    public async Task IfNoneMatch_WinsOverIfModifiedSince()
    {
        RawResponse first = await GetAsync("/static/app.js");
        string etag = first.Header("ETag")!;
        string lastModified = first.Header("Last-Modified")!;
        string longAgo = new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero).ToString("r");
        // RFC 9110 13.2.2: with If-None-Match present, If-Modified-Since is not evaluated — both ways.
        Assert.Equal(200, (await GetAsync("/static/app.js", "If-None-Match: \"stale\"", $"If-Modified-Since: {lastModified}")).Status);
        Assert.Equal(304, (await GetAsync("/static/app.js", $"If-None-Match: {etag}", $"If-Modified-Since: {longAgo}")).Status);
    }

    [Fact]
    public async Task IfMatch_Mismatch_Is412()
    {
        RawResponse first = await GetAsync("/static/app.js");
        Assert.Equal(412, (await GetAsync("/static/app.js", "If-Match: \"other\"")).Status);
        Assert.Equal(200, (await GetAsync("/static/app.js", $"If-Match: {first.Header("ETag")}")).Status);
    }

    // ---- ranges ----

    [Theory]
    [InlineData("bytes=2-5", 2, 5)]
    [InlineData("bytes=10-", 10, -1)]
    [InlineData("bytes=-7", -7, -1)]
    [InlineData("bytes=0-99999999", 0, -1)]
    public async Task Range_Single_Is206WithContentRange(string range, int first, int last)
    {
        foreach (string name in new[] { "site.css", "big.bin" })
        {
            byte[] all = FileBytes(name);
            int from = first < 0 ? all.Length + first : first;
            int to = last < 0 ? all.Length - 1 : last;
            RawResponse r = await GetAsync("/static/" + name, $"Range: {range}");
            Assert.Equal(206, r.Status);
            Assert.Equal($"bytes {from}-{to}/{all.Length}", r.Header("Content-Range"));
            Assert.Equal((to - from + 1).ToString(), r.Header("Content-Length"));
            Assert.True(r.Body.AsSpan().SequenceEqual(all.AsSpan(from, to - from + 1)), $"{name} {range}: wrong bytes");
        }
    }

    [Theory]
    [InlineData("bytes=100000000-")]
    [InlineData("bytes=-0")]
    public async Task Range_Unsatisfiable_Is416WithLength(string range)
    {
        foreach (string name in new[] { "site.css", "big.bin" })
        {
            RawResponse r = await GetAsync("/static/" + name, $"Range: {range}");
            Assert.Equal(416, r.Status);
            Assert.Equal($"bytes */{FileBytes(name).Length}", r.Header("Content-Range"));
            Assert.Empty(r.Body);
        }
    }

    [Theory]
    [InlineData("bytes=abc")]
    [InlineData("bytes=5-2")]
    [InlineData("items=0-5")]
    [InlineData("bytes=0-1,4-5")]
    public async Task Range_IgnoredOrMultiple_IsWhole200(string range)
    {
        RawResponse r = await GetAsync("/static/site.css", $"Range: {range}");
        Assert.Equal(200, r.Status);
        Assert.Equal(FileBytes("site.css"), r.Body);
    }

    [Fact]
    public async Task Range_WithStaleIfRange_IsWhole200_WithCurrentIfRange_Is206()
    {
        string etag = (await GetAsync("/static/site.css")).Header("ETag")!;
        Assert.Equal(200, (await GetAsync("/static/site.css", "Range: bytes=0-3", "If-Range: \"old\"")).Status);
        Assert.Equal(206, (await GetAsync("/static/site.css", "Range: bytes=0-3", $"If-Range: {etag}")).Status);
    }

    [Fact]
    public async Task Range_OnHead_IsIgnored()
    {
        RawResponse r = await SendAsync("HEAD", "/static/site.css", "Range: bytes=0-3");
        Assert.Equal(200, r.Status);
        Assert.Equal(FileBytes("site.css").Length.ToString(), r.Header("Content-Length"));
    }

    // ---- precompressed siblings ----

    [Fact]
    public async Task Brotli_ChosenWhenAccepted_WithItsOwnLengthAndTag()
    {
        RawResponse plain = await GetAsync("/static/styles.css");
        RawResponse r = await GetAsync("/static/styles.css", "Accept-Encoding: gzip, deflate, br");
        Assert.Equal(200, r.Status);
        Assert.Equal("br", r.Header("Content-Encoding"));
        Assert.Equal(fx.StylesBrotli, r.Body);
        Assert.Equal(fx.StylesBrotli.Length.ToString(), r.Header("Content-Length"));
        Assert.Equal("Accept-Encoding", r.Header("Vary"));
        Assert.Equal("text/css; charset=utf-8", r.Header("Content-Type"));
        Assert.NotEqual(plain.Header("ETag"), r.Header("ETag"));
        // The sibling's tag revalidates the sibling, not the file.
        Assert.Equal(304, (await GetAsync("/static/styles.css", "Accept-Encoding: br", $"If-None-Match: {r.Header("ETag")}")).Status);
        Assert.Equal(200, (await GetAsync("/static/styles.css", $"If-None-Match: {r.Header("ETag")}")).Status);
    }

    [Fact]
    public async Task Gzip_ChosenWhenOnlyGzipAccepted()
    {
        RawResponse r = await GetAsync("/static/styles.css", "Accept-Encoding: gzip");
        Assert.Equal("gzip", r.Header("Content-Encoding"));
        Assert.Equal(fx.StylesGzip, r.Body);
        Assert.Equal("Accept-Encoding", r.Header("Vary"));
        using var gunzip = new GZipStream(new MemoryStream(r.Body), CompressionMode.Decompress);
        var text = new MemoryStream();
        gunzip.CopyTo(text);
        Assert.Equal(fx.Styles, text.ToArray());
    }

    [Fact]
    public async Task NoAcceptEncoding_GetsTheFileItself_StillWithVary()
    {
        RawResponse r = await GetAsync("/static/styles.css");
        Assert.Null(r.Header("Content-Encoding"));
        Assert.Equal(fx.Styles, r.Body);
        Assert.Equal("Accept-Encoding", r.Header("Vary"));
        RawResponse notModified = await GetAsync("/static/styles.css", $"If-None-Match: {r.Header("ETag")}");
        Assert.Equal(304, notModified.Status);
        Assert.Equal("Accept-Encoding", notModified.Header("Vary"));
    }

    [Theory]
    [InlineData("br;q=0, gzip", "gzip")]
    [InlineData("br;q=0, gzip;q=0", null)]
    [InlineData("gzip;q=0.5, br;q=0.8", "br")]
    [InlineData("gzip;q=0.9, br;q=0.1", "gzip")]
    [InlineData("*", "br")]
    [InlineData("*;q=0", null)]
    [InlineData("identity", null)]
    [InlineData("gzip;q=0.5, identity", null)]
    [InlineData("deflate", null)]
    public async Task AcceptEncoding_QValuesHonoured(string accept, string? expected)
    {
        RawResponse r = await GetAsync("/static/styles.css", $"Accept-Encoding: {accept}");
        Assert.Equal(200, r.Status);
        Assert.Equal(expected, r.Header("Content-Encoding"));
        Assert.Equal(expected switch { "br" => fx.StylesBrotli, "gzip" => fx.StylesGzip, _ => fx.Styles }, r.Body);
    }

    [Fact]
    public async Task OnlyGzipSibling_BrotliClientGetsTheFile()
    {
        Assert.Null((await GetAsync("/static/gzonly.js", "Accept-Encoding: br")).Header("Content-Encoding"));
        Assert.Equal("gzip", (await GetAsync("/static/gzonly.js", "Accept-Encoding: br, gzip")).Header("Content-Encoding"));
        Assert.Null((await GetAsync("/static/gzonly.js", "Accept-Encoding: gzip;q=0")).Header("Content-Encoding"));
    }

    [Fact]
    public async Task Range_AppliesToTheChosenRepresentation()
    {
        RawResponse r = await GetAsync("/static/styles.css", "Accept-Encoding: gzip", "Range: bytes=0-9");
        Assert.Equal(206, r.Status);
        Assert.Equal("gzip", r.Header("Content-Encoding"));
        Assert.Equal($"bytes 0-9/{fx.StylesGzip.Length}", r.Header("Content-Range"));
        Assert.Equal(fx.StylesGzip.AsSpan(0, 10).ToArray(), r.Body);
    }

    // ---- Cache-Control ----

    [Theory]
    [InlineData("/static/app.0123456789ab.css", true)] // Django ManifestStaticFilesStorage
    [InlineData("/static/bundle.1a2b3c4d.js", true)] // webpack [name].[contenthash:8]
    [InlineData("/static/site.css", false)]
    [InlineData("/static/app.js", false)]
    [InlineData("/static/styles.css", false)]
    public async Task CacheControl_ImmutableOnlyForHashedNames(string path, bool immutable)
    {
        RawResponse r = await GetAsync(path);
        Assert.Equal(200, r.Status);
        Assert.Equal(immutable ? "public, max-age=31536000, immutable" : $"public, max-age={StaticFileFixture.MaxAge}", r.Header("Cache-Control"));
    }

    // ---- what is not served ----

    [Theory]
    [InlineData("/static/../secret.txt")]
    [InlineData("/static/../apps/hello.py")]
    [InlineData("/static/%2e%2e/apps/hello.py")]
    [InlineData("/static/%2E%2E/secret.txt")]
    [InlineData("/static/..%2fsecret.txt")]
    [InlineData("/static/..%2Fapps%2Fhello.py")]
    [InlineData("/static/sub/..%2f..%2fsecret.txt")]
    [InlineData("/static/sub/../../secret.txt")]
    [InlineData("/static/..%5csecret.txt")]
    [InlineData("/static/sub%5c..%5c..%5csecret.txt")]
    [InlineData("/static/..\\secret.txt")]
    [InlineData("/static/./site.css")]
    [InlineData("/static//site.css")]
    [InlineData("/static/.hidden")]
    [InlineData("/static/%2ehidden")]
    [InlineData("/static/escape.txt")]
    [InlineData("/static/absolute-escape.txt")]
    [InlineData("/static/linkdir/secret.txt")]
    [InlineData("/static/site.css%00.txt")]
    [InlineData("/static/%ff%fe.txt")]
    public async Task Traversal_DotfilesAndEscapingLinks_AreRefused(string target)
    {
        RawResponse r = await GetAsync(target);
        Assert.True(r.Status is 404 or 400, $"{target}: {r}");
        Assert.DoesNotContain(StaticFileFixture.Secret, r.BodyText);
        Assert.DoesNotContain("start_response", r.BodyText); // hello.py's source
        Assert.DoesNotContain("Hello, World!", r.BodyText); // nor did it fall through to the app
        Assert.DoesNotContain("dotfiles", r.BodyText);
    }

    [Fact]
    public async Task SymlinkInsideTheRoot_IsServed()
    {
        RawResponse r = await GetAsync("/static/alias.css");
        Assert.Equal(200, r.Status);
        Assert.Equal(FileBytes("site.css"), r.Body);
    }

    [Theory]
    [InlineData("/static")]
    [InlineData("/static/")]
    [InlineData("/static/sub")]
    [InlineData("/static/sub/")]
    [InlineData("/static/missing.css")]
    [InlineData("/static/sub/missing/deeper.js")]
    public async Task FoldersAndMissingFiles_Are404FromKwsgi_NotTheApp(string target)
    {
        RawResponse r = await GetAsync(target);
        Assert.Equal(404, r.Status);
        Assert.Equal("Not Found\n", r.BodyText); // hello:app would have said "Hello, World!"
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/staticfoo/site.css")]
    [InlineData("/other/static/site.css")]
    public async Task PathsOutsideTheMount_GoToTheApp(string target)
    {
        RawResponse r = await GetAsync(target);
        Assert.Equal(200, r.Status);
        Assert.Equal("Hello, World!", r.BodyText);
    }

    [Theory]
    [InlineData("POST")]
    [InlineData("PUT")]
    [InlineData("DELETE")]
    [InlineData("OPTIONS")]
    [InlineData("PATCH")]
    public async Task OtherMethods_Are405WithAllow(string method)
    {
        foreach (string target in new[] { "/static/site.css", "/static/missing.css" })
        {
            RawResponse r = await SendAsync(method, target, "Content-Length: 0");
            Assert.Equal(405, r.Status);
            Assert.Equal("GET, HEAD", r.Header("Allow"));
        }
    }

    // ---- changes on disk ----

    [Fact]
    public async Task ModifiedFile_IsServedFreshWithinTheCheckInterval()
    {
        string path = Path.Combine(fx.Root, "mutable.txt");
        File.WriteAllText(path, "version one\n");
        RawResponse first = await GetAsync("/static/mutable.txt");
        Assert.Equal("version one\n", first.BodyText);
        Assert.Equal("version one\n", (await GetAsync("/static/mutable.txt")).BodyText); // held now

        File.WriteAllText(path, "version two, longer\n");
        var clock = Stopwatch.StartNew();
        RawResponse r;
        do
        {
            r = await GetAsync("/static/mutable.txt");
        }
        while (r.BodyText != "version two, longer\n" && clock.Elapsed < TimeSpan.FromSeconds(5));
        Assert.Equal("version two, longer\n", r.BodyText);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"took {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.NotEqual(first.Header("ETag"), r.Header("ETag"));
        Assert.Equal(200, (await GetAsync("/static/mutable.txt", $"If-None-Match: {first.Header("ETag")}")).Status);

        File.Delete(path);
        clock.Restart();
        while ((r = await GetAsync("/static/mutable.txt")).Status == 200 && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }
        Assert.Equal(404, r.Status);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"removal took {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task NewFile_IsServedAtOnce()
    {
        Assert.Equal(404, (await GetAsync("/static/new.txt")).Status);
        File.WriteAllText(Path.Combine(fx.Root, "new.txt"), "just made\n");
        Assert.Equal("just made\n", (await GetAsync("/static/new.txt")).BodyText);
    }

    [Fact]
    public async Task NewSibling_IsPickedUpWithinTheCheckInterval()
    {
        string path = Path.Combine(fx.Root, "later.css");
        File.WriteAllText(path, "p { margin: 0 }\n");
        Assert.Null((await GetAsync("/static/later.css", "Accept-Encoding: gzip")).Header("Content-Encoding"));
        File.WriteAllBytes(path + ".gz", FileBytes("styles.css.gz"));
        var clock = Stopwatch.StartNew();
        RawResponse r;
        while ((r = await GetAsync("/static/later.css", "Accept-Encoding: gzip")).Header("Content-Encoding") is null && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50);
        }
        Assert.Equal("gzip", r.Header("Content-Encoding"));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2.5), $"took {clock.Elapsed.TotalSeconds:0.0} s");
    }
}

/// <summary>A Flask app's own static folder (tests/apps/static, Flask's default) served by kwsgi instead of Flask.</summary>
public sealed class FlaskStaticFixture : ServerFixture
{
    protected override string App => "flaskapp:app";

    protected override string[] ExtraArgs => ["--workers", "1", "--static", "/static=static"];
}

public sealed class FlaskStaticFileTests(FlaskStaticFixture fx) : IClassFixture<FlaskStaticFixture>
{
    [Fact]
    public async Task StaticFolder_ServedByKwsgi_AppStillAnswersTheRest()
    {
        using HttpResponseMessage css = await fx.Client.GetAsync("/static/site.css");
        Assert.Equal(HttpStatusCode.OK, css.StatusCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(TestPaths.AppsDir, "static", "site.css")), await css.Content.ReadAsByteArrayAsync());
        // Flask would say "no-cache"; kwsgi's default is an hour.
        Assert.Equal("public, max-age=3600", css.Headers.CacheControl?.ToString());
        Assert.NotNull(css.Headers.ETag);

        using HttpResponseMessage index = await fx.Client.GetAsync("/");
        Assert.Equal("<h1>Hello from Flask</h1>", await index.Content.ReadAsStringAsync());

        using HttpResponseMessage missing = await fx.Client.GetAsync("/static/missing.css");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("Not Found\n", await missing.Content.ReadAsStringAsync()); // not Flask's HTML 404

        using HttpResponseMessage post = await fx.Client.PostAsync("/static/site.css", new ByteArrayContent([]));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal("GET, HEAD", string.Join(", ", post.Content.Headers.Allow));
    }
}

/// <summary>
/// Django (Debian's python3-django, under /usr/bin/python3): collectstatic into a temp folder with
/// ManifestStaticFilesStorage, then the admin's CSS loads from kwsgi's static mount.
/// </summary>
public sealed class DjangoStaticFileTests
{
    private const string Python = "/usr/bin/python3";

    [Fact]
    public async Task AdminCss_LoadsFromTheStaticMount_AfterCollectstatic()
    {
        string site = Path.Combine(TestPaths.AppsDir, "djangosite");
        string staticRoot = Directory.CreateTempSubdirectory("kwsgi-django-static-").FullName;
        try
        {
            var environment = new Dictionary<string, string?> { ["KWSGI_STATIC_ROOT"] = staticRoot, ["PYTHONDONTWRITEBYTECODE"] = "1" };
            await RunCollectstaticAsync(site, environment);
            string baseCss = Path.Combine(staticRoot, "admin", "css", "base.css");
            Assert.True(File.Exists(baseCss), "collectstatic wrote no admin/css/base.css");

            int port = KwsgiProcess.FreePort();
            string[] args = ["--host", "127.0.0.1", "--port", port.ToString(), "--workers", "1", "--python", Python, "--chdir", site,
                "--static", "/static=" + staticRoot, "djangosite.wsgi:application"];
            await using KwsgiProcess server = await KwsgiProcess.StartAndWaitAsync(args, environment, port);

            using HttpResponseMessage css = await server.Client.GetAsync("/static/admin/css/base.css");
            Assert.Equal(HttpStatusCode.OK, css.StatusCode);
            Assert.Equal("text/css", css.Content.Headers.ContentType?.MediaType);
            Assert.Equal(File.ReadAllBytes(baseCss), await css.Content.ReadAsByteArrayAsync());

            // The admin's pages link the hashed copy, which is cached for ever.
            using HttpResponseMessage login = await server.Client.GetAsync("/admin/login/");
            string html = await login.Content.ReadAsStringAsync();
            Assert.True(login.StatusCode == HttpStatusCode.OK, $"{(int)login.StatusCode}: {html}\n{server.Describe()}");
            Match hashed = Regex.Match(html, "/static/admin/css/base\\.[0-9a-f]{12}\\.css");
            Assert.True(hashed.Success, "the login page links no hashed base.css:\n" + html);
            using HttpResponseMessage immutable = await server.Client.GetAsync(hashed.Value);
            Assert.Equal(HttpStatusCode.OK, immutable.StatusCode);
            Assert.Equal("public, max-age=31536000, immutable", immutable.Headers.CacheControl?.ToString());
            string hashedFile = Path.Combine(staticRoot, hashed.Value["/static/".Length..].Replace('/', Path.DirectorySeparatorChar));
            Assert.Equal(File.ReadAllBytes(hashedFile), await immutable.Content.ReadAsByteArrayAsync());
        }
        finally
        {
            Directory.Delete(staticRoot, recursive: true);
        }
    }

    private static async Task RunCollectstaticAsync(string site, Dictionary<string, string?> environment)
    {
        var psi = new ProcessStartInfo(Python, ["manage.py", "collectstatic", "--noinput"])
        {
            WorkingDirectory = site,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }
        using Process process = Process.Start(psi)!;
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(process.ExitCode == 0, $"collectstatic failed ({process.ExitCode}):\n{await stdout}\n{await stderr}");
    }
}

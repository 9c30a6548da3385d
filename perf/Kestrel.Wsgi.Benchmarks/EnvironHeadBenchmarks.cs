using System.Buffers;
using System.Net;
using BenchmarkDotNet.Attributes;
using Kestrel.Wsgi.Channel;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Benchmarks;

/// <summary>Encoding a request's environ into a RequestHead frame payload (done once per request on the front).</summary>
[MemoryDiagnoser]
public class EnvironHeadBenchmarks
{
    private const string BrowserTarget = "/articles/2024/kestrel-wsgi?page=2&sort=new";
    private const string BrowserQuery = "page=2&sort=new";
    private static readonly byte[] BrowserPath = "/articles/2024/kestrel-wsgi"u8.ToArray();
    private static readonly byte[] WrkPath = "/"u8.ToArray();

    private DefaultHttpContext _browser = null!;
    private DefaultHttpContext _wrk = null!;
    private readonly ArrayBufferWriter<byte> _writer = new(1024);

    [GlobalSetup]
    public void Setup()
    {
        _browser = NewContext();
        IHeaderDictionary headers = _browser.Request.Headers;
        headers.Host = "localhost:8000";
        headers.UserAgent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        headers.Accept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        headers.AcceptLanguage = "en-US,en;q=0.5";
        headers.AcceptEncoding = "gzip, deflate, br, zstd";
        headers.Cookie = "sessionid=8f14e45fceea167a5a36dedd4bea2543; csrftoken=c9f0f895fb98ab9159f51fd0297e236d; theme=dark";
        headers.Connection = "keep-alive";

        _wrk = NewContext();
        _wrk.Request.Headers.Host = "localhost:8000";
    }

    private static DefaultHttpContext NewContext()
    {
        var context = new DefaultHttpContext();
        context.Request.Method = HttpMethods.Get;
        context.Request.Protocol = "HTTP/1.1";
        context.Request.Scheme = "http";
        context.Connection.RemoteIpAddress = IPAddress.Parse("127.0.0.1");
        context.Connection.RemotePort = 51234;
        context.Connection.LocalIpAddress = IPAddress.Parse("127.0.0.1");
        context.Connection.LocalPort = 8000;
        return context;
    }

    [Benchmark(Description = "browser GET, reused writer")]
    public int BrowserReused()
    {
        _writer.ResetWrittenCount();
        RequestHeadWriter.Write(_writer, _browser, "", BrowserPath, BrowserTarget, BrowserQuery);
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "browser GET, new writer(1024)")]
    public int BrowserNewWriter()
    {
        // What WsgiHandler.ForwardAsync does per request today.
        var writer = new ArrayBufferWriter<byte>(1024);
        RequestHeadWriter.Write(writer, _browser, "", BrowserPath, BrowserTarget, BrowserQuery);
        return writer.WrittenCount;
    }

    [Benchmark(Description = "wrk GET (Host only), reused writer")]
    public int WrkReused()
    {
        _writer.ResetWrittenCount();
        RequestHeadWriter.Write(_writer, _wrk, "", WrkPath, "/", "");
        return _writer.WrittenCount;
    }

    [Benchmark(Description = "wrk GET (Host only), new writer(1024)")]
    public int WrkNewWriter()
    {
        var writer = new ArrayBufferWriter<byte>(1024);
        RequestHeadWriter.Write(writer, _wrk, "", WrkPath, "/", "");
        return writer.WrittenCount;
    }
}

using BenchmarkDotNet.Attributes;
using Kestrel.Wsgi.Channel;
using Microsoft.AspNetCore.Http;

namespace Kestrel.Wsgi.Benchmarks;

/// <summary>Decoding a ResponseHead frame and mapping it onto the response headers (WsgiHandler.SetHead).</summary>
[MemoryDiagnoser]
public class ResponseHeadBenchmarks
{
    private static readonly byte[] Payload = System.Text.Encoding.Latin1.GetBytes(
        "200 OK\0Content-Type\0text/html; charset=utf-8\0Content-Length\013\0Set-Cookie\0a=b");

    private readonly HeaderDictionary _headers = new();

    [Benchmark(Description = "parse only (status, reason, 3 pairs)")]
    public int Parse()
    {
        var head = new ResponseHead(Payload);
        int n = head.StatusCode + head.ReasonPhrase.Length;
        foreach ((string name, string value) in head)
        {
            n += name.Length + value.Length;
        }
        return n;
    }

    [Benchmark(Description = "parse + Append into reused HeaderDictionary")]
    public int ParseAndMap()
    {
        _headers.Clear();
        var head = new ResponseHead(Payload);
        foreach ((string name, string value) in head)
        {
            _headers.Append(name, value);
        }
        return head.StatusCode + _headers.Count;
    }

    [Benchmark(Description = "parse + Append into new HeaderDictionary")]
    public int ParseAndMapNewDictionary()
    {
        var headers = new HeaderDictionary();
        var head = new ResponseHead(Payload);
        foreach ((string name, string value) in head)
        {
            headers.Append(name, value);
        }
        return head.StatusCode + headers.Count;
    }
}

using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kestrel.Wsgi.Front;

namespace Kestrel.Wsgi.Benchmarks;

/// <summary>Splitting the raw request target into the decoded PATH_INFO bytes and the raw QUERY_STRING.</summary>
[MemoryDiagnoser]
public class RequestTargetBenchmarks
{
    private readonly ArrayBufferWriter<byte> _path = new(256);

    [Params("/", "/api/items/42?x=1&y=2", "/wiki/%E6%97%A5%E6%9C%AC%E8%AA%9E/Caf%C3%A9")]
    public string Target { get; set; } = "/";

    [Benchmark(Description = "Split, reused path writer")]
    public int Split()
    {
        _path.ResetWrittenCount();
        string query = RequestTarget.Split(Target, _path);
        return _path.WrittenCount + query.Length;
    }

    [Benchmark(Description = "Split, new path writer (as the handler)")]
    public int SplitNewWriter()
    {
        // WsgiHandler.InvokeAsync allocates a writer of max(16, rawTarget.Length) per request.
        var path = new ArrayBufferWriter<byte>(Math.Max(16, Target.Length));
        string query = RequestTarget.Split(Target, path);
        return path.WrittenCount + query.Length;
    }
}

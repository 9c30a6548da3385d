using System.Buffers;
using BenchmarkDotNet.Attributes;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Benchmarks;

/// <summary>The channel's framing: the 10-byte header codec and cutting frames off a pipe buffer.</summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private const int FrameCount = 16;

    private readonly byte[] _header = new byte[FrameHeader.Size];
    private ReadOnlySequence<byte> _single;
    private ReadOnlySequence<byte> _multi;

    [GlobalSetup]
    public void Setup()
    {
        // 16 small frames as a worker sends them for short responses: alternating head (32 B) and body (13 B) frames.
        var bytes = new List<byte>();
        for (int i = 0; i < FrameCount; i++)
        {
            int length = i % 2 == 0 ? 32 : 13;
            var type = i % 2 == 0 ? FrameType.ResponseHead : FrameType.ResponseBody;
            byte[] header = new byte[FrameHeader.Size];
            new FrameHeader(length, type, i % 2 == 0 ? FrameFlags.None : FrameFlags.End, (uint)(i / 2 + 1)).Write(header);
            bytes.AddRange(header);
            bytes.AddRange(Enumerable.Repeat((byte)'x', length));
        }
        byte[] all = bytes.ToArray();
        _single = new ReadOnlySequence<byte>(all);
        // The same bytes in 7-byte segments, so every header straddles a segment boundary (the slow path).
        _multi = Segment.Chain(all, 7);
    }

    [Benchmark(Description = "FrameHeader.Write+Read")]
    public long HeaderRoundTrip()
    {
        new FrameHeader(1234, FrameType.ResponseBody, FrameFlags.End, 42).Write(_header);
        FrameHeader read = FrameHeader.Read(_header);
        return read.Length + read.StreamId + (byte)read.Type;
    }

    [Benchmark(Description = "FrameReader.TryRead x16, one segment")]
    public long TryReadSingleSegment() => ReadAll(_single);

    [Benchmark(Description = "FrameReader.TryRead x16, 7-byte segments")]
    public long TryReadMultiSegment() => ReadAll(_multi);

    private static long ReadAll(ReadOnlySequence<byte> buffer)
    {
        long total = 0;
        while (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
        {
            total += payload.Length + header.StreamId;
        }
        if (total == 0)
        {
            throw new InvalidOperationException("no frames read");
        }
        return total;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        private Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Chain(byte[] data, int size)
        {
            var first = new Segment(data.AsMemory(0, Math.Min(size, data.Length)), 0);
            Segment last = first;
            for (int offset = size; offset < data.Length; offset += size)
            {
                var next = new Segment(data.AsMemory(offset, Math.Min(size, data.Length - offset)), offset);
                last.Next = next;
                last = next;
            }
            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}

using System.Buffers;
using Kestrel.Wsgi.Channel;

namespace Kestrel.Wsgi.Tests.Unit;

/// <summary>Frame-level tests of the channel codec: the exact bytes, and frames cut at every possible place.</summary>
public class FrameCodecTests
{
    [Fact]
    public void HeaderIsTenBytesLittleEndian()
    {
        byte[] bytes = new byte[FrameHeader.Size];
        new FrameHeader(0x01020304, FrameType.ResponseBody, FrameFlags.End, 0xA0B0C0D0).Write(bytes);
        Assert.Equal(new byte[] { 0x04, 0x03, 0x02, 0x01, 19, 1, 0xD0, 0xC0, 0xB0, 0xA0 }, bytes);
    }

    [Fact]
    public void OversizedFrameIsAProtocolError()
    {
        byte[] bytes = new byte[FrameHeader.Size];
        new FrameHeader(FrameHeader.MaxPayload + 1, FrameType.RequestBody, FrameFlags.None, 1).Write(bytes);
        Assert.Throws<InvalidDataException>(() => FrameHeader.Read(bytes));
    }

    [Fact]
    public void FramesSplitAtEveryOffsetAreReadWhole()
    {
        byte[] stream = [.. Frame(FrameType.RequestHead, 7, "abc"u8), .. Frame(FrameType.RequestBody, 7, new byte[300]), .. Frame(FrameType.RequestEnd, 7, [])];
        for (int cut = 0; cut <= stream.Length; cut++)
        {
            ReadOnlySequence<byte> buffer = TwoSegments(stream, cut);
            var types = new List<(FrameType, int)>();
            while (FrameReader.TryRead(ref buffer, out FrameHeader header, out ReadOnlySequence<byte> payload))
            {
                Assert.Equal(7u, header.StreamId);
                Assert.Equal(header.Length, payload.Length);
                types.Add((header.Type, header.Length));
            }
            Assert.Equal([(FrameType.RequestHead, 3), (FrameType.RequestBody, 300), (FrameType.RequestEnd, 0)], types);
            Assert.Equal(0, buffer.Length);
        }
    }

    [Fact]
    public void PartialFrameLeavesTheBufferUntouched()
    {
        byte[] frame = Frame(FrameType.ResponseHead, 3, "200 OK"u8);
        for (int length = 0; length < frame.Length; length++)
        {
            var buffer = new ReadOnlySequence<byte>(frame, 0, length);
            Assert.False(FrameReader.TryRead(ref buffer, out _, out _));
            Assert.Equal(length, buffer.Length);
        }
    }

    [Fact]
    public void ResponseHeadParsesStatusReasonAndRepeatedHeaders()
    {
        var head = new ResponseHead(System.Text.Encoding.Latin1.GetBytes("404 Not Here\0Set-Cookie\0a=1\0Set-Cookie\0b=2\0X-Empty\0\0X-Latin\0\u00e9t\u00e9"));
        Assert.Equal(404, head.StatusCode);
        Assert.Equal("Not Here", head.ReasonPhrase);
        var headers = new List<(string, string)>();
        foreach ((string name, string value) in head)
        {
            headers.Add((name, value));
        }
        Assert.Equal([("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("X-Empty", ""), ("X-Latin", "\u00e9t\u00e9")], headers);
    }

    [Fact]
    public void ResponseHeadWithoutStatusCodeIsRejected()
    {
        Assert.Throws<InvalidDataException>(() => new ResponseHead("OK\0A\0b"u8));
    }

    private static byte[] Frame(FrameType type, uint id, ReadOnlySpan<byte> payload)
    {
        byte[] bytes = new byte[FrameHeader.Size + payload.Length];
        new FrameHeader(payload.Length, type, FrameFlags.None, id).Write(bytes);
        payload.CopyTo(bytes.AsSpan(FrameHeader.Size));
        return bytes;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] data, int cut)
    {
        var first = new Segment(data.AsMemory(0, cut), 0);
        Segment last = first.Append(data.AsMemory(cut));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}

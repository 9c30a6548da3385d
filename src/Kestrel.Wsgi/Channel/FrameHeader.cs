using System.Buffers.Binary;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The fixed 10-byte prefix of every channel frame: payload length (u32 LE), type, flags, stream id (u32 LE).
/// Stream 0 is the channel itself (Ready, Stop, Ping); requests use ids from 1.
/// </summary>
internal readonly record struct FrameHeader(int Length, FrameType Type, FrameFlags Flags, uint StreamId)
{
    public const int Size = 10;

    /// <summary>Frames larger than this are a protocol error (a body is split into smaller frames).</summary>
    public const int MaxPayload = 16 * 1024 * 1024;

    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteInt32LittleEndian(destination, Length);
        destination[4] = (byte)Type;
        destination[5] = (byte)Flags;
        BinaryPrimitives.WriteUInt32LittleEndian(destination[6..], StreamId);
    }

    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        int length = BinaryPrimitives.ReadInt32LittleEndian(source);
        if ((uint)length > MaxPayload)
        {
            throw new InvalidDataException($"Channel frame of {length} bytes exceeds the limit.");
        }
        return new FrameHeader(length, (FrameType)source[4], (FrameFlags)source[5], BinaryPrimitives.ReadUInt32LittleEndian(source[6..]));
    }
}

using System.Buffers;

namespace Kestrel.Wsgi.Channel;

/// <summary>Cuts complete frames off the front of a pipe's buffer.</summary>
internal static class FrameReader
{
    /// <summary>
    /// Takes one frame from <paramref name="buffer"/> when it holds a whole one, advancing past it;
    /// otherwise leaves the buffer as it is and returns false.
    /// </summary>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, out FrameHeader header, out ReadOnlySequence<byte> payload)
    {
        if (buffer.Length < FrameHeader.Size)
        {
            header = default;
            payload = default;
            return false;
        }

        Span<byte> prefix = stackalloc byte[FrameHeader.Size];
        if (buffer.FirstSpan.Length >= FrameHeader.Size)
        {
            header = FrameHeader.Read(buffer.FirstSpan);
        }
        else
        {
            buffer.Slice(0, FrameHeader.Size).CopyTo(prefix);
            header = FrameHeader.Read(prefix);
        }

        long total = FrameHeader.Size + (long)header.Length;
        if (buffer.Length < total)
        {
            payload = default;
            return false;
        }

        payload = buffer.Slice(FrameHeader.Size, header.Length);
        buffer = buffer.Slice(total);
        return true;
    }
}

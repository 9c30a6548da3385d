using System.Buffers.Binary;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The payload of a <see cref="FrameType.ResponseFile"/> frame: a byte range of a file on this machine,
/// which the front reads and sends itself (wsgi.file_wrapper over a real file) instead of the bytes
/// crossing Python and the channel.
/// </summary>
internal readonly record struct FileReference(long Offset, long Length, string Path)
{
    public static FileReference Read(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 16)
        {
            throw new InvalidDataException("The worker sent a file reference without offset and length.");
        }
        long offset = BinaryPrimitives.ReadInt64LittleEndian(payload);
        long length = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        if (offset < 0 || length < 0)
        {
            throw new InvalidDataException("The worker sent a negative file range.");
        }
        return new FileReference(offset, length, System.Text.Encoding.UTF8.GetString(payload[16..]));
    }
}

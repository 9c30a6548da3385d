using System.Buffers.Binary;
using System.Text;

namespace Kestrel.Wsgi.Channel;

/// <summary>
/// The payload of <see cref="FrameType.WebSocketClose"/> and <see cref="FrameType.WebSocketDisconnect"/>: a u16 close
/// code (little-endian) and the reason in UTF-8 (RFC 6455 5.5.1 caps it at 123 bytes; longer ones are cut).
/// </summary>
internal static class WebSocketClosePayload
{
    /// <summary>RFC 6455 5.5: a control frame's payload is at most 125 bytes, two of them the code.</summary>
    public const int MaxReasonBytes = 123;

    public static byte[] Encode(int code, string? reason)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(reason ?? "");
        int length = Truncate(utf8);
        byte[] payload = new byte[2 + length];
        BinaryPrimitives.WriteUInt16LittleEndian(payload, (ushort)code);
        utf8.AsSpan(0, length).CopyTo(payload.AsSpan(2));
        return payload;
    }

    public static (int Code, string Reason) Decode(ReadOnlySpan<byte> payload)
    {
        if (payload.Length < 2)
        {
            throw new InvalidDataException("The worker sent a WebSocket close without a code.");
        }
        int code = BinaryPrimitives.ReadUInt16LittleEndian(payload);
        ReadOnlySpan<byte> reason = payload[2..];
        return (code, Encoding.UTF8.GetString(reason[..Truncate(reason)]));
    }

    /// <summary>The longest prefix of at most <see cref="MaxReasonBytes"/> bytes that does not split a UTF-8 character.</summary>
    private static int Truncate(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length <= MaxReasonBytes)
        {
            return utf8.Length;
        }
        int end = MaxReasonBytes;
        while (end > 0 && (utf8[end] & 0xC0) == 0x80)
        {
            end--; // a continuation byte: the character started earlier
        }
        return end;
    }
}

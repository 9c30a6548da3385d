namespace Kestrel.Wsgi.Channel;

/// <summary>
/// Reads a <see cref="FrameType.WebSocketAccept"/> payload: latin-1 <c>subprotocol NUL name NUL value NUL …</c>, the
/// ASGI <c>websocket.accept</c> event's subprotocol (empty: none) and extra response headers, checked by the worker.
/// </summary>
internal readonly record struct WebSocketAccept(string? SubProtocol, IReadOnlyList<(string Name, string Value)> Headers)
{
    public static WebSocketAccept Read(ReadOnlySpan<byte> payload)
    {
        int end = payload.IndexOf((byte)0);
        ReadOnlySpan<byte> subProtocol = end < 0 ? payload : payload[..end];
        var headers = new List<(string, string)>();
        ReadOnlySpan<byte> rest = end < 0 ? default : payload[(end + 1)..];
        while (!rest.IsEmpty)
        {
            int nameEnd = rest.IndexOf((byte)0);
            if (nameEnd < 0)
            {
                throw new InvalidDataException("The worker sent a WebSocket accept header name without a value.");
            }
            string name = System.Text.Encoding.Latin1.GetString(rest[..nameEnd]);
            rest = rest[(nameEnd + 1)..];
            int valueEnd = rest.IndexOf((byte)0);
            headers.Add((name, System.Text.Encoding.Latin1.GetString(valueEnd < 0 ? rest : rest[..valueEnd])));
            rest = valueEnd < 0 ? default : rest[(valueEnd + 1)..];
        }
        return new WebSocketAccept(subProtocol.IsEmpty ? null : System.Text.Encoding.Latin1.GetString(subProtocol), headers);
    }
}

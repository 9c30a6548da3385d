namespace Kestrel.Wsgi.Channel;

/// <summary>
/// What a worker sent for one request (or WebSocket), in order; <see cref="Buffer"/> is pooled and returned by the consumer.
/// <see cref="End"/> ends the response, or, on a WebSocket message piece, the message.
/// </summary>
internal readonly record struct ResponsePart(ResponsePartKind Kind, byte[]? Buffer, int Length, bool End);

internal enum ResponsePartKind
{
    /// <summary>Status and headers.</summary>
    Head,
    /// <summary>Body bytes.</summary>
    Body,
    /// <summary>The body is a file range (<see cref="FileReference"/>): the front reads it itself.</summary>
    File,
    /// <summary>HTTP trailers (latin-1 <c>name NUL value …</c>), the response's last part (an ASGI app on HTTP/2).</summary>
    Trailers,
    /// <summary>The app failed after its head was sent: the client connection must be dropped.</summary>
    Abort,
    /// <summary>The worker died with the request in flight (502, or a dropped connection once the head is out).</summary>
    WorkerLost,
    /// <summary>The request ran past <c>--timeout</c> and its worker is being killed (504, or a dropped connection once the head is out).</summary>
    TimedOut,
    /// <summary>The request body was malformed or too large (the front answers Kestrel's status code).</summary>
    BadRequestBody,
    /// <summary>The app accepted the WebSocket (<see cref="WebSocketAccept"/>).</summary>
    WebSocketAccept,
    /// <summary>A piece of the app's text WebSocket message; <see cref="ResponsePart.End"/> ends the message.</summary>
    WebSocketText,
    /// <summary>A piece of the app's bytes WebSocket message; <see cref="ResponsePart.End"/> ends the message.</summary>
    WebSocketBinary,
    /// <summary>The app closed the WebSocket (<see cref="WebSocketClosePayload"/>): 403 if it had not accepted it.</summary>
    WebSocketClose,
}

namespace Kestrel.Wsgi.Channel;

/// <summary>What a frame on a worker channel carries. Values below 16 go front → worker, the rest worker → front (12–15 and 28–31: WebSockets).</summary>
internal enum FrameType : byte
{
    /// <summary>Environ pairs of a new request (see <see cref="RequestHeadWriter"/>).</summary>
    RequestHead = 1,
    /// <summary>A piece of the request body.</summary>
    RequestBody = 2,
    /// <summary>The request body is complete.</summary>
    RequestEnd = 3,
    /// <summary>The client went away: stop the request.</summary>
    Cancel = 4,
    /// <summary>The front sent this many more response bytes to the client (payload: u32).</summary>
    ResponseCredit = 5,
    /// <summary>Finish in-flight requests, take no new ones, exit.</summary>
    Stop = 6,
    /// <summary>Heartbeat; the worker answers <see cref="Pong"/>.</summary>
    Ping = 7,
    /// <summary>Answer to <see cref="ResponseFile"/> (payload: u8, 1 = the front opened the file and sends it).</summary>
    FileOpened = 8,
    /// <summary>A new ASGI connection scope (see <see cref="ScopeHeadWriter"/>): sent instead of <see cref="RequestHead"/> to an ASGI worker.</summary>
    ScopeHead = 9,
    /// <summary>A piece of a client's WebSocket message (flags: End = the message's last piece, Text = a text message).</summary>
    WebSocketReceive = 13,
    /// <summary>The client closed the WebSocket or vanished (payload: u16 code, UTF-8 reason; 1006 when it vanished).</summary>
    WebSocketDisconnect = 14,

    /// <summary>The app is imported (payload: empty or u8 0 for a WSGI app, u8 1 for an ASGI app); the worker takes requests.</summary>
    Ready = 16,
    /// <summary>The app could not be loaded (payload: one UTF-8 sentence); the worker exits.</summary>
    StartupFailed = 17,
    /// <summary>Status and headers (see <see cref="ResponseHead"/>).</summary>
    ResponseHead = 18,
    /// <summary>A piece of the response body.</summary>
    ResponseBody = 19,
    /// <summary>The app failed after the head was sent: abort the client connection.</summary>
    ResponseAbort = 20,
    /// <summary>The worker consumed this many more request body bytes (payload: u32).</summary>
    RequestCredit = 21,
    /// <summary>Answer to <see cref="Ping"/>.</summary>
    Pong = 22,
    /// <summary>The body is a byte range of a file the front sends itself (payload: i64 offset, i64 length, UTF-8 path).</summary>
    ResponseFile = 23,
    /// <summary>HTTP trailers after the body (payload: latin-1 <c>name NUL value …</c>); End flag = the response is complete.</summary>
    ResponseTrailers = 24,
    /// <summary>The app accepts the WebSocket (payload: latin-1 <c>subprotocol NUL name NUL value …</c>, see <see cref="WebSocketAccept"/>).</summary>
    WebSocketAccept = 28,
    /// <summary>A piece of the app's WebSocket message (flags as <see cref="WebSocketReceive"/>).</summary>
    WebSocketSend = 29,
    /// <summary>The app closes the WebSocket (payload: u16 code, UTF-8 reason); before it accepted, the client gets 403.</summary>
    WebSocketClose = 30,
}

/// <summary>Bits in a frame header's flag byte.</summary>
[Flags]
internal enum FrameFlags : byte
{
    None = 0,
    /// <summary>On a request head: the request has no body. On a response head or body frame: the response is complete.</summary>
    End = 1,
    /// <summary>On a WebSocket message piece: the message is text (UTF-8), not bytes.</summary>
    Text = 2,
}

"""The ASGI half of a kwsgi worker: one event loop runs an ASGI 3 app's lifespan and all its requests.

The .NET host installs the channel builtins (_receive, _frame, _flush, _fd, _started) before it calls serve().
The loop watches the channel socket itself (add_reader): a readable socket is one call that returns every
complete frame as (type, flags, id, payload), each routed by stream id to the connection it belongs to. A
ScopeHead frame opens a connection, dispatched by scope type (SCOPE_TYPES: "http" today; "websocket" plugs in
the same way) to a class whose run() is the connection's task, with its own receive queue. Responses are
appended to one outgoing buffer in C# (_frame) and sent once per loop iteration (_flush), the rest when the
socket is writable again (add_writer): a batch of responses is one send.
"""

import asyncio
import os
import sys
import traceback
from collections import deque

import kwsgi_worker
from kwsgi_worker import ClientDisconnected, StartupError

_request_id = kwsgi_worker.request_id  # the tag on what a request's task prints

# Frame types (Channel/FrameType.cs) and the End flag.
REQUEST_BODY, REQUEST_END, CANCEL, RESPONSE_CREDIT, STOP, PING, FILE_OPENED, SCOPE_HEAD = 2, 3, 4, 5, 6, 7, 8, 9
RESPONSE_HEAD, RESPONSE_BODY, RESPONSE_ABORT, REQUEST_CREDIT, PONG, RESPONSE_FILE, RESPONSE_TRAILERS = 18, 19, 20, 21, 22, 23, 24
END = 1
# WebSockets (docs/asgi.md, WebSockets): frames both ways and the Text flag.
WEBSOCKET_RECEIVE, WEBSOCKET_DISCONNECT, WEBSOCKET_ACCEPT, WEBSOCKET_SEND, WEBSOCKET_CLOSE = 13, 14, 28, 29, 30
TEXT = 2

# Flow control (Channel/FlowWindow.cs).
WINDOW = 1024 * 1024
ACK_THRESHOLD = WINDOW // 4
MAX_CHUNK = 64 * 1024
INITIAL_REQUEST_WINDOW = MAX_CHUNK

# The fixed fields of a ScopeHead before the headers (Channel/ScopeHeadWriter.cs).
_FIXED_FIELDS = 13

_ERROR_HEAD = b"500\0content-type\0text/plain; charset=utf-8\0content-length\x0022"
_ERROR_BODY = b"Internal Server Error\n"

_ASGI = {"version": "3.0", "spec_version": "2.3"}
_EXTENSIONS = {"http.response.pathsend": {}, "http.response.zerocopysend": {}}
_EXTENSIONS_WITH_TRAILERS = {**_EXTENSIONS, "http.response.trailers": {}}

# RFC 9110 5.6.2 token characters: what a header name may hold.
_TOKEN = b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

_app = None
_lifespan_mode = "auto"
_loop_factory = None
_debug = False


def configure(app, lifespan, loop, debug):
    """Called once the app is loaded and known to be ASGI; raises StartupError for an event loop that cannot be had."""
    global _app, _lifespan_mode, _loop_factory, _debug
    kwsgi_worker.tag_output()
    _app = app
    _lifespan_mode = lifespan
    _debug = bool(debug)
    _loop_factory = None
    if loop in ("auto", "uvloop"):
        try:
            import uvloop
            _loop_factory = uvloop.new_event_loop
        except ImportError:
            if loop == "uvloop":
                raise StartupError(f"--loop uvloop: uvloop is not installed for {sys.executable}") from None
    if _loop_factory is None:
        # The selector loop everywhere: it can watch a socket it does not own (Windows' proactor cannot).
        _loop_factory = asyncio.SelectorEventLoop


def serve():
    """The loop thread's life: lifespan startup, requests until Stop, lifespan shutdown."""
    loop = _loop_factory()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_main(loop))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException:
            pass


async def _main(loop):
    lifespan = Lifespan(_app, _lifespan_mode)
    failure = await lifespan.startup()
    if failure is not None:
        _started(failure.encode("utf-8", "replace"))  # the host sends StartupFailed and exits 2
        return
    server = Server(loop, _app, lifespan.state)
    _started(None)
    server.start()
    await server.stopped
    await lifespan.shutdown()


def _log(message, with_traceback=True):
    try:
        sys.stderr.write(message + "\n" + (traceback.format_exc() if with_traceback else ""))
        sys.stderr.flush()
    except BaseException:
        pass


def _debug_log(message):
    if _debug:
        try:
            sys.stdout.write(message + "\n")
            sys.stdout.flush()
        except BaseException:
            pass


# ---------------------------------------------------------------- the channel

class Server:
    """The worker's connections, the frames that reach them, and the outgoing buffer's flushing."""

    def __init__(self, loop, app, state):
        self.loop = loop
        self.app = app
        self.state = state
        self.fd = _fd()
        self.connections = {}
        self.flush_scheduled = False
        self.writing = False
        self.stopping = False
        self.stopped = loop.create_future()

    def start(self):
        self.loop.add_reader(self.fd, self.on_readable)

    def on_readable(self):
        connections = self.connections
        for kind, flags, stream, payload in _receive():
            if kind == SCOPE_HEAD:
                self.open(stream, flags, payload)
                continue
            connection = connections.get(stream)
            if kind == REQUEST_BODY:
                if connection is not None:
                    connection.on_body(payload)
            elif kind == REQUEST_END:
                if connection is not None:
                    connection.on_body_end()
            elif kind == RESPONSE_CREDIT:
                if connection is not None:
                    connection.on_credit(int.from_bytes(payload, "little"))
            elif kind == CANCEL:
                if connection is not None:
                    connection.on_cancel()
            elif kind == FILE_OPENED:
                if connection is not None:
                    connection.on_file_opened(payload == b"\x01")
            elif kind == WEBSOCKET_RECEIVE:
                if connection is not None:
                    connection.on_message(flags, payload)
            elif kind == WEBSOCKET_DISCONNECT:
                if connection is not None:
                    connection.on_disconnect(payload)
            elif kind == PING:
                _frame(PONG, 0, 0, None)
                self.want_flush()
            elif kind == STOP:
                self.stopping = True
                if not connections and not self.stopped.done():
                    self.stopped.set_result(None)
        self.want_flush()

    def open(self, stream, flags, payload):
        count = payload[0] | (payload[1] << 8)
        fields = payload[2:].split(b"\0", _FIXED_FIELDS + 2 * count)
        kind = SCOPE_TYPES.get(fields[0])
        if kind is None:
            _frame(RESPONSE_ABORT, 0, stream, None)
            return
        connection = kind(self, stream, fields, count, flags & END)
        self.connections[stream] = connection
        self.loop.create_task(connection.run())

    def close(self, connection):
        self.connections.pop(connection.stream, None)
        if self.stopping and not self.connections and not self.stopped.done():
            self.stopped.set_result(None)

    def want_flush(self):
        """Sends what the frames appended so far hold once this loop iteration's callbacks have run."""
        if not self.flush_scheduled and not self.writing:
            self.flush_scheduled = True
            self.loop.call_soon(self.flush)

    def flush(self):
        self.flush_scheduled = False
        if not _flush() and not self.writing:
            self.writing = True
            self.loop.add_writer(self.fd, self.on_writable)

    def on_writable(self):
        if _flush():
            self.writing = False
            self.loop.remove_writer(self.fd)


# ---------------------------------------------------------------- http

_TEXT = {}


def _text(value):
    """bytes -> str for the few values that repeat (methods, schemes, versions, addresses), decoded once."""
    text = _TEXT.get(value)
    if text is None:
        text = value.decode("latin-1")
        if len(_TEXT) < 1024:
            _TEXT[value] = text
    return text


_HEADS = {}
_HEADS_MAX = 256


def _encode_head(status, headers):
    """Checks http.response.start's status and headers and encodes them for the channel: (head, content-length)."""
    try:
        key = (status, tuple(headers))
        encoded = _HEADS.get(key)
    except TypeError:  # lists inside: not hashable, checked and encoded every time
        key = encoded = None
    if encoded is not None:
        return encoded
    if type(status) is not int or not 100 <= status <= 999:
        raise ValueError(f"http.response.start: status must be an int from 100 to 999, not {status!r}")
    parts = [b"%d" % status]
    length = None
    for header in headers:
        name, value = header
        if type(name) is not bytes or type(value) is not bytes:
            name, value = bytes(name), bytes(value)
        if not name or name.translate(None, _TOKEN):
            raise ValueError(f"http.response.start: invalid header name {name!r}")
        if b"\0" in value or b"\r" in value or b"\n" in value:
            raise ValueError(f"http.response.start: the value of header {name!r} contains a control character")
        lower = name.lower()
        if lower == b"content-length":
            length = int(value) if value.isdigit() else -1
        elif lower == b"transfer-encoding":
            continue  # the front frames the body itself (chunked or HTTP/2 frames)
        parts.append(name)
        parts.append(value)
    encoded = (b"\0".join(parts), length)
    if key is not None:
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = encoded
    return encoded


def _encode_trailers(headers):
    parts = []
    for name, value in headers:
        name, value = bytes(name), bytes(value)
        if not name or name.translate(None, _TOKEN) or b"\0" in value or b"\r" in value or b"\n" in value:
            raise ValueError(f"http.response.trailers: invalid trailer {name!r}")
        parts.append(name)
        parts.append(value)
    return b"\0".join(parts)


class HttpConnection:
    """One HTTP request: its scope, its body as it arrives, its response, and the credit both ways."""

    __slots__ = ("server", "stream", "scope", "request_id", "body", "body_done", "body_given", "disconnected",
                 "response_done", "waiter", "credit", "credit_waiter", "file_waiter", "started", "head",
                 "length", "bodiless", "head_sent", "trailers", "trailers_allowed", "body_finished", "trailer_parts",
                 "unacknowledged", "window_open")

    def __init__(self, server, stream, fields, count, no_body):
        self.server = server
        self.stream = stream
        (_, method, scheme, version, root_path, raw_path, query, client_host, client_port,
         server_host, server_port, flags, request_id) = fields[:_FIXED_FIELDS]
        pairs = iter(fields[_FIXED_FIELDS:-1])
        self.trailers_allowed = flags == b"t"
        text = _TEXT.get
        self.scope = {
            "type": "http",
            "asgi": _ASGI,
            "http_version": text(version) or _text(version),
            "method": text(method) or _text(method),
            "scheme": text(scheme) or _text(scheme),
            "path": fields[-1].decode("utf-8", "replace"),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": root_path.decode("utf-8", "replace") if root_path else "",
            "headers": list(zip(pairs, pairs)),
            "client": (text(client_host) or _text(client_host), int(client_port)) if client_host else None,
            "server": (text(server_host) or _text(server_host), int(server_port)) if server_host else None,
            "extensions": _EXTENSIONS_WITH_TRAILERS if self.trailers_allowed else _EXTENSIONS,
            "state": server.state.copy(),
        }
        self.request_id = request_id.decode("latin-1")
        self.body = deque()
        self.body_done = bool(no_body)
        self.body_given = False
        self.disconnected = False
        self.response_done = False
        self.waiter = None
        self.credit = WINDOW
        self.credit_waiter = None
        self.file_waiter = None
        self.started = False
        self.head = None
        self.length = None
        self.bodiless = False
        self.head_sent = False
        self.trailers = False
        self.body_finished = False
        self.trailer_parts = None
        self.unacknowledged = 0
        self.window_open = False

    # -- frames from the front

    def on_body(self, data):
        self.body.append(data)
        self._wake()

    def on_body_end(self):
        self.body_done = True
        self._wake()

    def on_credit(self, credit):
        self.credit += credit
        waiter = self.credit_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_cancel(self):
        self.disconnected = True
        self._wake()
        for waiter in (self.credit_waiter, self.file_waiter):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def on_file_opened(self, opened):
        waiter = self.file_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(opened)

    def _wake(self):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the app's task

    async def run(self):
        _request_id.set(self.request_id)
        try:
            await self.server.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            self._abort()
        except BaseException:
            if self.disconnected:
                self._abort()  # what the app raised once the client had gone is not the app's failure
            elif self.response_done:
                _log(f"kwsgi: error in the app after its response to {self.scope['method']} {self.scope['path']}")
            else:
                _log(f"kwsgi: error in the app serving {self.scope['method']} {self.scope['path']}")
                if self.started:
                    self._abort()  # ASGI: the response had begun; only dropping the connection is honest
                else:
                    _frame(RESPONSE_HEAD, 0, self.stream, _ERROR_HEAD)
                    _frame(RESPONSE_BODY, END, self.stream, _ERROR_BODY)
                    self.response_done = True
        else:
            if self.disconnected:
                self._abort()  # the front still waits for the exchange to end
            elif not self.response_done:
                if not self.started:
                    _log(f"kwsgi: the app returned without a response to {self.scope['method']} {self.scope['path']}",
                         with_traceback=False)
                    _frame(RESPONSE_HEAD, 0, self.stream, _ERROR_HEAD)
                    _frame(RESPONSE_BODY, END, self.stream, _ERROR_BODY)
                else:
                    # A start without (the last) body: the response ends as the app returns.
                    self._end()
                self.response_done = True
        finally:
            self.server.close(self)
            self.server.want_flush()

    def _abort(self):
        if not self.response_done:
            self.response_done = True
            _frame(RESPONSE_ABORT, 0, self.stream, None)

    # -- receive

    async def receive(self):
        while True:
            if self.disconnected:
                return {"type": "http.disconnect"}
            body = self.body
            if body:
                data = body.popleft() if len(body) == 1 else b"".join(body)
                body.clear()
                self._acknowledge(len(data))
                more = not self.body_done
                self.body_given = not more
                return {"type": "http.request", "body": data, "more_body": more}
            if self.body_done and not self.body_given:
                self.body_given = True
                return {"type": "http.request", "body": b"", "more_body": False}
            if self.response_done:
                return {"type": "http.disconnect"}  # nothing more will come: the exchange is over
            self.waiter = self.server.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def _acknowledge(self, size):
        """Request-body credit as the app consumes it; the first piece opens the window to its full size."""
        self.unacknowledged += size
        if not self.window_open and size:
            self.window_open = True
            credit = WINDOW - INITIAL_REQUEST_WINDOW + self.unacknowledged
        elif self.unacknowledged >= ACK_THRESHOLD:
            credit = self.unacknowledged
        else:
            return
        self.unacknowledged = 0
        _frame(REQUEST_CREDIT, 0, self.stream, credit.to_bytes(4, "little"))
        self.server.want_flush()

    # -- send

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.body":
            if not self.started:
                raise RuntimeError("ASGI: http.response.body before http.response.start")
            if self.body_finished or self.response_done:
                if self.disconnected:
                    raise ClientDisconnected("the client disconnected")
                raise RuntimeError("ASGI: http.response.body after the response's last body message")
            if self.disconnected:
                raise ClientDisconnected("the client disconnected")
            body = message.get("body", b"")
            if type(body) is not bytes:
                body = bytes(body)
            more = message.get("more_body", False)
            stream = self.stream
            if not self.head_sent:
                self.head_sent = True
                if not more and not self.trailers and len(body) <= self.credit and len(body) <= MAX_CHUNK:
                    # The whole response at once (the common case): head, body and end in one write.
                    head = self.head
                    if self.length is None and not self.bodiless:
                        head += b"\0content-length\0%d" % len(body)
                    _frame(RESPONSE_HEAD, 0, stream, head)
                    _frame(RESPONSE_BODY, END, stream, body)
                    self.response_done = True
                    self._wake()
                    self.server.want_flush()
                    return
                head = self.head
                if not more and not self.trailers and self.length is None:
                    head += b"\0content-length\0%d" % len(body)  # one large body: its length is known
                _frame(RESPONSE_HEAD, 0, stream, head)
            if body:
                await self._send_body(body)
            if not more:
                self._finish_body()
            self.server.want_flush()
        elif kind == "http.response.start":
            if self.started:
                raise RuntimeError("ASGI: http.response.start sent twice")
            status = message["status"]
            self.head, self.length = _encode_head(status, message.get("headers", ()))
            self.bodiless = status < 200 or status in (204, 304)  # RFC 9110 8.6: no Content-Length on these
            # Trailers only where the front can send them (HTTP/2); elsewhere the flag is ignored.
            self.trailers = bool(message.get("trailers", False)) and self.trailers_allowed
            self.started = True
        elif kind == "http.response.trailers":
            await self._send_trailers(message)
        elif kind == "http.response.pathsend":
            await self._send_path(message)
        elif kind == "http.response.zerocopysend":
            await self._send_zerocopy(message)
        else:
            raise ValueError(f"ASGI: unexpected message type {kind!r} on an http connection")

    async def _send_body(self, body):
        """Body frames of at most MAX_CHUNK bytes, each waiting for the front's credit (its client keeping up)."""
        view = memoryview(body) if len(body) > MAX_CHUNK else None
        offset = 0
        while offset < len(body):
            piece = body if view is None else bytes(view[offset:offset + MAX_CHUNK])
            size = len(piece)
            while self.credit < size:
                if self.disconnected:
                    raise ClientDisconnected("the client disconnected")
                self.credit_waiter = self.server.loop.create_future()
                self.server.want_flush()
                try:
                    await self.credit_waiter
                finally:
                    self.credit_waiter = None
            if self.disconnected:
                raise ClientDisconnected("the client disconnected")
            self.credit -= size
            _frame(RESPONSE_BODY, 0, self.stream, piece)
            offset += size

    def _finish_body(self):
        if self.trailers:
            self.body_finished = True  # the trailers message ends the response
        else:
            self._end()

    def _end(self):
        if not self.head_sent:
            self.head_sent = True
            head = self.head
            if self.length is None and not self.bodiless:
                head += b"\0content-length\x000"
            _frame(RESPONSE_HEAD, END, self.stream, head)
        else:
            _frame(RESPONSE_BODY, END, self.stream, None)
        self.response_done = True
        self._wake()

    async def _send_trailers(self, message):
        if not self.started:
            raise RuntimeError("ASGI: http.response.trailers before http.response.start")
        if not self.trailers:
            if self.response_done or self.trailers_allowed:
                return  # trailers=False on start (or not advertised here): nothing to send them in
            raise RuntimeError("ASGI: http.response.trailers without trailers=True in http.response.start")
        if not self.body_finished:
            raise RuntimeError("ASGI: http.response.trailers before the last http.response.body")
        if self.response_done:
            raise RuntimeError("ASGI: http.response.trailers after the response ended")
        parts = self.trailer_parts = (self.trailer_parts or []) + list(message.get("headers", ()))
        if message.get("more_trailers", False):
            return
        if not self.head_sent:
            self.head_sent = True
            _frame(RESPONSE_HEAD, 0, self.stream, self.head)
        _frame(RESPONSE_TRAILERS, END, self.stream, _encode_trailers(parts))
        self.response_done = True
        self._wake()
        self.server.want_flush()

    async def _send_path(self, message):
        """http.response.pathsend: the front sends the file from disk; the response ends with it."""
        if not self.started or self.head_sent:
            raise RuntimeError("ASGI: http.response.pathsend must follow http.response.start directly")
        path = os.fsencode(message["path"])
        size = os.stat(path).st_size
        await self._send_file(path, None, 0, size)
        self._finish_body()
        self.server.want_flush()

    async def _send_zerocopy(self, message):
        """http.response.zerocopysend: a range of an open file; sent by the front when the file has a path."""
        if not self.started or self.body_finished or self.response_done:
            raise RuntimeError("ASGI: http.response.zerocopysend outside a started response")
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        file = message["file"]
        fd = file if type(file) is int else file.fileno()
        given = message.get("offset")
        offset = os.lseek(fd, 0, os.SEEK_CUR) if given is None else given
        size = os.fstat(fd).st_size
        count = message.get("count")
        length = max(0, size - offset) if count is None else max(0, min(count, size - offset))
        more = message.get("more_body", False)
        path = kwsgi_worker._file_path(fd, file)
        # A file in the middle of a response with no declared length streams through here: the front would
        # otherwise declare the file's own length for the whole response.
        if path is None or (more and not self.head_sent and self.length is None):
            if not self.head_sent:
                self.head_sent = True
                _frame(RESPONSE_HEAD, 0, self.stream, self.head)
            await self._stream_file(fd, offset, length)
        else:
            await self._send_file(os.fsencode(path), fd, offset, length)
        if given is None:
            os.lseek(fd, offset + length, os.SEEK_SET)
        if not more:
            self._finish_body()
        self.server.want_flush()

    async def _send_file(self, path, fd, offset, length):
        """A file range by reference (the ResponseFile frame); streamed from here if the front cannot open it."""
        if not self.head_sent:
            self.head_sent = True
            head = self.head
            if self.length is None:
                head += b"\0content-length\0%d" % length
            _frame(RESPONSE_HEAD, 0, self.stream, head)
        _frame(RESPONSE_FILE, 0, self.stream, offset.to_bytes(8, "little") + length.to_bytes(8, "little") + path)
        self.file_waiter = self.server.loop.create_future()
        self.server.want_flush()
        try:
            opened = await self.file_waiter
        finally:
            self.file_waiter = None
        if self.disconnected:
            raise ClientDisconnected("the client disconnected")
        if not opened:
            if fd is None:
                with open(path, "rb") as file:
                    await self._stream_file(file.fileno(), offset, length)
            else:
                await self._stream_file(fd, offset, length)

    async def _stream_file(self, fd, offset, length):
        end = offset + length
        while offset < end:
            data = os.pread(fd, min(MAX_CHUNK, end - offset), offset)
            if not data:
                break
            await self._send_body(data)
            self.server.want_flush()
            offset += len(data)


# ---------------------------------------------------------------- websocket

_WS_EXTENSIONS = {"websocket.http.response": {}}
_SCHEMES = {b"http": "ws", b"https": "wss"}


def _close_payload(code, reason):
    """WebSocketClose's payload: u16 code and the UTF-8 reason (RFC 6455 5.5: at most 123 bytes)."""
    if type(code) is not int or not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise ValueError(f"websocket.close: {code!r} is not a close code an endpoint may send (RFC 6455 7.4)")
    data = (reason or "").encode("utf-8")
    if len(data) > 123:
        raise ValueError("websocket.close: the reason is longer than 123 bytes in UTF-8 (RFC 6455 5.5)")
    return code.to_bytes(2, "little") + data


class WebSocketConnection:
    """
    One WebSocket: the handshake the app accepts, refuses (403) or answers with its own response
    (websocket.http.response), then messages both ways within the front's credit, and close codes both ways.
    """

    __slots__ = ("server", "stream", "scope", "request_id", "events", "connect_given", "partial", "partial_text",
                 "state", "closed", "disconnected", "waiter", "credit", "credit_waiter", "unacknowledged")

    CONNECTING, CONNECTED, RESPONDING, CLOSED = range(4)

    def __init__(self, server, stream, fields, count, no_body):
        self.server = server
        self.stream = stream
        (_, _method, scheme, version, root_path, raw_path, query, client_host, client_port,
         server_host, server_port, _flags, request_id) = fields[:_FIXED_FIELDS]
        pairs = iter(fields[_FIXED_FIELDS:-1])
        headers = list(zip(pairs, pairs))
        subprotocols = []
        for name, value in headers:
            if name == b"sec-websocket-protocol":
                subprotocols.extend(p.strip().decode("latin-1") for p in value.split(b",") if p.strip())
        self.scope = {
            "type": "websocket",
            "asgi": _ASGI,
            "http_version": _text(version),
            "scheme": _SCHEMES.get(scheme, "ws"),
            "path": fields[-1].decode("utf-8", "replace"),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": root_path.decode("utf-8", "replace") if root_path else "",
            "headers": headers,
            "client": (_text(client_host), int(client_port)) if client_host else None,
            "server": (_text(server_host), int(server_port)) if server_host else None,
            "subprotocols": subprotocols,
            "extensions": _WS_EXTENSIONS,
            "state": server.state.copy(),
        }
        self.request_id = request_id.decode("latin-1")
        self.events = deque()  # (event, bytes to acknowledge once the app has it)
        self.connect_given = False
        self.partial = []
        self.partial_text = False
        self.state = self.CONNECTING
        self.closed = False  # the app sent websocket.close (or its handshake was refused)
        self.disconnected = None  # (code, reason) once the client closed or vanished
        self.waiter = None
        self.credit = WINDOW
        self.credit_waiter = None
        self.unacknowledged = 0

    # -- frames from the front

    def on_message(self, flags, data):
        if flags & END:
            pending = len(data)  # the earlier pieces of a longer message were acknowledged as they came
            if self.partial:
                self.partial.append(data)
                data = b"".join(self.partial)
                self.partial = []
                text = self.partial_text
            else:
                text = bool(flags & TEXT)
            if text:
                try:
                    event = {"type": "websocket.receive", "text": data.decode("utf-8")}
                except UnicodeDecodeError:
                    event = {"type": "websocket.receive", "bytes": data}  # the front checked UTF-8 already
            else:
                event = {"type": "websocket.receive", "bytes": data}
            self.events.append((event, pending))
            self._wake()
        else:
            # A piece of a longer message: acknowledged as it arrives (the front bounds the whole message by
            # --ws-max-message-size), so a message larger than the window cannot stall the stream.
            if not self.partial:
                self.partial_text = bool(flags & TEXT)
            self.partial.append(data)
            self._acknowledge(len(data))

    def on_disconnect(self, payload):
        if self.disconnected is None:
            code = int.from_bytes(payload[:2], "little") if len(payload) >= 2 else 1005
            self.disconnected = (code, payload[2:].decode("utf-8", "replace"))
        self._wake()
        waiter = self.credit_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_cancel(self):
        self.on_disconnect(b"")

    def on_credit(self, credit):
        self.credit += credit
        waiter = self.credit_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def on_body(self, data):
        pass

    def on_body_end(self):
        pass

    def on_file_opened(self, opened):
        pass

    def _wake(self):
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- the app's task

    async def run(self):
        kwsgi_worker.request_id.set(self.request_id)
        stream = self.stream
        try:
            await self.server.app(self.scope, self.receive, self.send)
        except BaseException:
            if self.disconnected is not None or self.closed:
                pass  # what the app raised once the socket had closed is not the app's failure
            else:
                _log(f"kwsgi: error in the app serving the WebSocket {self.scope['path']}")
                if self.state == self.CONNECTING:
                    _frame(RESPONSE_HEAD, 0, stream, _ERROR_HEAD)  # as uvicorn: 500 for a handshake the app failed
                    _frame(RESPONSE_BODY, END, stream, _ERROR_BODY)
                elif self.state == self.CONNECTED:
                    _frame(WEBSOCKET_CLOSE, 0, stream, (1011).to_bytes(2, "little"))
                elif self.state == self.RESPONDING:
                    _frame(RESPONSE_ABORT, 0, stream, None)
        else:
            if not self.closed and self.disconnected is None:
                if self.state == self.CONNECTING:
                    _frame(WEBSOCKET_CLOSE, 0, stream, (1000).to_bytes(2, "little"))  # never accepted: 403
                elif self.state == self.CONNECTED:
                    _frame(WEBSOCKET_CLOSE, 0, stream, (1000).to_bytes(2, "little"))
                elif self.state == self.RESPONDING:
                    _frame(RESPONSE_BODY, END, stream, None)
        finally:
            self.state = self.CLOSED
            self.server.close(self)
            self.server.want_flush()

    # -- receive

    async def receive(self):
        while True:
            if not self.connect_given:
                self.connect_given = True
                return {"type": "websocket.connect"}
            events = self.events
            if events:
                event, pending = events.popleft()
                self._acknowledge(pending)
                return event
            if self.disconnected is not None:
                code, reason = self.disconnected
                return {"type": "websocket.disconnect", "code": code, "reason": reason}
            if self.closed:
                return {"type": "websocket.disconnect", "code": 1000, "reason": ""}
            self.waiter = self.server.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def _acknowledge(self, size):
        """Credit for client messages as the app takes them, in batches (the front starts with a whole window)."""
        self.unacknowledged += size
        if self.unacknowledged >= ACK_THRESHOLD and self.disconnected is None:
            _frame(REQUEST_CREDIT, 0, self.stream, self.unacknowledged.to_bytes(4, "little"))
            self.unacknowledged = 0
            self.server.want_flush()

    # -- send

    async def send(self, message):
        kind = message["type"]
        stream = self.stream
        if kind == "websocket.send":
            if self.state != self.CONNECTED or self.closed:
                if self.disconnected is not None:
                    raise ClientDisconnected("the WebSocket client disconnected")
                raise RuntimeError(f"ASGI: websocket.send {'before websocket.accept' if self.state == self.CONNECTING else 'after websocket.close'}")
            if self.disconnected is not None:
                raise ClientDisconnected("the WebSocket client disconnected")
            text = message.get("text")
            if text is not None:
                await self._send_message(text.encode("utf-8"), TEXT)
            else:
                data = message.get("bytes")
                if data is None:
                    raise ValueError("ASGI: websocket.send needs text or bytes")
                await self._send_message(data if type(data) is bytes else bytes(data), 0)
        elif kind == "websocket.accept":
            if self.state != self.CONNECTING or self.closed:
                raise RuntimeError("ASGI: websocket.accept after the handshake was answered")
            if self.disconnected is not None:
                raise ClientDisconnected("the WebSocket client disconnected")
            subprotocol = message.get("subprotocol")
            parts = [subprotocol.encode("latin-1") if subprotocol else b""]
            for header in message.get("headers", ()):
                name, value = bytes(header[0]), bytes(header[1])
                if not name or name.translate(None, _TOKEN):
                    raise ValueError(f"websocket.accept: invalid header name {name!r}")
                if b"\0" in value or b"\r" in value or b"\n" in value:
                    raise ValueError(f"websocket.accept: the value of header {name!r} contains a control character")
                parts.append(name)
                parts.append(value)
            self.state = self.CONNECTED
            _frame(WEBSOCKET_ACCEPT, 0, stream, b"\0".join(parts))
            self.server.want_flush()
        elif kind == "websocket.close":
            if self.closed or self.state in (self.RESPONDING, self.CLOSED):
                raise RuntimeError("ASGI: websocket.close after the socket was closed")
            payload = _close_payload(message.get("code", 1000) or 1000, message.get("reason"))
            self.closed = True
            if self.disconnected is None:
                _frame(WEBSOCKET_CLOSE, 0, stream, payload)
                self.server.want_flush()
            self._wake()
        elif kind == "websocket.http.response.start":
            if self.state != self.CONNECTING or self.closed:
                raise RuntimeError("ASGI: websocket.http.response.start after the handshake was answered")
            head, _ = _encode_head(message["status"], message.get("headers", ()))
            self.state = self.RESPONDING
            _frame(RESPONSE_HEAD, 0, stream, head)
        elif kind == "websocket.http.response.body":
            if self.state != self.RESPONDING:
                raise RuntimeError("ASGI: websocket.http.response.body without websocket.http.response.start")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if body:
                await self._send_pieces(RESPONSE_BODY, bytes(body), 0, end=not more)
            elif not more:
                _frame(RESPONSE_BODY, END, stream, None)
            if not more:
                self.state = self.CLOSED
                self.closed = True
            self.server.want_flush()
        else:
            raise ValueError(f"ASGI: unexpected message type {kind!r} on a websocket connection")

    async def _send_message(self, data, flags):
        if len(data) <= MAX_CHUNK and len(data) <= self.credit:
            self.credit -= len(data)  # the common case: one frame, no wait
            _frame(WEBSOCKET_SEND, flags | END, self.stream, data)
            self.server.want_flush()
            return
        await self._send_pieces(WEBSOCKET_SEND, data, flags, end=True)
        self.server.want_flush()

    async def _send_pieces(self, kind, data, flags, end):
        """Frames of at most MAX_CHUNK bytes, each waiting for the front's credit (its client keeping up)."""
        view = memoryview(data)
        offset = 0
        total = len(data)
        while offset < total:
            size = min(MAX_CHUNK, total - offset)
            while self.credit < size:
                if self.disconnected is not None:
                    raise ClientDisconnected("the WebSocket client disconnected")
                self.credit_waiter = self.server.loop.create_future()
                self.server.want_flush()
                try:
                    await self.credit_waiter
                finally:
                    self.credit_waiter = None
            if self.disconnected is not None:
                raise ClientDisconnected("the WebSocket client disconnected")
            self.credit -= size
            offset += size
            last = end and offset >= total
            _frame(kind, flags | (END if last else 0), self.stream, bytes(view[offset - size:offset]))


SCOPE_TYPES = {b"http": HttpConnection, b"websocket": WebSocketConnection}


# ---------------------------------------------------------------- lifespan

class Lifespan:
    """The lifespan protocol (ASGI): startup before the worker is ready, shutdown before it exits."""

    def __init__(self, app, mode):
        self.app = app
        self.mode = mode
        self.state = {}
        self.task = None
        self.messages = None
        self.startup_done = None
        self.shutdown_done = None
        self.error = None

    async def startup(self):
        """None when the worker may take requests, else the failure as 'sentence\\ndetails'."""
        if self.mode == "off":
            return None
        loop = asyncio.get_running_loop()
        self.messages = asyncio.Queue()
        self.startup_done = loop.create_future()
        self.shutdown_done = loop.create_future()
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        self.task = loop.create_task(self.run(scope))
        self.messages.put_nowait({"type": "lifespan.startup"})
        await asyncio.wait([self.startup_done, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.startup_done.done():
            failure = self.startup_done.result()
            if failure is None:
                return None
            return f"the app's lifespan startup failed: {failure}\n"
        if self.error is not None:
            error, details = self.error
            if self.mode == "auto":
                _debug_log(f"kwsgi: the app does not support the ASGI lifespan protocol (it raised {error}); "
                           f"going on without it (--lifespan auto)")
                self.task = None
                return None
            return f"the app's lifespan startup raised {error}\n{details}"
        self.task = None  # returned without a word: nothing to shut down either
        if self.mode == "on":
            _debug_log("kwsgi: the app returned from the lifespan scope without answering lifespan.startup")
        return None

    async def run(self, scope):
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as error:
            self.error = (kwsgi_worker._describe(error), traceback.format_exc())
            if self.startup_done.done() and self.startup_done.result() is None:
                _log("kwsgi: error in the app's lifespan task")

    async def receive(self):
        return await self.messages.get()

    async def send(self, message):
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self.startup_done.set_result(None)
        elif kind == "lifespan.startup.failed":
            self.startup_done.set_result(message.get("message", "") or "(no message)")
        elif kind == "lifespan.shutdown.complete":
            self.shutdown_done.set_result(None)
        elif kind == "lifespan.shutdown.failed":
            self.shutdown_done.set_result(message.get("message", "") or "(no message)")
        else:
            raise ValueError(f"ASGI: unexpected message type {kind!r} on the lifespan scope")

    async def shutdown(self):
        if self.task is None or self.task.done():
            return
        self.messages.put_nowait({"type": "lifespan.shutdown"})
        await asyncio.wait([self.shutdown_done, self.task], return_when=asyncio.FIRST_COMPLETED)
        if self.shutdown_done.done() and self.shutdown_done.result() is not None:
            _log(f"kwsgi: the app's lifespan shutdown failed: {self.shutdown_done.result()}", with_traceback=False)
        elif not self.shutdown_done.done() and self.error is not None:
            _log(f"kwsgi: the app's lifespan shutdown raised {self.error[0]}\n{self.error[1]}", with_traceback=False)

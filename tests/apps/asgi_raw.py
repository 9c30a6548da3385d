"""A raw ASGI 3 app for exact scope and event assertions, by path:

/scope…          the scope as JSON (bytes as latin-1 text), plus the request body's length and how it came
/echo            the request body back, read as it streams (http.request messages counted in x-messages)
/stream?n=N      N body pieces 50 ms apart (more_body)
/after-body      reads the body, then waits for the next receive(): http.disconnect, noted for /last
/hang            answers nothing until the client leaves; notes what receive() returned for /last
/last            what /after-body and /hang saw
/pathsend?f=NAME http.response.pathsend of tests/apps/static/NAME
/zerocopy?f=NAME http.response.zerocopysend of a range of that file (offset 2, count 5), then more_body bytes
/trailers        a body with trailers (when the scope's extensions offer them)
/raise-before    raises before http.response.start (500)
/raise-after     raises after http.response.start and a first piece (the connection is dropped)
/start-only      http.response.start and nothing else (ends when the app returns)
/no-content      204 with an empty last body message
/big?kib=K       K KiB in one body message, no content-length given
/slow?ms=M       sleeps M ms; reports how many requests were in flight at once at most (x-peak)
/state           the lifespan state the request's scope got

Lifespan: writes 'startup PID' and 'shutdown PID' lines to $KWSGI_TEST_LIFESPAN_LOG when set, and puts
{"opened": "yes", "pid": PID} in the lifespan state.
"""
import asyncio
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
_last = {}
_in_flight = 0
_peak = 0


def _text(value):
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else value


async def _lifespan(scope, receive, send):
    log = os.environ.get("KWSGI_TEST_LIFESPAN_LOG")
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" in scope:  # servers before lifespan state (uvicorn 0.17) have none
                scope["state"]["opened"] = "yes"
                scope["state"]["pid"] = os.getpid()
            if log:
                with open(log, "a") as f:
                    f.write(f"startup {os.getpid()}\n")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if log:
                with open(log, "a") as f:
                    f.write(f"shutdown {os.getpid()}\n")
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _answer(send, body, status=200, content_type=b"application/json", extra=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), *extra]})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive):
    chunks, messages = [], 0
    while True:
        message = await receive()
        messages += 1
        assert message["type"] == "http.request", message
        chunks.append(message["body"])
        if not message.get("more_body", False):
            return b"".join(chunks), messages


def _query(scope):
    return dict(part.split("=", 1) for part in scope["query_string"].decode().split("&") if "=" in part)


async def app(scope, receive, send):
    global _in_flight, _peak
    if scope["type"] == "lifespan":
        return await _lifespan(scope, receive, send)
    path = scope["path"]
    query = _query(scope)
    if path.startswith("/scope"):
        body, messages = await _read_body(receive)
        shown = {key: value for key, value in scope.items() if key not in ("headers", "raw_path", "query_string", "state")}
        shown["headers"] = [[_text(name), _text(value)] for name, value in scope["headers"]]
        shown["raw_path"] = _text(scope["raw_path"])
        shown["query_string"] = _text(scope["query_string"])
        shown["raw_path_is_bytes"] = type(scope["raw_path"]) is bytes
        shown["query_string_is_bytes"] = type(scope["query_string"]) is bytes
        shown["header_types"] = sorted({f"{type(n).__name__},{type(v).__name__}" for n, v in scope["headers"]})
        shown["client"] = list(scope["client"]) if scope.get("client") else None
        shown["server"] = list(scope["server"]) if scope.get("server") else None
        shown["extensions"] = sorted(scope.get("extensions", {}))
        shown["body_length"] = len(body)
        return await _answer(send, json.dumps(shown).encode())
    if path == "/state":
        return await _answer(send, json.dumps(scope.get("state", {})).encode())
    if path == "/echo":
        body, messages = await _read_body(receive)
        return await _answer(send, body, content_type=b"application/octet-stream",
                             extra=[(b"x-messages", str(messages).encode())])
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(int(query.get("n", "3"))):
            await send({"type": "http.response.body", "body": f"piece {i}\n".encode(), "more_body": True})
            await asyncio.sleep(0.05)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    if path == "/after-body":
        await _read_body(receive)
        await _answer(send, b"answered", content_type=b"text/plain")
        _last["after-body"] = (await receive())["type"]
        return
    if path == "/hang":
        await _read_body(receive)
        _last["hang"] = "waiting"
        _last["hang"] = (await receive())["type"]
        return
    if path == "/last":
        return await _answer(send, json.dumps(_last).encode())
    if path == "/pathsend":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.pathsend", "path": os.path.join(HERE, "static", query["f"])})
        return
    if path == "/zerocopy":
        with open(os.path.join(HERE, "static", query["f"]), "rb") as file:
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.zerocopysend", "file": file, "offset": 2, "count": 5, "more_body": True})
            await send({"type": "http.response.body", "body": b"|tail", "more_body": False})
        return
    if path == "/trailers":
        offered = "http.response.trailers" in scope.get("extensions", {})
        await send({"type": "http.response.start", "status": 200, "trailers": offered,
                    "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"with trailers" if offered else b"no trailers"})
        if offered:
            await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc123")], "more_trailers": False})
        return
    if path == "/raise-before":
        raise RuntimeError("before the start")
    if path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("after the start")
    if path == "/start-only":
        await send({"type": "http.response.start", "status": 204, "headers": [(b"x-start-only", b"1")]})
        return
    if path == "/no-content":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/big":
        size = int(query.get("kib", "200")) * 1024
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"b" * size})
        return
    if path == "/slow":
        _in_flight += 1
        _peak = max(_peak, _in_flight)
        try:
            await asyncio.sleep(int(query.get("ms", "200")) / 1000)
        finally:
            _in_flight -= 1
        return await _answer(send, b"slept", content_type=b"text/plain", extra=[(b"x-peak", str(_peak).encode())])
    return await _answer(send, b"not found", status=404, content_type=b"text/plain")

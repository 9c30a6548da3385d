"""A raw ASGI WebSocket app for the end-to-end tests; the path says what it does.

/echo      accepts (the first offered subprotocol, an extra x-echo header), echoes text and bytes; the text
           "close CODE REASON" makes it close with that code; the text "last" answers the code of the last
           client close this worker saw
/deny      closes before accepting: the client gets 403
/custom    answers the handshake with its own 401 response (websocket.http.response)
/fail      raises before accepting: 500
/boom      accepts, then raises: the client sees 1011
GET /pid   this worker's process id (plain HTTP)
"""

import os

last_disconnect = {"code": None, "reason": None}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "http":
        body = str(os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})
        return
    assert scope["type"] == "websocket"
    path = scope["path"]
    connect = await receive()
    assert connect["type"] == "websocket.connect"
    if path == "/deny":
        await send({"type": "websocket.close", "code": 1008})
        return
    if path == "/custom":
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain"), (b"www-authenticate", b"Bearer")]})
        await send({"type": "websocket.http.response.body", "body": b"no token"})
        return
    if path == "/fail":
        raise RuntimeError("refusing with an exception")
    subprotocols = scope["subprotocols"]
    await send({"type": "websocket.accept", "subprotocol": subprotocols[0] if subprotocols else None,
                "headers": [(b"x-echo", b"yes")]})
    if path == "/boom":
        raise RuntimeError("failing after accept")
    if path == "/scope":
        describe = {k: scope[k] for k in ("scheme", "path", "query_string", "root_path", "http_version", "subprotocols")}
        describe["query_string"] = describe["query_string"].decode()
        await send({"type": "websocket.send", "text": repr(sorted(describe.items()))})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            last_disconnect["code"], last_disconnect["reason"] = message["code"], message.get("reason")
            return
        text = message.get("text")
        if text is not None and text.startswith("close "):
            _, code, reason = text.split(" ", 2)
            await send({"type": "websocket.close", "code": int(code), "reason": reason})
            return
        if text == "last":
            await send({"type": "websocket.send", "text": f"{last_disconnect['code']} {last_disconnect['reason']}"})
            continue
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})

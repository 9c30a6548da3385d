"""Python's own clients against a running kwsgi: httpx (HTTP) and websockets (WebSocket), as FastAPI users test
with. Usage: asgi_clients.py http PORT | chat PORT | echo PORT. Prints one JSON object with what it saw."""
import asyncio
import hashlib
import json
import sys


def http(port):
    import httpx
    base = f"http://127.0.0.1:{port}"
    out = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        r = client.get("/items/7", params={"q": "café"})
        out["json"] = {"status": r.status_code, "type": r.headers.get("content-type"), "body": r.json()}
        pieces = []
        with client.stream("GET", "/stream", params={"n": 4}) as r:
            out["stream_status"] = r.status_code
            out["stream_chunked"] = r.headers.get("transfer-encoding")
            for line in r.iter_lines():  # httpx 0.23 keeps each line's ending
                if line.strip():
                    pieces.append(line.rstrip("\r\n"))
        out["stream"] = pieces
        data = bytes(range(256)) * 1000
        r = client.post("/upload", files={"file": ("data.bin", data, "application/octet-stream")}, data={"note": "hi"})
        out["upload"] = {"status": r.status_code, "body": r.json(), "sha256": hashlib.sha256(data).hexdigest()}
    return out


async def chat(port):
    import websockets
    url = f"ws://127.0.0.1:{port}/chat"
    async with websockets.connect(f"{url}/ann") as ann:
        first = await asyncio.wait_for(ann.recv(), 10)
        async with websockets.connect(f"{url}/bob") as bob:
            bob_first = await asyncio.wait_for(bob.recv(), 10)
            ann_sees_bob = await asyncio.wait_for(ann.recv(), 10)
            await bob.send("hello from bob")
            ann_msg = await asyncio.wait_for(ann.recv(), 10)
            bob_msg = await asyncio.wait_for(bob.recv(), 10)
    return {"ann_first": first, "bob_first": bob_first, "ann_sees_bob": ann_sees_bob, "ann_msg": ann_msg, "bob_msg": bob_msg}


async def echo(port):
    import websockets
    async with websockets.connect(f"ws://127.0.0.1:{port}/echo", subprotocols=["kwsgi.test", "other"]) as ws:
        await ws.send("text ü")
        text = await asyncio.wait_for(ws.recv(), 10)
        await ws.send(b"\x00\x01\xff")
        data = await asyncio.wait_for(ws.recv(), 10)
        await ws.send("close 4001 bye")
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed:
            pass
        return {"subprotocol": ws.subprotocol, "text": text, "bytes": list(data),
                "close_code": ws.close_code, "close_reason": ws.close_reason}


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    result = http(port) if kind == "http" else asyncio.run(chat(port) if kind == "chat" else echo(port))
    print(json.dumps(result))

"""Reads the request body several ways and reports what it saw, as JSON."""
import hashlib
import json


def _reply(start_response, obj):
    data = json.dumps(obj).encode("utf-8")
    start_response("200 OK", [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(data))),
    ])
    return [data]


def app(environ, start_response):
    inp = environ["wsgi.input"]
    path = environ.get("PATH_INFO", "")
    h = hashlib.sha256()
    if path == "/readline":
        lines = 0
        length = 0
        while True:
            line = inp.readline()
            if not line:
                break
            lines += 1
            length += len(line)
            h.update(line)
        return _reply(start_response, {"lines": lines, "length": length, "sha256": h.hexdigest()})
    if path == "/iter":
        lines = 0
        length = 0
        for line in inp:
            lines += 1
            length += len(line)
            h.update(line)
        return _reply(start_response, {"lines": lines, "length": length, "sha256": h.hexdigest()})
    if path == "/readlines":
        all_lines = inp.readlines()
        for line in all_lines:
            h.update(line)
        return _reply(start_response, {
            "lines": len(all_lines),
            "length": sum(len(x) for x in all_lines),
            "sha256": h.hexdigest(),
        })
    length = 0
    max_block = 0
    while True:
        block = inp.read(65536)
        if not block:
            break
        length += len(block)
        max_block = max(max_block, len(block))
        h.update(block)
    return _reply(start_response, {"length": length, "sha256": h.hexdigest(), "max_block": max_block})

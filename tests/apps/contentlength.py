"""Reads exactly CONTENT_LENGTH bytes, as most frameworks do, and reports what it got, as JSON."""
import hashlib
import json


def app(environ, start_response):
    declared = environ.get("CONTENT_LENGTH", "")
    body = environ["wsgi.input"].read(int(declared or 0))
    data = json.dumps({
        "content_length": declared,
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
        "length": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]

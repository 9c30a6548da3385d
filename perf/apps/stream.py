"""stream: a generator yielding 64 chunks of 1 KiB (no Content-Length)."""

CHUNK = b"x" * 1023 + b"\n"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return (CHUNK for _ in range(64))

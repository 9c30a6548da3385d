"""soak: the soak test's mixed app. /hello answers at once, /slow sleeps 20 ms, /stream yields 64 KiB
in 1 KiB pieces, /upload reads the body and returns its length."""
import time

HELLO = b"Hello, World!"
CHUNK = b"x" * 1023 + b"\n"


def app(environ, start_response):
    path = environ.get("PATH_INFO")
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (CHUNK for _ in range(64))
    if path == "/upload":
        body = str(len(environ["wsgi.input"].read())).encode()
    elif path == "/slow":
        time.sleep(0.02)
        body = b"slow"
    else:
        body = HELLO
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

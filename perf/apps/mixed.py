"""mixed: /slow sleeps 50 ms (an I/O wait: the GIL is released); anything else is hello."""
import time

HELLO = b"Hello, World!"
SLOW = b"slow"


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(0.05)
        body = SLOW
    else:
        body = HELLO
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

"""Apps that fail in the ways PEP 3333 describes.

/before     raises before start_response            -> 500 + traceback in the log
/after      yields one chunk, then raises           -> connection aborted
            (?delay=SECONDS sleeps between the chunk and the raise)
/excinfo    start_response, then an error, then start_response(..., exc_info) -> 500 "custom error"
/withclose  an iterable with close(); /closecount reports how many times close() ran
"""
import sys
import threading
import time
from urllib.parse import parse_qs

_lock = threading.Lock()
close_count = 0


class ClosingIterable:
    def __init__(self, chunks):
        self._chunks = chunks

    def __iter__(self):
        return iter(self._chunks)

    def close(self):
        global close_count
        with _lock:
            close_count += 1


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/before":
        raise RuntimeError("kwsgi-test: raised before start_response")
    if path == "/after":
        start_response("200 OK", [("Content-Type", "text/plain")])
        delay = float(parse_qs(environ.get("QUERY_STRING", "")).get("delay", ["0"])[0])

        def gen():
            yield b"first chunk\n"
            if delay:
                time.sleep(delay)
            raise RuntimeError("kwsgi-test: raised after the first chunk")

        return gen()
    if path == "/excinfo":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("kwsgi-test: handled error")
        except ValueError:
            body = b"custom error"
            start_response("500 Internal Server Error", [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
            ], sys.exc_info())
            return [body]
    if path == "/withclose":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ClosingIterable([b"with", b"close"])
    if path == "/closecount":
        with _lock:
            body = str(close_count).encode("ascii")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found"]

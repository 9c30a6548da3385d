"""Responses whose Content-Length is declared up front and whose body comes from a generator.

/whole  yields the whole declared body, then one piece more (past Content-Length)
/split  yields the declared body in two pieces
/state  how many pieces /whole's generators were asked for, and how many were closed
"""
import threading

_lock = threading.Lock()
_pulled = 0
_closed = 0


class Body:
    def __init__(self, pieces):
        self._pieces = iter(pieces)

    def __iter__(self):
        return self

    def __next__(self):
        global _pulled
        piece = next(self._pieces)
        with _lock:
            _pulled += 1
        return piece

    def close(self):
        global _closed
        with _lock:
            _closed += 1


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/state":
        body = f"pulled={_pulled} closed={_closed}".encode("ascii")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    if path == "/split":
        return (piece for piece in (b"01234", b"56789"))
    return Body([b"0123456789", b"EXTRA"])

"""Reads the request body to its end and remembers how each read ended; GET /log answers the record as JSON."""
import json

_log = []


def app(environ, start_response):
    if environ["PATH_INFO"] == "/log":
        data = json.dumps(_log).encode("ascii")
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]
    inp = environ["wsgi.input"]
    read = 0
    try:
        while True:
            block = inp.read(65536)
            if not block:
                break
            read += len(block)
    except Exception as e:
        _log.append({"read": read, "ended": type(e).__name__, "oserror": isinstance(e, OSError)})
        raise
    _log.append({"read": read, "ended": "eof"})
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(read).encode("ascii")]

"""For slow-reader and unread-body tests.

/big?mib=N   N MiB (default 10) of b"x" in 64 KiB pieces, with Content-Length
/deny        401 without reading the request body
anything else: "hello\n"
"""
from urllib.parse import parse_qs

PIECE = b"x" * 65536


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/big":
        mib = int(parse_qs(environ.get("QUERY_STRING", "")).get("mib", ["10"])[0])
        start_response("200 OK", [("Content-Type", "application/octet-stream"),
                                  ("Content-Length", str(mib * 1024 * 1024))])
        return (PIECE for _ in range(mib * 16))
    if path == "/deny":
        body = b"no\n"
        start_response("401 Unauthorized", [("Content-Type", "text/plain"),
                                            ("Content-Length", str(len(body))),
                                            ("WWW-Authenticate", 'Basic realm="x"')])
        return [body]
    body = b"hello\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

"""Writes to every stream a WSGI app has: print (stdout), wsgi.errors, Python's logging, and a traceback.
/ answers with the request id kwsgi gave it (environ kwsgi.request_id)."""
import logging
import sys

log = logging.getLogger("chatty")


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    rid = environ.get("kwsgi.request_id", "")
    if path == "/print":
        print(f"printed {rid}")
        print("partial", end="")
        print(" line")
    elif path == "/errors":
        environ["wsgi.errors"].write(f"wsgi.errors {rid}\n")
        environ["wsgi.errors"].flush()
    elif path == "/logging":
        log.warning("logged %s", rid)
    elif path == "/raise":
        raise RuntimeError(f"boom {rid}")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [rid.encode("latin-1")]

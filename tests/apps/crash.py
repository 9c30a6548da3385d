"""/exit kills the worker process outright; /pid reports the worker's pid; / answers ok."""
import os


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/exit":
        os._exit(1)
    if path == "/pid":
        body = str(os.getpid()).encode("ascii")
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

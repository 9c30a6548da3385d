"""One app for the HTTPS and HTTP/2 tests, by path: /upload… (upload.py: the body's length and sha256), /stream?n=…
(stream.py: chunks over time), /slow?s=… (slow.py), anything else the environ as JSON (envecho.py)."""
import envecho
import slow
import stream
import upload

_ROUTES = (("/upload", upload.app), ("/stream", stream.app), ("/slow", slow.app))


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    for prefix, target in _ROUTES:
        if path == prefix or path.startswith(prefix + "/"):
            environ["PATH_INFO"] = path[len(prefix):]
            return target(environ, start_response)
    return envecho.app(environ, start_response)

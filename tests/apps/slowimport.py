"""Takes IMPORT_SECONDS (default 2) to import, then leaves a file named after its pid in IMPORT_MARKERS (when set):
the tests see which workers had finished loading the app at a given moment."""
import os
import time

time.sleep(float(os.environ.get("IMPORT_SECONDS", "2")))
_markers = os.environ.get("IMPORT_MARKERS")
if _markers:
    with open(os.path.join(_markers, str(os.getpid())), "w") as f:
        f.write("imported")


def app(environ, start_response):
    body = b"imported"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

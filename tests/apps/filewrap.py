"""wsgi.file_wrapper over real files and over file-likes that are not files."""
import io
import os
import tempfile

DATA = os.path.join(tempfile.gettempdir(), "kwsgi-filewrap-test.bin")
PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, recognisable at any offset


def _ensure_data():
    if not os.path.exists(DATA) or os.path.getsize(DATA) != len(PAYLOAD):
        with open(DATA + ".tmp", "wb") as f:
            f.write(PAYLOAD)
        os.replace(DATA + ".tmp", DATA)


class Unreadable(io.FileIO):
    """A real file whose bytes Python cannot read: only a server that sends it from disk can serve it."""

    def read(self, size=-1):
        raise RuntimeError("read() was called: the bytes went through Python")


def app(environ, start_response):
    _ensure_data()
    path = environ["PATH_INFO"]
    wrapper = environ["wsgi.file_wrapper"]
    if path == "/unreadable":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper(Unreadable(DATA, "r"))
    if path == "/range":
        f = open(DATA, "rb")
        f.seek(1000)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", "500")])
        return wrapper(f)
    if path == "/locked":
        # An exclusive lock the front's open (a shared lock, as .NET takes) cannot get: the front refuses the
        # file reference and the worker streams the bytes itself. close() releases the lock.
        import fcntl  # Unix only

        f = open(DATA, "rb")
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper(f)
    if path == "/bytesio":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper(io.BytesIO(PAYLOAD[:100000]), 8192)
    if path == "/deleted":
        f = tempfile.TemporaryFile()
        f.write(PAYLOAD[:50000])
        f.seek(0)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return wrapper(f)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such path"]

"""The Python half of a kwsgi worker: loads the app and runs PEP 3333 requests.

The .NET host installs the channel builtins (_next, _read, _start, _send, _finish, _abort) as
attributes of this module before calling anything here; each worker thread runs serve().
"""

import contextvars
import importlib
import os
import stat
import sys
import threading
import traceback

SERVER_SOFTWARE = "kwsgi"

# PEP 3333 / RFC 9110 7.6.1: a WSGI app must not set hop-by-hop headers.
_HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
))
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789"
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

_ERROR_HEAD = "500 Internal Server Error\0Content-Type\0text/plain; charset=utf-8\0Content-Length\x0022".encode("latin-1")
_ERROR_BODY = b"Internal Server Error\n"

_app = None
_base_environ = None
# --expose-tracebacks: a 500 from the app's exception carries the traceback (development only).
_expose_tracebacks = False


class ClientDisconnected(OSError):
    """The client went away: raised by wsgi.input reads and by response writes."""


class StartupError(Exception):
    """The app cannot be loaded; args[0] is one plain sentence for the user."""


# ---------------------------------------------------------------- loading

def extend_path(expected, foreign):
    """Makes sys.path what the interpreter run on its own has: adds what the embedded one lacks (rare:
    both compute it the same way) and drops the .NET runtime folder pythonnet adds for `import clr`."""
    if foreign in sys.path:
        sys.path.remove(foreign)
    for entry in expected:
        if entry and entry not in sys.path:
            sys.path.append(entry)


def load_app(spec, call_factory):
    """Imports the app named by spec: module:attr, module:factory(), module.attr or module.factory()."""
    spec = spec.strip()
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
    else:
        # wfastcgi's WSGI_HANDLER form: the last dotted part is the attribute.
        bare = spec[:-2] if spec.endswith("()") else spec
        module_name, _, attr = bare.rpartition(".")
        if spec.endswith("()"):
            attr += "()"
        if not module_name:
            raise StartupError(f"'{spec}' does not name an app: write it as module:attribute, "
                               f"for example {spec}:app")
    attr = attr or "application"
    factory = attr.endswith("()")
    if factory:
        attr = attr[:-2]
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise StartupError(f"'{module_name}' in '{spec}' is not a Python module name")
    if not all(part.isidentifier() for part in attr.split(".")):
        raise StartupError(f"'{attr}' in '{spec}' is not a Python attribute name")

    sys.path.insert(0, os.getcwd())
    named = module_name
    while True:
        try:
            module = importlib.import_module(module_name)
            break
        except ModuleNotFoundError as error:
            missing = error.name or module_name
            if ":" not in spec and missing == module_name and "." in module_name:
                # wfastcgi's retry: when the module part is not a module, its last segment belongs to the
                # attribute chain (pkg.web.wsgi_app can be module pkg, attribute web.wsgi_app).
                module_name, _, moved = module_name.rpartition(".")
                attr = f"{moved}.{attr}"
                continue
            if module_name == missing or module_name.startswith(missing + "."):
                raise StartupError(f"cannot import the app module '{named}': no module named "
                                   f"'{missing}' in {os.getcwd()} or on sys.path") from None
            raise StartupError(f"importing '{module_name}' failed: {_describe(error)}",
                               _import_traceback()) from None
        except BaseException as error:
            raise StartupError(f"importing '{module_name}' failed: {_describe(error)}",
                               _import_traceback()) from None

    app = module
    for part in attr.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise StartupError(f"module '{module_name}' has no attribute '{attr}'") from None
    name = f"{module_name}:{attr}"
    if factory or call_factory:
        if not callable(app):
            raise StartupError(f"'{name}' is not callable (it is {_a(app)}), so it cannot be called as a factory")
        try:
            app = app()
        except BaseException as error:
            raise StartupError(f"calling '{name}()' failed: {_describe(error)}", _import_traceback()) from None
        name += "()"
    if not callable(app):
        raise StartupError(f"'{name}' is not a WSGI app: it is {_a(app)}, which is not callable")
    return app


def _import_traceback():
    """The traceback of the exception being handled, without the frames of the import machinery and of this
    module, as an `import app` statement shows it: the app's own lines, chained exceptions included."""
    handled = traceback.TracebackException(*sys.exc_info())
    link = handled
    while link is not None:
        link.stack = traceback.StackSummary.from_list(
            [frame for frame in link.stack if not _is_import_machinery(frame.filename)])
        link = link.__cause__ or link.__context__
    text = "".join(handled.format())
    # A SyntaxError in the app's file has no frame left; the header still says what follows is a traceback.
    return text if handled.stack else "Traceback (most recent call last):\n" + text


def _is_import_machinery(filename):
    return (filename.startswith("<frozen importlib") or os.path.basename(filename) == "kwsgi_worker.py"
            or filename.replace("\\", "/").endswith("/importlib/__init__.py"))

def interface_of(app, wanted, spec):
    """'asgi' or 'wsgi' for the loaded app: --interface, or with auto an async callable (an `async def` function, or
    an object whose __call__ is one, as Starlette's and Django's apps are) is an ASGI 3 app."""
    if wanted == "wsgi":
        return "wsgi"
    import inspect
    is_asgi = not inspect.isclass(app) and (inspect.iscoroutinefunction(app)
                                            or inspect.iscoroutinefunction(getattr(app, "__call__", None)))
    if wanted == "asgi" and not is_asgi:
        if inspect.isclass(app):
            raise StartupError(f"'{spec}' is a class, an ASGI 2 double-callable app: kwsgi runs ASGI 3 apps only "
                               f"(asgiref.compatibility.guarantee_single_callable wraps it)")
        raise StartupError(f"'{spec}' is not an ASGI 3 app: it is not an async function, nor an object whose "
                           f"__call__ is one (--interface asgi)")
    return "asgi" if is_asgi else "wsgi"


def _describe(error):
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _a(value):
    name = type(value).__name__
    return ("an " if name[:1] in "aeiou" else "a ") + name


# ---------------------------------------------------------------- output

# The request each thread is serving, for the tag on what it prints.
_current = threading.local()
_current.id = ""

# The same for an ASGI worker, whose requests share one thread: each request's task sets it in its own context.
request_id = contextvars.ContextVar("kwsgi_request_id", default="")

# Set by the front when it reads the worker's stdout/stderr into its own log (docs/observability.md).
_TAG_VARIABLE = "KWSGI_TAGGED_OUTPUT"


class TaggedOutput:
    """sys.stdout/sys.stderr for a worker whose output the front logs: each write that ends a line goes out as one
    record, US + request id + US + text, newlines inside it as RS, so a traceback stays one log entry tagged with
    the request that printed it. Text without a final newline waits (per thread) for the rest of its line."""

    def __init__(self, raw):
        self._raw = raw
        self._pending = threading.local()

    def write(self, text):
        if type(text) is not str:
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        pending = getattr(self._pending, "text", "") + text
        if not pending.endswith("\n"):
            self._pending.text = pending
            return len(text)
        self._pending.text = ""
        self._emit(pending[:-1])
        return len(text)

    def _emit(self, text):
        self._raw.write("\x1f" + (getattr(_current, "id", "") or request_id.get()) + "\x1f" + text.replace("\n", "\x1e") + "\n")
        self._raw.flush()

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pending = getattr(self._pending, "text", "")
        if pending:
            self._pending.text = ""
            self._emit(pending)
        self._raw.flush()

    def __getattr__(self, name):
        # encoding, errors, fileno, isatty, buffer, ...: the real stream's.
        return getattr(self._raw, name)


def tag_output():
    if os.environ.pop(_TAG_VARIABLE, None) == "1" and not isinstance(sys.stderr, TaggedOutput):
        sys.stdout = TaggedOutput(sys.stdout)
        sys.stderr = TaggedOutput(sys.stderr)


def configure(app, multithread, multiprocess, expose_tracebacks=False):
    global _app, _base_environ, _expose_tracebacks
    tag_output()
    _app = app
    _expose_tracebacks = bool(expose_tracebacks)
    _base_environ = {
        "wsgi.version": (1, 0),
        "wsgi.multithread": bool(multithread),
        "wsgi.multiprocess": bool(multiprocess),
        "wsgi.run_once": False,
        "wsgi.errors": sys.stderr,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input_terminated": True,
        "SERVER_SOFTWARE": SERVER_SOFTWARE,
    }


# ---------------------------------------------------------------- wsgi.input

class Input:
    """wsgi.input: the request body, read from the channel as it arrives."""

    __slots__ = ("_id", "_buffer", "_done")

    def __init__(self, request_id, done):
        self._id = request_id
        self._buffer = b""
        self._done = done

    def _fill(self):
        """Appends the next piece of the body to the buffer; False at the end."""
        if self._done:
            return False
        piece = _read(self._id)
        if not piece:
            self._done = True
            return False
        self._buffer = self._buffer + piece if self._buffer else piece
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            pieces = [self._buffer]
            while not self._done:
                piece = _read(self._id)
                if not piece:
                    self._done = True
                    break
                pieces.append(piece)
            self._buffer = b""
            return b"".join(pieces)
        if len(self._buffer) < size and not self._done:
            pieces = [self._buffer]
            have = len(self._buffer)
            while have < size:
                piece = _read(self._id)
                if not piece:
                    self._done = True
                    break
                pieces.append(piece)
                have += len(piece)
            self._buffer = b"".join(pieces)
        data = self._buffer[:size]
        self._buffer = self._buffer[size:]
        return data

    def readline(self, size=-1):
        limited = size is not None and size >= 0
        start = 0
        while True:
            index = self._buffer.find(b"\n", start)
            if index >= 0:
                end = index + 1
                break
            if limited and len(self._buffer) >= size:
                end = size
                break
            start = len(self._buffer)
            if not self._fill():
                end = len(self._buffer)
                break
        if limited and size < end:
            end = size
        line = self._buffer[:end]
        self._buffer = self._buffer[end:]
        return line

    def readlines(self, hint=-1):
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if hint is not None and 0 < hint <= total:
                return lines

    def __iter__(self):
        return self

    def __next__(self):
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def close(self):
        pass


# ---------------------------------------------------------------- wsgi.file_wrapper

class FileWrapper:
    """wsgi.file_wrapper (PEP 3333): iterates a file-like object in blocks and closes it."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


def _file_path(fd, filelike):
    """The path that names the open file fd, or None when none does (a pipe, a deleted temp file)."""
    try:
        if sys.platform.startswith("linux"):
            path = os.readlink(f"/proc/self/fd/{fd}")
        else:
            path = os.path.abspath(os.fsdecode(filelike.name))
        opened, named = os.fstat(fd), os.stat(path)
    except (AttributeError, OSError, TypeError, ValueError):
        return None
    if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino):
        return None
    return path


def _send_file(request_id, response, wrapper):
    """Hands a real file to the front, which sends it from disk (PEP 3333 wsgi.file_wrapper).

    Sends from the file's current position to its end (or to Content-Length when the app gave one).
    Returns True when the front sends it; None when the file is not a regular named file (nothing was
    sent); False when the front could not open it (the head was sent; the caller streams the bytes)."""
    filelike = wrapper.filelike
    try:
        fd = filelike.fileno()
        position = filelike.tell()
        size = os.fstat(fd).st_size
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
    except (AttributeError, OSError, ValueError):
        return None
    path = _file_path(fd, filelike)
    if path is None:
        return None
    length = max(0, size - position)
    head = response.head
    if response.length is None:
        head += b"\0Content-Length\0" + str(length).encode("ascii")
    return _sendfile(request_id, head, os.fsencode(path), position, length)


# ---------------------------------------------------------------- start_response

# Encoded heads by (status, headers): most apps send a handful of distinct heads, so the checks and the
# encoding run once per head rather than once per request. Emptied when full, so heads that never repeat
# (a cookie per response) cost a miss each, never memory.
_HEADS = {}
_HEADS_MAX = 256


def _encode_head(status, headers):
    """Checks start_response's arguments (PEP 3333) and encodes them for the channel."""
    if type(headers) is not list:
        headers = list(headers)
    try:
        key = (status, tuple(headers))
        encoded = _HEADS.get(key)
    except TypeError:  # unhashable pieces: the checks below say what is wrong
        key = encoded = None
    if encoded is not None:
        return encoded
    encoded = _check_and_encode_head(status, headers)
    if key is not None:
        if len(_HEADS) >= _HEADS_MAX:
            _HEADS.clear()
        _HEADS[key] = encoded
    return encoded


def _check_and_encode_head(status, headers):
    if type(status) is not str:
        raise TypeError(f"status must be a str, not {type(status).__name__}")
    if len(status) < 4 or not status[:3].isdigit() or status[3] != " " or int(status[:3]) < 100:
        raise ValueError(f"status must be a three-digit code, a space and a reason phrase, not {status!r}")
    if "\r" in status or "\n" in status or "\0" in status:
        raise ValueError(f"status must not contain control characters: {status!r}")
    parts = [status]
    length = None  # the declared Content-Length: an int, -1 when not a plain number, None when absent
    for header in headers:
        if type(header) is not tuple or len(header) != 2:
            raise TypeError(f"each header must be a (name, value) tuple, not {header!r}")
        name, value = header
        if type(name) is not str or type(value) is not str:
            raise TypeError(f"header names and values must be str: {header!r}")
        if not name or not _TOKEN.issuperset(name):
            raise ValueError(f"invalid header name {name!r}")
        if "\r" in value or "\n" in value or "\0" in value:
            raise ValueError(f"header value for {name!r} contains a control character")
        lower = name.lower()
        if lower in _HOP_BY_HOP:
            raise ValueError(f"hop-by-hop header {name!r} is not allowed in a WSGI response")
        if lower == "content-length":
            length = int(value) if value.isdigit() and value.isascii() else -1
        parts.append(name)
        parts.append(value)
    try:
        return "\0".join(parts).encode("latin-1"), length
    except UnicodeEncodeError:
        raise ValueError("status and header values must be latin-1 strings (PEP 3333)") from None


class Response:
    """The per-request start_response and write() callables."""

    __slots__ = ("id", "head", "length", "sent")

    def __init__(self, request_id):
        self.id = request_id
        self.head = None
        self.length = None
        self.sent = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.head is not None:
            raise AssertionError("start_response called a second time without exc_info")
        self.head, self.length = _encode_head(status, headers)
        return self.write

    def write(self, data):
        if self.head is None:
            raise AssertionError("write() called before start_response")
        if type(data) is not bytes:
            data = _as_bytes(data)
        if not self.sent:
            _start(self.id, self.head)
            self.sent = True
        if data:
            _send(self.id, data)


def _as_bytes(data):
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, bytes):
        return bytes(data)
    raise TypeError(f"a WSGI app must produce bytes, not {type(data).__name__}")


# ---------------------------------------------------------------- serving

def serve():
    """A worker thread's life: take requests from the channel until the worker stops."""
    app = _app
    base = _base_environ
    while True:
        request = _next()
        if request is None:
            return
        request_id, head, no_body = request
        try:
            _handle(app, base, request_id, head, no_body)
        except BaseException:  # noqa: a bug here must not end the thread
            _log("kwsgi: internal error while serving a request")


def _environ(base, request_id, head, no_body):
    count = head[0] | (head[1] << 8)
    # Pairs of latin-1 text separated by NUL; PATH_INFO comes last and may itself hold NULs.
    fields = head[2:].decode("latin-1").split("\0", 2 * count - 1)
    environ = base.copy()
    pairs = iter(fields)
    environ.update(zip(pairs, pairs))
    environ["wsgi.input"] = Input(request_id, no_body)
    return environ


def _handle(app, base, request_id, head, no_body):
    environ = _environ(base, request_id, head, no_body)
    _current.id = environ.get("kwsgi.request_id", "")
    response = Response(request_id)
    result = None
    try:
        result = app(environ, response.start_response)
        if not response.sent and type(result) in (list, tuple) and len(result) == 1:
            # The common case: one body piece, sent with the head and its length in one frame write.
            body = result[0]
            if type(body) is not bytes:
                body = _as_bytes(body)
            if response.head is None:
                raise AssertionError("the app returned without calling start_response")
            head = response.head
            if response.length is None:
                head += b"\0Content-Length\0" + str(len(body)).encode("ascii")
            if environ["REQUEST_METHOD"] == "HEAD":
                body = None
            _finish(request_id, head, body)
            return
        is_head = environ["REQUEST_METHOD"] == "HEAD"
        if type(result) is FileWrapper and response.head is not None and not response.sent:
            handed = _send_file(request_id, response, result)
            if handed:
                _finish(request_id, None, None)
                return
            if handed is not None:
                response.sent = True  # the head went out with the refused file reference
        for data in result:
            if type(data) is not bytes:
                data = _as_bytes(data)
            if data:
                if not response.sent:
                    if response.head is None:
                        raise AssertionError("the app yielded a body before calling start_response")
                    if len(data) == response.length and not is_head:
                        # The first piece is the whole declared body (how Flask and Django answer): head,
                        # body and end in one frame write. Nothing more may follow Content-Length, so the
                        # iterable is not read further; close() below still runs.
                        _finish(request_id, response.head, data)
                        return
                    _start(request_id, response.head)
                    response.sent = True
                if not is_head:
                    _send(request_id, data)
        if response.head is None:
            raise AssertionError("the app returned without calling start_response")
        _finish(request_id, None if response.sent else response.head, None)
    except ClientDisconnected:
        _abort_quietly(request_id)
    except BaseException:
        _log(f"kwsgi: error in the app serving {environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
        try:
            if response.sent:
                _abort(request_id)
            elif _expose_tracebacks:
                _finish(request_id, *_error_with_traceback())
            else:
                _finish(request_id, _ERROR_HEAD, _ERROR_BODY)
        except ClientDisconnected:
            _abort_quietly(request_id)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except BaseException:
                _log("kwsgi: error in the app's close()")
        _current.id = ""


def _error_with_traceback():
    """The 500's head and body with the traceback of the exception being handled, as waitress's expose_tracebacks."""
    body = _ERROR_BODY + b"\n" + traceback.format_exc().encode("utf-8", "backslashreplace")
    head = ("500 Internal Server Error\0Content-Type\0text/plain; charset=utf-8\0Content-Length\0"
            + str(len(body))).encode("latin-1")
    return head, body


def _abort_quietly(request_id):
    """Ends a request whose client is gone; the front drops whatever follows."""
    try:
        _abort(request_id)
    except ClientDisconnected:
        pass


def _log(message):
    try:
        sys.stderr.write(message + "\n" + traceback.format_exc())
        sys.stderr.flush()
    except BaseException:
        pass


def run_exit_functions():
    """Runs atexit handlers as a normal interpreter exit would; the process then ends without finalizing."""
    try:
        import atexit
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass

"""For the supervisor's tests: every answer is the worker's pid.

/sleep?s=SECONDS&tag=PATH  writes the pid to PATH (if given), then sleeps: a request known to be running
/spin                      holds the GIL in one C call that never ends (a stuck C extension)
/grow?mb=N                 allocates N MiB and keeps it for the worker's life
/exit                      kills the worker process outright
anything else              answers at once
"""
import os
import time
from urllib.parse import parse_qs

_kept = []


def app(environ, start_response):
    path = environ.get("PATH_INFO", "")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":
        tag = query.get("tag", [None])[0]
        if tag:
            with open(tag, "w") as f:
                f.write(str(os.getpid()))
        time.sleep(float(query.get("s", ["1"])[0]))
    elif path == "/spin":
        sum(range(10 ** 15))  # builtin sum over a range: C code that never checks for a GIL request
    elif path == "/grow":
        _kept.append(b"\x01" * (int(query.get("mb", ["1"])[0]) << 20))  # written, so resident
    elif path == "/exit":
        os._exit(1)
    body = str(os.getpid()).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

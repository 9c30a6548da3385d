#!/usr/bin/env python3
"""The --reload dev loop: time from saving a .py file to the first response with the new code, and to
the log's "Reload done" (every worker replaced).

Copies a small app (hello: raw WSGI; flask: a Flask app) into a temp folder, starts
`kwsgi --reload --workers N` on it, then REPEATS times: rewrites app.py with a new version string
and polls / (every 5 ms) until the body carries it. Prints each time and the median. The figure
includes the 300 ms quiet period that joins a burst of saves into one reload.

    perf/reload.py [--kwsgi PATH] [--app hello|flask] [--workers 1] [--repeats 5] [-- extra kwsgi args]

Flask needs a python3 that can import it (the pyenv one on PATH here).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import urllib.request

from bench import free_port

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

APPS = {
    "hello": '''\
VERSION = b"{version}"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [VERSION]
''',
    "flask": '''\
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "{version}"
''',
}


def get(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--kwsgi", default=os.path.join(ROOT, "src/Kestrel.Wsgi.Cli/bin/Release/net10.0/kwsgi"))
    parser.add_argument("--app", choices=APPS, default="hello")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("extra", nargs="*")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="kwsgi-reload-perf-")
    source = os.path.join(folder, "app.py")
    with open(source, "w") as f:
        f.write(APPS[args.app].format(version="v0"))
    port = free_port()
    log = open(os.path.join(folder, "kwsgi.log"), "w")
    server = subprocess.Popen([args.kwsgi, "--host", "127.0.0.1", "--port", str(port), "--chdir", folder,
                               "--workers", str(args.workers), "--reload", *args.extra, "app:app"],
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while get(port) != "v0":
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"kwsgi did not start; see {log.name}")
            time.sleep(0.05)
        times = []
        done_times = []
        for i in range(1, args.repeats + 1):
            time.sleep(1.5)  # the previous generation has retired; a human does not save faster
            version = f"v{i}"
            text = APPS[args.app].format(version=version)
            start = time.monotonic()
            with open(source + ".tmp", "w") as f:
                f.write(text)
            os.replace(source + ".tmp", source)  # as editors save: write, then rename over
            while get(port) != version:
                if time.monotonic() - start > 60:
                    raise SystemExit(f"v{i} never served; see {log.name}")
                time.sleep(0.005)
            times.append((time.monotonic() - start) * 1000)
            while open(log.name).read().count("Reload done") < i:
                if time.monotonic() - start > 60:
                    raise SystemExit(f"reload {i} never done; see {log.name}")
                time.sleep(0.005)
            done_times.append((time.monotonic() - start) * 1000)
            print(f"save {i}: new code after {times[-1]:.0f} ms, every worker after {done_times[-1]:.0f} ms", flush=True)
        print(f"{args.app}, {args.workers} worker(s): first new response median {statistics.median(times):.0f} ms "
              f"(min {min(times):.0f}, max {max(times):.0f}); every worker replaced median {statistics.median(done_times):.0f} ms")
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()

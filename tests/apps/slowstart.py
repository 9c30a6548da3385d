"""The first worker to import this loads at once; every other one takes KWSGI_TEST_SLOW_IMPORT seconds (default 8).

The first is whichever creates KWSGI_TEST_MARKER (a file) first: --ready-when tests use it to have workers that
become ready far apart.
"""
import os
import time

try:
    os.close(os.open(os.environ["KWSGI_TEST_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except FileExistsError:
    time.sleep(float(os.environ.get("KWSGI_TEST_SLOW_IMPORT", "8")))


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]

"""Streams N chunks, sleeping `delay` seconds between them: /?n=5&delay=0.3"""
import time
from urllib.parse import parse_qs


def app(environ, start_response):
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    n = int(qs.get("n", ["5"])[0])
    delay = float(qs.get("delay", ["0.3"])[0])
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        for i in range(n):
            if i:
                time.sleep(delay)
            yield ("chunk %d\n" % i).encode("ascii")

    return gen()

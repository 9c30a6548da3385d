"""Uses the legacy write() callable for some chunks, then returns an iterable with more."""


def app(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one,")
    write(b"two,")
    write(b"three,")
    return [b"four,", b"five"]

"""upload: reads wsgi.input fully and returns the number of bytes read."""


def app(environ, start_response):
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    stream = environ["wsgi.input"]
    total = 0
    while remaining > 0:
        data = stream.read(min(remaining, 65536))
        if not data:
            break
        total += len(data)
        remaining -= len(data)
    body = str(total).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]

def create_app():
    def app(environ, start_response):
        body = b"Hello from factory"
        start_response("200 OK", [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
        ])
        return [body]

    return app


not_callable = "x"

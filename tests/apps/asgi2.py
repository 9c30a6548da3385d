"""An ASGI 2 "double callable" app: a class constructed with the scope, whose instances are awaited."""


class App:
    def __init__(self, scope):
        self.scope = scope

    async def __call__(self, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"asgi2"})


app = App

"""An ASGI app that, like Django's, raises on any scope but http: --lifespan auto runs it without lifespan."""


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError(f"only http scopes, not {scope['type']}")
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"no lifespan here"})

"""starlette: Starlette's plain-text hello (Debian's python3-starlette), a 13-byte body."""
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route


async def hello(request):
    return PlainTextResponse("Hello, World!")


app = Starlette(routes=[Route("/", hello)])

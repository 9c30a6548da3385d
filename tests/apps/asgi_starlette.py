"""A Starlette app (Debian's python3-starlette 0.26) with a lifespan whose state reaches each request."""
import contextlib

from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "from the lifespan"}


async def hello(request):
    return PlainTextResponse("Hello, World!")


async def state(request):
    return JSONResponse({"greeting": getattr(request.state, "greeting", None), "root_path": request.scope["root_path"],
                         "url": str(request.url)})


app = Starlette(routes=[Route("/", hello), Route("/state", state)], lifespan=lifespan)

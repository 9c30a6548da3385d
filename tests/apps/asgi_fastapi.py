"""A FastAPI app (Debian's python3-fastapi 0.92): a JSON endpoint, a streaming response, a file upload parsed
by python3-multipart, a background task, and a lifespan that opens a resource and closes it: startup and
shutdown lines go to $KWSGI_TEST_LIFESPAN_LOG (when set), the background task's line too."""
import asyncio
import hashlib
import os

from fastapi import BackgroundTasks, FastAPI, File, Form, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse

LOG = os.environ.get("KWSGI_TEST_LIFESPAN_LOG")
app = FastAPI()
resource = {}


def _note(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


@app.on_event("startup")
async def open_resource():
    resource["handle"] = f"resource of {os.getpid()}"
    _note(f"startup {os.getpid()}")


@app.on_event("shutdown")
async def close_resource():
    _note(f"shutdown {os.getpid()}")
    resource.clear()


@app.get("/")
async def hello():
    return {"message": "Hello, World!"}


@app.get("/items/{item_id}")
async def item(item_id: int, q: str = ""):
    return {"item_id": item_id, "q": q, "resource": resource.get("handle")}


@app.get("/stream")
async def stream(n: int = 3):
    async def pieces():
        for i in range(n):
            yield f"piece {i}\n"
            await asyncio.sleep(0.05)
    return StreamingResponse(pieces(), media_type="text/plain")


@app.post("/upload")
async def upload(file: UploadFile = File(...), note: str = Form("")):
    data = await file.read()
    return {"filename": file.filename, "length": len(data), "sha256": hashlib.sha256(data).hexdigest(), "note": note}


@app.post("/background")
async def background(tasks: BackgroundTasks, tag: str = "x"):
    tasks.add_task(_note, f"background {tag}")
    return PlainTextResponse("queued")

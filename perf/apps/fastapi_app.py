"""fastapi: FastAPI's JSON hello (Debian's python3-fastapi), the usual FastAPI benchmark."""
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello():
    return {"message": "Hello, World!"}

"""A FastAPI WebSocket chat: every message a client sends goes to every client connected to this worker."""

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
clients = set()


@app.websocket("/chat/{name}")
async def chat(websocket: WebSocket, name: str):
    await websocket.accept()
    clients.add(websocket)
    try:
        for other in list(clients):
            await other.send_text(f"{name} joined")
        while True:
            text = await websocket.receive_text()
            for other in list(clients):
                await other.send_text(f"{name}: {text}")
    except WebSocketDisconnect:
        pass
    finally:
        clients.discard(websocket)


@app.get("/")
def index():
    return {"clients": len(clients)}

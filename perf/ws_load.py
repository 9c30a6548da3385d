"""WebSocket ping-pong load: N connections each send a message and wait for its echo, over and over.

    python3 perf/ws_load.py URL CONNECTIONS SECONDS [SIZE]

Prints one line of JSON: round trips, their rate (messages/s: one round trip = one message each way), and the
p50/p99 round-trip latency in ms. Uses uvloop when the Python has it, so the client costs as little CPU as it can.
"""

import asyncio
import json
import sys
import time

import websockets


async def connection(url, size, deadline, latencies):
    message = "x" * size
    async with websockets.connect(url, max_size=None, ping_interval=None, compression=None) as ws:
        count = 0
        while True:
            start = time.perf_counter()
            if start >= deadline:
                return count
            await ws.send(message)
            await ws.recv()
            latencies.append(time.perf_counter() - start)
            count += 1


async def main(url, connections, seconds, size):
    latencies = []
    deadline = time.perf_counter() + seconds
    started = time.perf_counter()
    counts = await asyncio.gather(*(connection(url, size, deadline, latencies) for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    total = sum(counts)
    print(json.dumps({
        "round_trips": total,
        "rate": round(total / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 3) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 3) if latencies else None,
    }))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        sys.exit("usage: ws_load.py URL CONNECTIONS SECONDS [SIZE]")
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 32))

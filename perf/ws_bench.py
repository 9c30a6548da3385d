"""WebSocket echo, kwsgi against uvicorn, interleaved: messages/s, latency, and the server tree's CPU per message.

    python3 perf/ws_bench.py [--repeats 3] [--seconds 10] [--connections 32] [--workers 2] [--size 32]

Both servers run perf/apps/ws_echo.py (raw ASGI) on /usr/bin/python3 with the same number of workers: kwsgi
(perf/.kwsgi/kwsgi, as run.sh publishes it; KWSGI=path overrides) and uvicorn with --ws websockets (Debian's 0.17).
The load is perf/ws_load.py in its own process. --limit adds a bare Kestrel echo (perf/KestrelHello, published
into perf/.kestrel-hello): what the front alone costs, with no Python and no hop. Prints a Markdown table: median (min–max) over the repeats, with the
machine's load average during the run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (process_tree, read_stat, spawn, stop_server, port_open, free_port, loadavg)

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


def server_argv(name, port, workers):
    if name == "kestrel-ws":
        return [os.path.join(HERE, ".kestrel-hello", "KestrelHello"), "--host", "127.0.0.1", "--port", str(port)]
    if name == "kwsgi":
        kwsgi = os.environ.get("KWSGI", os.path.join(HERE, ".kwsgi", "kwsgi"))
        return [kwsgi, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--python", PYTHON,
                "--log-level", "warning", "ws_echo:app"]
    return [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--ws", "websockets", "--log-level", "warning", "--no-access-log", "ws_echo:app"]


def tree_ticks(root):
    total = 0
    for pid in bench.process_tree(root):
        st = bench.read_stat(pid)
        if st:
            total += st[2]
    return total


def run_once(name, args):
    port = bench.free_port()
    env = dict(os.environ)
    if name == "kestrel-ws":
        env["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1"  # as kwsgi's front runs
    p = bench.spawn(server_argv(name, port, args.workers), cwd=os.path.join(HERE, "apps"), env=env)
    try:
        deadline = time.monotonic() + 60
        while not bench.port_open(port):
            if time.monotonic() > deadline or p.poll() is not None:
                raise SystemExit(f"{name} did not start")
            time.sleep(0.2)
        time.sleep(1.0)  # every worker up
        url = f"ws://127.0.0.1:{port}/"
        # Warm-up (the front's JIT tiers up its hot paths), then the measured run.
        subprocess.run([PYTHON, os.path.join(HERE, "ws_load.py"), url, str(args.connections), "5", str(args.size)],
                       check=True, capture_output=True)
        ticks0 = tree_ticks(p.pid)
        out = subprocess.run([PYTHON, os.path.join(HERE, "ws_load.py"), url, str(args.connections), str(args.seconds), str(args.size)],
                             check=True, capture_output=True, text=True).stdout
        ticks = tree_ticks(p.pid) - ticks0
        result = json.loads(out)
        ticks_per_s = os.sysconf("SC_CLK_TCK")
        result["cpu_us"] = round(ticks / ticks_per_s * 1e6 / max(1, result["round_trips"]), 1)
        result["load"] = bench.loadavg()
        return result
    finally:
        bench.stop_server(p, port)


def spread(values):
    return f"{statistics.median(values):,.1f} ({min(values):,.1f}–{max(values):,.1f})"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--limit", action="store_true", help="also a bare Kestrel echo (perf/KestrelHello: no Python, no hop)")
    args = parser.parse_args()
    names = ["kwsgi", "uvicorn"] + (["kestrel-ws"] if args.limit else [])
    results = {name: [] for name in names}
    for i in range(args.repeats):
        for name in (names if i % 2 == 0 else names[::-1]):
            r = run_once(name, args)
            results[name].append(r)
            print(f"# {i + 1} {name}: {r}", file=sys.stderr, flush=True)
    print(f"WebSocket echo, {args.connections} connections ping-ponging {args.size}-byte text messages, "
          f"{args.workers} workers, {args.seconds:g} s x {args.repeats} interleaved repeats; median (min–max)\n")
    print("| server | messages/s | p50 ms | p99 ms | server CPU µs/message | load average |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        print(f"| {name} | {spread([r['rate'] for r in runs])} | {spread([r['p50_ms'] for r in runs])} | "
              f"{spread([r['p99_ms'] for r in runs])} | {spread([r['cpu_us'] for r in runs])} | "
              f"{', '.join(str(r['load']) for r in runs)} |")
    k = [r["rate"] for r in results["kwsgi"]]
    u = [r["rate"] for r in results["uvicorn"]]
    print(f"\nkwsgi / uvicorn, median messages/s: {statistics.median(k) / statistics.median(u):.2f}x "
          f"(pairwise {', '.join(f'{a / b:.2f}' for a, b in zip(k, u))})")


if __name__ == "__main__":
    main()

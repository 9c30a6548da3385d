#!/usr/bin/env python3
"""CPU time and context switches per request, per process and per thread, under a fixed wrk load.

Starts kwsgi on perf/apps (hello by default) with 1 worker and 1 thread, runs
`wrk -t1 -c64` for DURATION seconds after a warm-up, and reads /proc before and after: utime+stime of
the front and the worker, and every thread's voluntary (it slept: a wake-up) and involuntary (it was
preempted) context switches, each divided by the requests wrk completed. The thread names come from
/proc/PID/task/TID/comm (.NET names its threads: ".NET TP Worker", ".NET Sockets", ...).

    perf/hops.py [--kwsgi PATH] [--app hello:app] [--duration 5] [--repeats 3] [-- extra kwsgi args]
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time

from bench import CLK_TCK, free_port, process_tree, read_stat  # the side-by-side harness's helpers (perf/bench.py)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def threads(pid):
    """{tid: (name, voluntary, involuntary, cpu ticks)}"""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                status = f.read()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        vol = int(re.search(r"voluntary_ctxt_switches:\s+(\d+)", status).group(1))
        invol = int(re.search(r"nonvoluntary_ctxt_switches:\s+(\d+)", status).group(1))
        out[int(tid)] = (name, vol, invol, int(rest[11]) + int(rest[12]))
    return out


def wait_ready(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("kwsgi did not answer")


def wrk(port, seconds, conns=64):
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return requests, out


def group(snapshot):
    """Sum threads by name, the numbers stripped (".NET TP Worker" for all of them)."""
    out = {}
    for name, vol, invol, ticks in snapshot.values():
        key = re.sub(r"\s*#?\d+$", "", name)
        v = out.setdefault(key, [0, 0, 0, 0])
        v[0] += vol
        v[1] += invol
        v[2] += ticks
        v[3] += 1
    return out


def diff(before, after):
    b, a = group(before), group(after)
    return {k: [a[k][i] - b.get(k, [0, 0, 0, 0])[i] for i in range(3)] + [a[k][3]] for k in a}


def once(args, extra):
    port = free_port()
    argv = [args.kwsgi, "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--threads", "1",
            "--chdir", os.path.join(HERE, "apps"), "--python", args.python, *extra, args.app]
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_ready(port)
        wrk(port, 5)  # warm-up: JIT tiers, pools
        front = p.pid
        worker = process_tree(front)[1]  # the front, then its one worker
        f0, w0 = threads(front), threads(worker)
        fc0, wc0 = read_stat(front)[2], read_stat(worker)[2]
        n, _ = wrk(port, args.duration)
        f1, w1 = threads(front), threads(worker)
        fc1, wc1 = read_stat(front)[2], read_stat(worker)[2]
        return n, (fc1 - fc0), (wc1 - wc0), diff(f0, f1), diff(w0, w1)
    finally:
        os.killpg(p.pid, 15)
        p.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kwsgi", default=os.path.join(ROOT, "src/Kestrel.Wsgi.Cli/bin/Release/net10.0/kwsgi"))
    ap.add_argument("--app", default="hello:app")
    ap.add_argument("--python", default="/usr/bin/python3")
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("extra", nargs="*")
    args = ap.parse_args()
    with open("/proc/loadavg") as f:
        print("load before:", f.read().strip())
    for r in range(args.repeats):
        n, fticks, wticks, fthreads, wthreads = once(args, args.extra)
        us = 1e6 / CLK_TCK / n
        print(f"\nrepeat {r + 1}: {n} requests ({n / args.duration:.0f}/s); CPU µs/request: front {fticks * us:.1f}, worker {wticks * us:.1f}")
        for label, table in (("front", fthreads), ("worker", wthreads)):
            rows = sorted(table.items(), key=lambda kv: -(kv[1][0] + kv[1][1]))
            for name, (vol, invol, ticks, count) in rows:
                if vol + invol == 0 and ticks == 0:
                    continue
                print(f"  {label:6} {name:24} x{count:<3} wake-ups/req {vol / n:6.3f}  preempted/req {invol / n:6.3f}  CPU µs/req {ticks * us:6.1f}")
    with open("/proc/loadavg") as f:
        print("\nload after:", f.read().strip())


if __name__ == "__main__":
    sys.exit(main())

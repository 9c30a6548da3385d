#!/usr/bin/python3
"""Footprint of a server tree: memory (RSS and PSS) and start-up to the first 200.

  perf/footprint.py mem SERVER WORKLOAD WORKERS [REPEATS]     tree RSS/PSS, idle and after 2000 requests
  perf/footprint.py startup SERVER WORKLOAD WORKERS [REPEATS]  process start to first 200, min/median/max
  perf/footprint.py once SERVER WORKLOAD WORKERS               one start-up, in ms (for an outside timer)

SERVER: kwsgi, waitress, uwsgi-http (perf/bench.py's command lines; THREADS=4). KWSGI_ARGS adds options to
kwsgi's command line (e.g. KWSGI_ARGS="--ready-when all"). Standard library only; meant for /usr/bin/python3.
"""

import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def argv_for(server, workload, workers, port):
    bench.WORKERS = workers
    argv, cwd = bench.server_argv(server, workload, port)
    extra = os.environ.get("KWSGI_ARGS", "").split()
    if server == "kwsgi" and extra:
        argv = argv[:1] + extra + argv[1:]
    return argv, cwd


def smaps(pid):
    """(rss_kb, pss_kb) from /proc/PID/smaps_rollup."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def tree_memory(root):
    procs = []
    for pid in bench.process_tree(root):
        rss, pss = smaps(pid)
        st = bench.read_stat(pid)
        cpu_ms = st[2] * 1000 / bench.CLK_TCK if st else 0
        procs.append(dict(pid=pid, cmd=bench.cmdline(pid)[:60], rss_kb=rss, pss_kb=pss, cpu_ms=cpu_ms))
    return dict(rss_kb=sum(p["rss_kb"] for p in procs), pss_kb=sum(p["pss_kb"] for p in procs), procs=procs)


def settle(root, seconds=1.0, limit=10.0):
    last, since, deadline = -1, time.monotonic(), time.monotonic() + limit
    while time.monotonic() < deadline:
        cur = sum(bench.rss_kb(p) for p in bench.process_tree(root))
        if abs(cur - last) <= max(64, last // 200):
            if time.monotonic() - since >= seconds:
                return
        else:
            since = time.monotonic()
        last = cur
        time.sleep(0.1)


def wait_all_workers(server, root, workers, limit=30.0):
    """kwsgi may answer before every worker is up (--ready-when one): wait for them all to be started."""
    deadline = time.monotonic() + limit
    want = workers + 1 if server != "waitress" else 1
    if server == "uwsgi-http":
        want = workers + 2  # master, router, workers
    while time.monotonic() < deadline and len(bench.process_tree(root)) < want:
        time.sleep(0.05)


def mem(server, workload, workers):
    port = bench.free_port()
    argv, cwd = argv_for(server, workload, workers, port)
    p = bench.spawn(argv, cwd=cwd, logfile=f"/tmp/footprint.{server}.log")
    try:
        err = bench.wait_ready(p, port, "/")
        if err:
            return dict(error=err)
        wait_all_workers(server, p.pid, workers)
        time.sleep(1.5 if server == "kwsgi" else 0.5)
        settle(p.pid)
        idle = tree_memory(p.pid)
        for _ in range(2000):
            bench.request(port, "/")
        settle(p.pid)
        loaded = tree_memory(p.pid)
        return dict(idle=idle, loaded=loaded)
    finally:
        bench.stop_server(p, port)


def once(server, workload, workers):
    port = bench.free_port()
    argv, cwd = argv_for(server, workload, workers, port)
    t0 = time.monotonic()
    p = bench.spawn(argv, cwd=cwd, logfile=f"/tmp/footprint.{server}.log")
    try:
        return bench.first_200(port, t0, p)
    finally:
        bench.stop_server(p, port)


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "FAILED"
    return f"min {min(values):.0f} / median {statistics.median(values):.0f} / max {max(values):.0f}"


def main():
    if len(sys.argv) < 5 or not sys.argv[4].isdigit():
        sys.exit(__doc__)
    what, server, workload, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    repeats = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    load = open("/proc/loadavg").read().split()[:3]
    if what == "once":
        t = once(server, workload, workers)
        print(f"{t * 1000:.1f}" if t is not None else "FAILED")
    elif what == "startup":
        times = []
        for _ in range(repeats):
            t = once(server, workload, workers)
            times.append(t * 1000 if t is not None else None)
        print(json.dumps(dict(server=server, workload=workload, workers=workers, ms=times, load=load)))
        print(f"{server} {workload} x{workers} first 200 ms: {spread(times)} (load {' '.join(load)})")
    elif what == "mem":
        runs = [mem(server, workload, workers) for _ in range(repeats)]
        ok = [r for r in runs if "error" not in r]
        if not ok:
            print(json.dumps(runs))
            sys.exit(1)
        for key in ("idle", "loaded"):
            rss = statistics.median(r[key]["rss_kb"] for r in ok) / 1024
            pss = statistics.median(r[key]["pss_kb"] for r in ok) / 1024
            print(f"{server} {workload} x{workers} {key}: tree RSS {rss:.1f} MiB, PSS {pss:.1f} MiB (load {' '.join(load)})")
        for proc in ok[-1]["idle"]["procs"]:
            print(f"    {proc['pid']:>7} RSS {proc['rss_kb'] / 1024:6.1f} PSS {proc['pss_kb'] / 1024:6.1f} "
                  f"CPU {proc['cpu_ms']:5.0f} ms  {proc['cmd']}")
        for proc in ok[-1]["loaded"]["procs"]:
            print(f"    loaded {proc['pid']:>7} RSS {proc['rss_kb'] / 1024:6.1f} PSS {proc['pss_kb'] / 1024:6.1f}  {proc['cmd']}")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    try:
        main()
    finally:
        bench.kill_everything()

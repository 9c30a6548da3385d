#!/usr/bin/env python3
"""The idle targets: CPU used by kwsgi's whole tree (4 workers) over 20 s with no traffic, and the time to
answer a first request (on a new connection) after 10 s idle, three times.

    perf/idle.py [socket|shm|pipe]      KWSGI=path/to/kwsgi (default: the Release build)
"""
import http.client
import os
import subprocess
import sys
import time

from bench import free_port, process_tree, read_stat  # the side-by-side harness's helpers (perf/bench.py)

HERE = os.path.dirname(os.path.abspath(__file__))
KWSGI = os.environ.get("KWSGI", os.path.join(HERE, "..", "src/Kestrel.Wsgi.Cli/bin/Release/net10.0/kwsgi"))
port = free_port()
env = dict(os.environ)
if len(sys.argv) > 1:
    env["KWSGI_CHANNEL"] = sys.argv[1]
p = subprocess.Popen([KWSGI, "--host", "127.0.0.1", "--port", str(port), "--workers", "4", "--ready-when", "all",
                      "--chdir", os.path.join(HERE, "apps"), "--python", "/usr/bin/python3", "hello:app"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
try:
    for _ in range(600):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/")
            c.getresponse().read()
            break
        except OSError:
            time.sleep(0.1)
    for _ in range(2000):  # warm-up: JIT, pools
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        c.getresponse().read()
        c.close()
    time.sleep(5)
    tree = process_tree(p.pid)
    t0 = sum(read_stat(x)[2] for x in tree); w0 = time.time()
    time.sleep(20)
    t1 = sum(read_stat(x)[2] for x in tree); w1 = time.time()
    ticks = os.sysconf("SC_CLK_TCK")
    print(f"idle CPU, {len(tree)} processes, 20 s: {(t1 - t0) / ticks / (w1 - w0) * 100:.2f} % of one core")
    lat = []
    for _ in range(3):
        time.sleep(10)
        s = time.perf_counter()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        c.getresponse().read()
        c.close()
        lat.append((time.perf_counter() - s) * 1000)
    print("first request after 10 s idle (ms, new connection):", " ".join(f"{x:.2f}" for x in lat))
finally:
    os.killpg(p.pid, 15); p.wait()
print("load", open("/proc/loadavg").read().strip())

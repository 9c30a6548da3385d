#!/usr/bin/env python3
"""Quick side-by-side of the channel transports (KWSGI_CHANNEL=socket vs shm) on hello: throughput, p99 and CPU per
request of the front and the workers (utime+stime from /proc), interleaved repeats; and idle CPU of the tree.

    python3 perf/channel_side_by_side.py bench    # wrk -t1 -c64 -d5s, --workers 2, 3 interleaved repeats each
    python3 perf/channel_side_by_side.py idle2    # 4 workers idle 20 s: CPU per process, then a first request

Needs a Release build (dotnet build -c Release) and wrk. Not perf/run.sh: a diagnostic for the transport only.
"""
import os, re, subprocess, sys, time, signal, socket
HERE = os.path.dirname(os.path.abspath(__file__))
KW = os.environ.get("KWSGI_EXE", os.path.join(HERE, "..", "src", "Kestrel.Wsgi.Cli", "bin", "Release", "net10.0", "kwsgi"))
APPS = os.path.join(HERE, "..", "tests", "apps")
TCK = os.sysconf("SC_CLK_TCK")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                st = open(f"/proc/{d}/stat").read()
                ppid = int(st.rsplit(")", 1)[1].split()[1])
                if ppid == pid: out.append(int(d))
            except OSError: pass
    return out

def cpu(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TCK

def start(channel, workers):
    port = free_port()
    env = dict(os.environ, KWSGI_CHANNEL=channel)
    p = subprocess.Popen([KW, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--chdir", APPS, "hello:app"],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    for line in p.stdout:
        if "Listening on" in line: break
    time.sleep(1)
    return p, port

def stop(p):
    os.killpg(p.pid, signal.SIGTERM)
    try: p.wait(20)
    except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL)

def run(channel):
    p, port = start(channel, 2)
    subprocess.run(["wrk", "-t1", "-c64", "-d2s", f"http://127.0.0.1:{port}/"], capture_output=True)  # warm-up
    pids = [p.pid] + children(p.pid)
    before = {x: cpu(x) for x in pids}
    load = open("/proc/loadavg").read().split()[0]
    out = subprocess.run(["wrk", "-t1", "-c64", "-d5s", "--latency", f"http://127.0.0.1:{port}/"], capture_output=True, text=True).stdout
    after = {x: cpu(x) for x in pids}
    stop(p)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    n = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+(\S+)", out).group(1)
    front = (after[p.pid] - before[p.pid]) / n * 1e6
    work = sum(after[x] - before[x] for x in pids[1:]) / n * 1e6
    return rps, p99, front, work, load

def idle(channel, workers=4, seconds=10):
    p, port = start(channel, workers)
    time.sleep(2)
    pids = [p.pid] + children(p.pid)
    before = sum(cpu(x) for x in pids); t0 = time.time()
    time.sleep(seconds)
    used = sum(cpu(x) for x in pids) - before; dt = time.time() - t0
    t = time.perf_counter()
    subprocess.run(["curl", "-s", "-o", "/dev/null", f"http://127.0.0.1:{port}/"])
    first = (time.perf_counter() - t) * 1000
    stop(p)
    return used / dt * 100, len(pids), first

if sys.argv[1] == "bench":
    for r in range(3):
        for ch in ("socket", "shm"):
            rps, p99, front, work, load = run(ch)
            print(f"{ch:6} rep{r+1}: {rps:9.0f} req/s  p99 {p99:>8}  CPU/req front {front:5.1f} us workers {work:5.1f} us  load1 {load}", flush=True)
elif sys.argv[1] == "idle":
    for ch in ("shm", "socket"):
        pct, n, first = idle(ch)
        print(f"idle {ch}: {pct:.2f}% of one core over 10 s, {n} processes; first request after idle (curl incl. its start) {first:.1f} ms", flush=True)

if sys.argv[1] == "idle2":
    import http.client
    for ch in ("shm", "socket"):
        p, port = start(ch, 4)
        time.sleep(2)
        pids = [p.pid] + children(p.pid)
        before = {x: cpu(x) for x in pids}; t0 = time.time()
        time.sleep(20)
        dt = time.time() - t0
        per = {x: (cpu(x) - before[x]) / dt * 100 for x in pids}
        c = http.client.HTTPConnection("127.0.0.1", port); c.connect()
        t = time.perf_counter(); c.request("GET", "/"); c.getresponse().read(); first = (time.perf_counter() - t) * 1000
        t = time.perf_counter(); c.request("GET", "/"); c.getresponse().read(); second = (time.perf_counter() - t) * 1000
        stop(p)
        print(f"idle {ch}: total {sum(per.values()):.2f}% of one core over {dt:.0f} s; front {per[p.pid]:.2f}%, workers " + ", ".join(f"{per[x]:.2f}%" for x in pids[1:]) + f"; first request after idle {first:.2f} ms, next {second:.2f} ms", flush=True)

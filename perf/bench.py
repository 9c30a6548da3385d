#!/usr/bin/python3
"""Side-by-side benchmark of kwsgi against waitress, gunicorn, uWSGI and nginx.

Run through perf/run.sh (it builds kwsgi first). Standard library only; meant for
/usr/bin/python3. Settings come from the environment:

  DURATION=10 REPEATS=3 WARMUP=2 WORKERS=2 THREADS=4 CONNECTIONS=64
  WORKLOADS="hello flask django stream upload mixed static"
  SERVERS="kwsgi kestrel-hello waitress gunicorn-sync gunicorn-gthread uwsgi uwsgi-http nginx"
  KWSGI=perf/.kwsgi/kwsgi  KESTREL_HELLO=perf/.kestrel-hello/KestrelHello
  PYTHON=/usr/bin/python3  RESULTS=perf/RESULTS.md
  EXTRAS=1 (start-up, worker cost, worker footprint; 0 skips them)
  SPREAD_FLAG=0.15 (a median whose min-max spread exceeds this share of it is flagged)
  QUIET=20 (before each timed run, wait up to this many seconds for other processes to use
            less than OTHER_CPU_NOTE of the machine; 0: do not wait)
"""

import datetime
import http.client
import json
import os
import platform
import re
import resource
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

PERF = os.path.dirname(os.path.abspath(__file__))
APPS = os.path.join(PERF, "apps")
PYTHON = os.environ.get("PYTHON", "/usr/bin/python3")
KWSGI = os.environ.get("KWSGI", os.path.join(PERF, ".kwsgi", "kwsgi"))
# kwsgi-before: another build of kwsgi (an earlier commit, published elsewhere) in the same interleaved run
KWSGI_BEFORE = os.environ.get("KWSGI_BEFORE", "")
KESTREL_HELLO = os.environ.get("KESTREL_HELLO", os.path.join(PERF, ".kestrel-hello", "KestrelHello"))
DURATION = int(os.environ.get("DURATION", "10"))
REPEATS = int(os.environ.get("REPEATS", "3"))
WORKERS = int(os.environ.get("WORKERS", "2"))
THREADS = int(os.environ.get("THREADS", "4"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "64"))
WARMUP = int(os.environ.get("WARMUP", "2"))
SPREAD_FLAG = float(os.environ.get("SPREAD_FLAG", "0.15"))
QUIET = float(os.environ.get("QUIET", "20"))
EXTRAS = os.environ.get("EXTRAS", "1") != "0"
RESULTS_MD = os.environ.get("RESULTS", os.path.join(PERF, "RESULTS.md"))
STAMP = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
OUT = os.path.join(PERF, ".results", STAMP)
CLK_TCK = os.sysconf("SC_CLK_TCK")

ALL_WORKLOADS = ["hello", "flask", "django", "stream", "upload", "mixed", "static-1k", "static-1m", "fastapi", "starlette"]
ALL_SERVERS = ["kwsgi", "kwsgi-before", "kwsgi-shm", "kestrel-hello", "waitress", "gunicorn-sync", "gunicorn-gthread", "uwsgi", "uwsgi-http",
               "uwsgi-http-unix", "uwsgi-threads", "nginx", "uvicorn", "hypercorn"]
DEFAULT_SERVERS = ["kwsgi", "kestrel-hello", "waitress", "gunicorn-sync", "gunicorn-gthread", "uwsgi", "uwsgi-http",
                   "uwsgi-http-unix", "nginx"]
UWSGI_VARIANTS = ["uwsgi", "uwsgi-http", "uwsgi-http-unix", "uwsgi-threads"]
PROBE_EVERY = 0.5
PROBE_TIMEOUT = 3.0
OTHER_CPU_NOTE = 0.05
STARVED_SHARE = 0.25  # a server whose probes are stuck this often is leaving connections unserved
ASGI_SERVERS = ["uvicorn", "hypercorn"]  # ASGI only: they serve the ASGI workloads, kwsgi serves both kinds
WSGI_SERVERS = [s for s in ALL_SERVERS if s not in ("nginx", "kestrel-hello", *ASGI_SERVERS)]
STATIC_SERVERS = ["nginx", "kwsgi"]
LIMIT_SERVERS = {"kestrel-hello": "hello"}  # not a WSGI server: the limit row of one workload

HELLO = b"Hello, World!"
STREAM_BODY = (b"x" * 1023 + b"\n") * 64
UPLOAD_SIZE = 1 << 20
MIXED_FAST_CONNS = 58
MIXED_SLOW_CONNS = 6


def log(*args):
    print(time.strftime("%H:%M:%S"), *args, flush=True)


# --------------------------------------------------------------------------- processes

LIVE = {}  # pid -> Popen of every process we started and have not reaped yet


def spawn(argv, cwd=None, logfile=None, env=None):
    out = open(logfile, "ab") if logfile else subprocess.DEVNULL
    try:
        p = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True, env=env)
    finally:
        if logfile:
            out.close()
    LIVE[p.pid] = p
    return p


def read_stat(pid):
    """(state, ppid, utime+stime ticks) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(b")") + 2:].split()
    return rest[0].decode(), int(rest[1]), int(rest[11]) + int(rest[12])


def alive(pid):
    st = read_stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def process_tree(root):
    """root and all its live descendants."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = read_stat(name)
        if st is None or st[0] in ("Z", "X"):
            continue
        children.setdefault(st[1], []).append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid == root and not alive(root):
            continue
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class RssSampler(threading.Thread):
    """Peak of the summed VmRSS of a process tree, sampled every 100 ms."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.peak, self.seen = root, 0, set()
        self.first_ticks, self.last_ticks = {}, {}
        self.halt = threading.Event()

    def sample(self):
        tree = process_tree(self.root)
        self.seen.update(tree)
        self.peak = max(self.peak, sum(rss_kb(p) for p in tree))
        for p in tree:
            st = read_stat(p)
            if st:
                self.first_ticks.setdefault(p, st[2])
                self.last_ticks[p] = st[2]

    def run(self):
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(0.1)

    def stop(self):
        self.halt.set()
        self.join()
        self.sample()
        return self.peak

    def cpu_ticks(self):
        return sum(self.last_ticks[p] - self.first_ticks[p] for p in self.last_ticks)


def busy_ticks():
    """All CPUs' process time (user + nice + system, USER_HZ ticks) from /proc/stat. irq/softirq time
    (loopback TCP is largely softirq work, charged to no process) and steal are left out."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return v[0] + v[1] + v[2]


def steal_ticks():
    """All CPUs' steal time (USER_HZ ticks): time this VM's vCPUs were runnable but the host ran something else."""
    with open("/proc/stat") as f:
        v = f.readline().split()
    return int(v[8]) if len(v) > 8 else 0


def self_ticks():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return (ru.ru_utime + ru.ru_stime) * CLK_TCK


def loadavg():
    """The 1-minute load average (runnable + uninterruptible tasks, decaying mean)."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return None


def tcp_timewait():
    """Sockets in TIME_WAIT (from /proc/net/sockstat): every closed loopback connection leaves one for 60 s."""
    try:
        with open("/proc/net/sockstat") as f:
            for line in f:
                if line.startswith("TCP:"):
                    v = line.split()
                    return int(v[v.index("tw") + 1])
    except (OSError, ValueError):
        pass
    return None


def idle_other_cpu(seconds=1.0):
    """Share of the machine's CPU used by other processes over `seconds`, while no server or wrk of ours runs."""
    t0, b0, s0 = time.monotonic(), busy_ticks(), self_ticks()
    time.sleep(seconds)
    cap = (time.monotonic() - t0) * CLK_TCK * (os.cpu_count() or 1)
    return max(0.0, busy_ticks() - b0 - (self_ticks() - s0)) / cap


def wait_quiet():
    """Before a timed run: wait (at most QUIET s) until other processes use less than OTHER_CPU_NOTE of the
    machine for a second. Returns (seconds waited, the last idle sample)."""
    t0 = time.monotonic()
    other = idle_other_cpu(0.5)
    while other >= OTHER_CPU_NOTE and time.monotonic() - t0 < QUIET:
        other = idle_other_cpu(1.0)
    return time.monotonic() - t0, other


class Prober(threading.Thread):
    """Every PROBE_EVERY s during the timed run, one request on a fresh connection: shows whether
    the server serves every connection or leaves some waiting (wrk only reports requests that
    completed, so connections that are never served are invisible in its numbers)."""

    def __init__(self, port, path):
        super().__init__(daemon=True)
        self.port, self.path, self.times, self.starved = port, path, [], 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(PROBE_EVERY):
            t0 = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=PROBE_TIMEOUT) as s:
                    s.sendall(f"GET {self.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
                    if not s.recv(16).startswith(b"HTTP/1.1 200"):
                        raise OSError("not a 200")
                self.times.append(time.monotonic() - t0)
            except OSError:
                self.starved += 1

    def stop(self):
        self.halt.set()
        self.join()
        return dict(probes=len(self.times) + self.starved, starved=self.starved,
                    probe_max_ms=max(self.times) * 1000 if self.times else None,
                    probe_median_ms=statistics.median(self.times) * 1000 if self.times else None)


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_server(p, port=None, known=()):
    """SIGTERM, SIGKILL after 10 s; then no descendant may survive and the port must be closed."""
    tree = set(process_tree(p.pid)) | set(known)
    notes = []
    if p.poll() is None:
        try:
            os.kill(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            notes.append("did not stop within 10 s of SIGTERM: SIGKILL")
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.kill()
            p.wait()
    LIVE.pop(p.pid, None)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(x) for x in tree if x != p.pid):
        time.sleep(0.05)
    left = [x for x in tree if x != p.pid and alive(x)]
    if left:
        notes.append(f"{len(left)} descendant(s) outlived the server: SIGKILL")
        for x in left:
            try:
                os.kill(x, signal.SIGKILL)
            except OSError:
                pass
    try:
        os.killpg(p.pid, signal.SIGKILL)  # anything else left in its session's group
    except OSError:
        pass
    if port:
        deadline = time.monotonic() + 5
        while port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)
        if port_open(port):
            notes.append(f"port {port} still listening after stop")
    return notes


def kill_everything():
    for pid, p in list(LIVE.items()):
        try:
            os.killpg(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 10
    for pid, p in list(LIVE.items()):
        try:
            p.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        LIVE.pop(pid, None)


# --------------------------------------------------------------------------- HTTP helpers

def request(port, path="/", method="GET", body=None, timeout=10, framing=False):
    """(status, body); with framing=True, (status, body, problem) where problem says why a keep-alive
    client could not tell where the response ends (no Content-Length, not chunked, connection kept open)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers={"Content-Type": "application/octet-stream"} if body else {})
        r = c.getresponse()
        problem = None
        if (r.version == 11 and r.getheader("Content-Length") is None and r.chunked is False
                and "close" not in (r.getheader("Connection") or "").lower() and r.status not in (204, 304)):
            problem = ("response not framed: no Content-Length, not chunked, and no Connection: close "
                       "(a keep-alive client cannot find its end)")
        data = r.read()
        return (r.status, data, problem) if framing else (r.status, data)
    finally:
        c.close()


def wait_ready(p, port, path, method="GET", timeout=90):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if p.poll() is not None:
            return f"server exited with code {p.returncode} before answering"
        try:
            status, _ = request(port, path, method, body=b"" if method == "POST" else None, timeout=5)
            if status == 200:
                return None
            last = f"HTTP {status}"
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    return f"no 200 within {timeout} s ({last})"


def first_200(port, t0, p, timeout=60):
    """Tight poll: raw HTTP/1.0 GET until a 200; seconds since t0."""
    msg = b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n"
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(msg)
                head = s.recv(64)
                if head.startswith(b"HTTP/1.") and head[9:12] == b"200":
                    return time.monotonic() - t0
        except OSError:
            pass
        if p.poll() is not None:
            return None
        time.sleep(0.001)
    return None


# --------------------------------------------------------------------------- wrk

LUA_DONE = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKJSON {\"requests\":%d,\"duration_us\":%d,\"bytes\":%d,\"connect\":%d,\"read\":%d," ..
    "\"write\":%d,\"status\":%d,\"timeout\":%d,\"p50_us\":%d,\"p90_us\":%d,\"p99_us\":%d,\"max_us\":%d}\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def write_lua():
    d = os.path.join(OUT, "lua")
    os.makedirs(d, exist_ok=True)
    get = os.path.join(d, "get.lua")
    with open(get, "w") as f:
        f.write(LUA_DONE)
    post = os.path.join(d, "upload.lua")
    with open(post, "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = string.rep("u", {UPLOAD_SIZE})\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"\n' + LUA_DONE)
    return {"GET": get, "POST": post}


LUA = {}


def wrk_argv(url, duration, conns, method="GET"):
    return ["wrk", "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", LUA[method], url]


def wrk_start(url, duration, conns, method, logfile):
    return spawn(wrk_argv(url, duration, conns, method), logfile=logfile)


def wrk_result(p, logfile):
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    LIVE.pop(p.pid, None)
    with open(logfile) as f:
        text = f.read()
    for line in text.splitlines():
        if line.startswith("WRKJSON "):
            r = json.loads(line[8:])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]
            r["cpu_ticks"] = (ru.ru_utime + ru.ru_stime) * CLK_TCK
            if r["requests"] == 0:
                r["p50_us"] = r["p90_us"] = r["p99_us"] = None
            return r
    raise RuntimeError(f"wrk gave no summary (exit {p.returncode}): {text[-300:]!r}")


# --------------------------------------------------------------------------- workloads and servers

def ok_equals(expected):
    def check(status, body):
        if status != 200:
            return f"HTTP {status}"
        if body != expected:
            return f"wrong body ({len(body)} bytes: {body[:40]!r})"
        return None
    return check


def ok_contains(*needles):
    def check(status, body):
        if status != 200:
            return f"HTTP {status}"
        for n in needles:
            if n not in body:
                return f"body lacks {n!r} ({body[:60]!r})"
        return None
    return check


STATIC_FILES = {"static-1k": ("1k.bin", 1024), "static-1m": ("1m.bin", 1 << 20)}


def static_bytes(size):
    return bytes((i * 7 + 3) % 251 for i in range(251)) * (size // 251) + b"s" * (size % 251)


WORKLOADS = {
    "hello": dict(spec="hello:app", path="/", checks=[("GET", "/", None, ok_equals(HELLO))]),
    "flask": dict(spec="flask_app:app", path="/",
                  checks=[("GET", "/", None, ok_contains(b"<h1>Hello from Flask</h1>"))]),
    "django": dict(spec="djangoapp.wsgi:application", path="/",
                   checks=[("GET", "/", None, ok_contains(b"<h1>Hello from Django</h1>", b"<li>5. epsilon</li>"))]),
    "stream": dict(spec="stream:app", path="/", checks=[("GET", "/", None, ok_equals(STREAM_BODY))]),
    "upload": dict(spec="upload:app", path="/", method="POST",
                   checks=[("POST", "/", b"u" * UPLOAD_SIZE, ok_equals(str(UPLOAD_SIZE).encode()))]),
    "mixed": dict(spec="mixed:app", path="/",
                  checks=[("GET", "/", None, ok_equals(HELLO)), ("GET", "/slow", None, ok_equals(b"slow"))]),
    # ASGI: served by kwsgi (one event loop per worker), uvicorn and hypercorn
    "fastapi": dict(spec="fastapi_app:app", path="/", asgi=True,
                    checks=[("GET", "/", None, ok_equals(b'{"message":"Hello, World!"}'))]),
    "starlette": dict(spec="starlette_app:app", path="/", asgi=True, checks=[("GET", "/", None, ok_equals(HELLO))]),
}
for _name, (_file, _size) in STATIC_FILES.items():
    WORKLOADS[_name] = dict(spec=None, path=f"/static/{_file}", static=True,
                            checks=[("GET", f"/static/{_file}", None, ok_equals(static_bytes(_size)))])


def static_dir():
    d = os.path.join(OUT, "static")
    if not os.path.isdir(d):
        os.makedirs(d)
        for name, size in STATIC_FILES.values():
            with open(os.path.join(d, name), "wb") as f:
                f.write(static_bytes(size))
            os.chmod(os.path.join(d, name), 0o644)
        for x in (d, OUT, os.path.dirname(OUT)):
            os.chmod(x, 0o755)  # nginx workers run as nobody when started by root
    return d


def kwsgi_has_static():
    try:
        out = subprocess.run([KWSGI, "--help"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "--static" in out


def nginx_conf(port, run_dir):
    os.makedirs(run_dir, exist_ok=True)
    conf = os.path.join(run_dir, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""daemon off;
master_process on;
worker_processes {WORKERS};
pid {run_dir}/nginx.pid;
error_log {run_dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    client_body_temp_path {run_dir}/body;
    proxy_temp_path {run_dir}/proxy;
    fastcgi_temp_path {run_dir}/fastcgi;
    uwsgi_temp_path {run_dir}/uwsgi;
    scgi_temp_path {run_dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location /static/ {{ alias {static_dir()}/; }}
    }}
}}
""")
    return conf


def server_argv(server, workload, port, run_dir="RUN_DIR"):
    """(argv, cwd) to start `server` for `workload` on `port`."""
    w = WORKLOADS[workload]
    spec = w["spec"]
    if server == "kestrel-hello":
        return [KESTREL_HELLO, "--host", "127.0.0.1", "--port", str(port)], None
    if server == "nginx":
        conf = nginx_conf(port, run_dir) if run_dir != "RUN_DIR" else f"{run_dir}/nginx.conf"
        return ["/usr/sbin/nginx", "-p", run_dir, "-e", f"{run_dir}/error.log", "-c", conf], None
    if server in ("kwsgi", "kwsgi-shm", "kwsgi-before"):
        # kwsgi-shm: the shared-memory channel (KWSGI_CHANNEL=shm), to decide which transport is the default
        binary = KWSGI_BEFORE if server == "kwsgi-before" else KWSGI
        argv = (["env", "KWSGI_CHANNEL=shm"] if server == "kwsgi-shm" else []) + [binary, "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
                "--threads", str(THREADS), "--python", PYTHON, "--chdir", APPS]
        if w.get("static"):
            return argv + ["--static", f"/static={static_dir()}", "hello:app"], None
        return argv + [spec], None
    if server == "uvicorn":
        # httptools and uvloop from Debian, the fastest uvicorn there is; no access log, as kwsgi's default
        return [PYTHON, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
                "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning", spec], APPS
    if server == "hypercorn":
        return ["hypercorn", "--bind", f"127.0.0.1:{port}", "--workers", str(WORKERS), "--log-level", "warning",
                spec], APPS
    if server == "waitress":
        # one process: waitress cannot fork workers
        return ["waitress-serve", "--host=127.0.0.1", f"--port={port}", f"--threads={THREADS}", spec], APPS
    if server == "gunicorn-sync":
        return ["gunicorn", "-w", str(WORKERS), "-k", "sync", "-b", f"127.0.0.1:{port}",
                "--chdir", APPS, spec], None
    if server == "gunicorn-gthread":
        return ["gunicorn", "-w", str(WORKERS), "--threads", str(THREADS), "-k", "gthread",
                "-b", f"127.0.0.1:{port}", "--chdir", APPS, spec], None
    if server in ("uwsgi", "uwsgi-threads", "uwsgi-http", "uwsgi-http-unix"):
        if server.startswith("uwsgi-http"):  # uWSGI's own HTTP router process in front of the workers
            argv = ["uwsgi", "--plugin", "python3,http", "--http", f"127.0.0.1:{port}", "--http-keepalive",
                    "--http-auto-chunked"]
            if server == "uwsgi-http-unix":
                # router -> workers over a Unix socket instead of the loopback TCP socket --http creates by
                # itself (a new TCP connection per request): what a tuned deployment uses; ~35 % less CPU per request
                argv += ["--socket", f"{run_dir}/uwsgi.sock"]
        else:
            argv = ["uwsgi", "--plugin", "python3", "--http11-socket", f"127.0.0.1:{port}"]
        argv += ["--processes", str(WORKERS), "--master", "--chdir", APPS, "--module", spec,
                 "--need-app", "--disable-logging", "--die-on-term"]
        if server == "uwsgi-threads":
            argv += ["--threads", str(THREADS)]
        return argv, None
    raise ValueError(server)


def servers_for(workload, selected):
    if WORKLOADS[workload].get("static"):
        return [s for s in STATIC_SERVERS if s in selected]
    if WORKLOADS[workload].get("asgi"):
        return [s for s in selected if s in ASGI_SERVERS or s == "kwsgi"]  # shm refuses ASGI apps
    return [s for s in selected if s != "nginx" and s not in ASGI_SERVERS and LIMIT_SERVERS.get(s, workload) == workload]


# --------------------------------------------------------------------------- one measurement

def measure(server, workload, repeat, has_static):
    rec = dict(server=server, workload=workload, repeat=repeat, ok=False)
    w = WORKLOADS[workload]
    if w.get("static") and server == "kwsgi" and not has_static:
        rec["error"] = "not implemented yet"
        rec["skipped"] = True
        return rec
    if QUIET:
        rec["quiet_wait_s"], rec["idle_other_cpu"] = wait_quiet()
    port = free_port()
    tag = f"{workload}.{server}.r{repeat}"
    run_dir = os.path.join(OUT, "run", tag)
    os.makedirs(run_dir, exist_ok=True)
    argv, cwd = server_argv(server, workload, port, run_dir)
    rec["argv"] = argv
    slog = os.path.join(run_dir, "server.log")
    p = spawn(argv, cwd=cwd, logfile=slog)
    known = set()
    try:
        err = wait_ready(p, port, w["path"], w.get("method", "GET"))
        if err:
            rec["error"] = err
            return rec
        for method, path, body, check in w["checks"]:
            try:
                t0 = time.monotonic()
                status, got, err = request(port, path, method, body, framing=True)
                err = err or check(status, got)
                if not err and time.monotonic() - t0 > 2:
                    err = f"answer took {time.monotonic() - t0:.1f} s"
            except OSError as e:
                err = f"{type(e).__name__}: {e}"
            if err:
                rec["error"] = f"check {method} {path}: {err}"
                return rec
        url = f"http://127.0.0.1:{port}{w['path']}"
        method = w.get("method", "GET")
        mixed = workload == "mixed"
        slow_url = f"http://127.0.0.1:{port}/slow"
        # warm-up
        if mixed:
            ws = [wrk_start(url, WARMUP, MIXED_FAST_CONNS, method, os.path.join(run_dir, "warm.fast.txt")),
                  wrk_start(slow_url, WARMUP, MIXED_SLOW_CONNS, "GET", os.path.join(run_dir, "warm.slow.txt"))]
            for x in ws:
                x.wait()
                LIVE.pop(x.pid, None)
        else:
            x = wrk_start(url, WARMUP, CONNECTIONS, method, os.path.join(run_dir, "warm.txt"))
            x.wait()
            LIVE.pop(x.pid, None)
        if p.poll() is not None:
            rec["error"] = f"server exited (code {p.returncode}) during warm-up"
            return rec
        # timed run
        sampler = RssSampler(p.pid)
        sampler.start()
        prober = Prober(port, w["path"] if method == "GET" else "/")
        prober.start()
        rec["load1_start"], rec["timewait_start"] = loadavg(), tcp_timewait()
        t0, busy0, self0, steal0 = time.monotonic(), busy_ticks(), self_ticks(), steal_ticks()
        if mixed:
            ff, fs = os.path.join(run_dir, "wrk.fast.txt"), os.path.join(run_dir, "wrk.slow.txt")
            a = wrk_start(url, DURATION, MIXED_FAST_CONNS, method, ff)
            b = wrk_start(slow_url, DURATION, MIXED_SLOW_CONNS, "GET", fs)
            fast, slow = wrk_result(a, ff), wrk_result(b, fs)
            rec.update(rps=fast["rps"] + slow["rps"], p50_us=fast["p50_us"], p99_us=fast["p99_us"],
                       errors=fast["errors"] + slow["errors"], requests=fast["requests"] + slow["requests"],
                       fast_rps=fast["rps"], slow_rps=slow["rps"], slow_p50_us=slow["p50_us"],
                       slow_p99_us=slow["p99_us"], wrk=dict(fast=fast, slow=slow))
        else:
            wf = os.path.join(run_dir, "wrk.txt")
            r = wrk_result(wrk_start(url, DURATION, CONNECTIONS, method, wf), wf)
            rec.update(rps=r["rps"], p50_us=r["p50_us"], p99_us=r["p99_us"], errors=r["errors"],
                       requests=r["requests"], wrk=r)
        rec["load1_end"] = loadavg()
        rec["peak_rss_kb"] = sampler.stop()
        wrk_ticks = sum(x["cpu_ticks"] for x in (rec["wrk"].values() if mixed else [rec["wrk"]]))
        capacity = (time.monotonic() - t0) * CLK_TCK * (os.cpu_count() or 1)
        rec["server_cpu"] = sampler.cpu_ticks() / capacity
        rec["other_cpu"] = max(0.0, busy_ticks() - busy0 - sampler.cpu_ticks() - wrk_ticks
                               - (self_ticks() - self0)) / capacity
        rec["steal"] = (steal_ticks() - steal0) / capacity
        rec.update(prober.stop())
        # a fresh connection that waits far longer than wrk's p99 is a connection the server left unserved
        limit = max(0.5, 5 * (rec["p99_us"] or 0) / 1e6)
        rec["starved"] += sum(1 for t in prober.times if t > limit)
        if rec["requests"] == 0:
            rec["error"] = "no request completed in the timed run"
            return rec
        if mixed:
            for part in ("fast", "slow"):
                if rec["wrk"][part]["requests"] == 0:
                    rec["error"] = f"no {part}-path request completed in the timed run (connections left unserved)"
                    return rec
        known = sampler.seen
        rec["processes"] = len(known)
        if p.poll() is not None:
            rec["note"] = f"server exited (code {p.returncode}) during the run"
        rec["ok"] = True
        return rec
    except Exception as e:  # noqa: BLE001 - a failed run is a result, not a crash
        rec["error"] = f"{type(e).__name__}: {e}"
        return rec
    finally:
        notes = stop_server(p, port, known)
        if notes:
            rec["stop_notes"] = notes
            log(f"  {tag}: " + "; ".join(notes))


# --------------------------------------------------------------------------- extras

def kwsgi_argv(spec, port, workers, threads):
    return [KWSGI, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--threads", str(threads), "--python", PYTHON, "--chdir", APPS, spec]


def startup_times(servers, n=5):
    res = {s: [] for s in servers}
    for i in range(n):
        for s in servers:
            port = free_port()
            argv, cwd = server_argv(s, "flask", port)
            t0 = time.monotonic()
            p = spawn(argv, cwd=cwd, logfile=os.path.join(OUT, f"startup.{s}.log"))
            t = first_200(port, t0, p)
            stop_server(p, port)
            res[s].append(t)
            log(f"  start-up {s} #{i + 1}: " + (f"{t * 1000:.0f} ms" if t is not None else "FAILED"))
    return res


def kwsgi_workers(front):
    return [x for x in process_tree(front) if x != front and " worker " in cmdline(x)]


def worker_cost():
    """µs of worker (and front) CPU per hello request, --workers 1 --threads 1."""
    runs = []
    for i in range(REPEATS):
        port = free_port()
        p = spawn(kwsgi_argv("hello:app", port, 1, 1), logfile=os.path.join(OUT, "workercost.log"))
        try:
            err = wait_ready(p, port, "/")
            if err:
                runs.append(dict(error=err))
                continue
            x = wrk_start(f"http://127.0.0.1:{port}/", WARMUP, CONNECTIONS, "GET", os.path.join(OUT, "workercost.warm.txt"))
            x.wait()
            LIVE.pop(x.pid, None)
            workers = kwsgi_workers(p.pid)
            before = {w: read_stat(w)[2] for w in workers}
            front0 = read_stat(p.pid)[2]
            wf = os.path.join(OUT, f"workercost.wrk.{i}.txt")
            r = wrk_result(wrk_start(f"http://127.0.0.1:{port}/", DURATION, CONNECTIONS, "GET", wf), wf)
            after = {w: (read_stat(w) or (0, 0, None))[2] for w in workers}
            front1 = read_stat(p.pid)[2]
            if any(v is None for v in after.values()) or kwsgi_workers(p.pid) != workers:
                runs.append(dict(error="worker set changed during the run"))
                continue
            ticks = sum(after[w] - before[w] for w in workers)
            runs.append(dict(workers=len(workers), requests=r["requests"], rps=r["rps"], errors=r["errors"],
                             worker_us=ticks / CLK_TCK * 1e6 / max(1, r["requests"]),
                             front_us=(front1 - front0) / CLK_TCK * 1e6 / max(1, r["requests"])))
            log(f"  worker cost #{i + 1}: {runs[-1]['worker_us']:.1f} µs/req worker, "
                f"{runs[-1]['front_us']:.1f} µs/req front, {r['rps']:.0f} req/s, {len(workers)} worker(s)")
        finally:
            stop_server(p, port)
    return runs


def worker_footprint():
    """RSS of one idle kwsgi worker (hello app) before any request, and of the front."""
    runs = []
    for i in range(REPEATS):
        port = free_port()
        lf = os.path.join(OUT, f"footprint.{i}.log")
        p = spawn(kwsgi_argv("hello:app", port, 1, 1), logfile=lf)
        try:
            deadline = time.monotonic() + 60
            listening = False
            while time.monotonic() < deadline and p.poll() is None:
                with open(lf, errors="replace") as f:
                    if "Listening on" in f.read():
                        listening = True
                        break
                time.sleep(0.05)
            if not listening:
                runs.append(dict(error="no 'Listening on' line"))
                continue
            # settle: the worker has started; wait until its RSS stops moving (max 10 s)
            last, stable_since = -1, time.monotonic()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                ws = kwsgi_workers(p.pid)
                cur = sum(rss_kb(w) for w in ws)
                if ws and abs(cur - last) <= max(64, last // 200):
                    if time.monotonic() - stable_since >= 1.0:
                        break
                else:
                    stable_since = time.monotonic()
                last = cur
                time.sleep(0.1)
            ws = kwsgi_workers(p.pid)
            rec = dict(workers=len(ws), worker_kb=sum(rss_kb(w) for w in ws), front_kb=rss_kb(p.pid))
            status, body = request(port, "/")
            time.sleep(0.3)
            rec.update(after_first_worker_kb=sum(rss_kb(w) for w in kwsgi_workers(p.pid)),
                       first_status=status)
            runs.append(rec)
            log(f"  footprint #{i + 1}: worker {rec['worker_kb'] / 1024:.1f} MiB idle, "
                f"front {rec['front_kb'] / 1024:.1f} MiB")
        finally:
            stop_server(p, port)
    return runs


# --------------------------------------------------------------------------- report

def sh(argv):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e})"


def versions():
    mods = "waitress flask django gunicorn fastapi starlette uvicorn hypercorn uvloop httptools"
    code = ("import importlib.metadata as m, sys; print('python', sys.version.split()[0]); "
            f"[print(n, m.version(n)) for n in '{mods}'.split()]")
    v = dict(line.split(" ", 1) for line in sh([PYTHON, "-c", code]).splitlines() if " " in line)
    v["kwsgi"] = sh([KWSGI, "--version"]).splitlines()[0] if os.path.exists(KWSGI) else "missing"
    v["uwsgi"] = sh(["uwsgi", "--version"])
    v["nginx"] = sh(["/usr/sbin/nginx", "-v"]).replace("nginx version: ", "")
    v["wrk"] = sh(["wrk", "-v"]).splitlines()[0].split(" [")[0]
    v["dotnet"] = sh(["dotnet", "--version"])
    git = sh(["git", "-C", PERF, "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", PERF, "status", "--porcelain", "--", "../src"])
    v["kwsgi source"] = f"commit {git}" + (" + uncommitted changes in src/" if dirty else "")
    return v


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summarize(records):
    """(workload, server) -> medians over successful repeats."""
    out = {}
    for r in records:
        out.setdefault((r["workload"], r["server"]), []).append(r)
    summ = {}
    for key, rs in out.items():
        good = [r for r in rs if r["ok"]]
        s = dict(runs=len(rs), good=len(good), errors_total=sum(r.get("errors", 0) for r in good),
                 probes=sum(r.get("probes", 0) for r in good), starved=sum(r.get("starved", 0) for r in good),
                 other_cpu=max([r.get("other_cpu", 0) for r in good], default=0),
                 probe_max_ms=max([r["probe_max_ms"] for r in good if r.get("probe_max_ms") is not None],
                                  default=None),
                 requests_total=sum(r.get("requests", 0) for r in good),
                 failures=sorted({r.get("error", "?") for r in rs if not r["ok"]}),
                 skipped=all(r.get("skipped") for r in rs))
        for k in ("rps", "p50_us", "p99_us", "peak_rss_kb", "fast_rps", "slow_rps", "slow_p50_us", "slow_p99_us"):
            vals = [r.get(k) for r in good if r.get(k) is not None]
            s[k] = median_or_none(vals)
            s[k + "_min"], s[k + "_max"] = (min(vals), max(vals)) if vals else (None, None)
        s["by_repeat"] = {r["repeat"]: r for r in good}
        s["other_cpu_min"] = min([r.get("other_cpu", 0) for r in good], default=0)
        # spread of req/s over the repeats, as a share of the median
        s["spread"] = ((s["rps_max"] - s["rps_min"]) / s["rps"]) if s["rps"] and len(good) > 1 else None
        s["wide"] = s["spread"] is not None and s["spread"] > SPREAD_FLAG
        summ[key] = s
    return summ


def q(arg):
    return arg if re.fullmatch(r"[\w@%+=:,./$-]+", arg) else shlex.quote(arg)


def fms(us):
    if us is None:
        return "–"
    return f"{us / 1000:.2f} ms" if us < 100_000 else f"{us / 1000:.0f} ms"


def fms_bare(us):
    return f"{us / 1000:.2f}" if us < 100_000 else f"{us / 1000:.0f}"


def spread_of(st, key, fmt, unit=""):
    """'median (min–max)' for a summary key; the median alone when there was one good repeat."""
    m, lo, hi = st.get(key), st.get(key + "_min"), st.get(key + "_max")
    if m is None:
        return "–"
    if st["good"] < 2 or lo is None:
        return fmt(m) + unit
    return f"{fmt(m)}{unit} ({fmt(lo)}–{fmt(hi)})"


def s_rps(st):
    txt = spread_of(st, "rps", lambda x: f"{x:,.0f}")
    return txt + (" ⚠" if st.get("wide") else "")


def s_ms(st, key):
    return spread_of(st, key, fms_bare, " ms")


def s_mib(st):
    return spread_of(st, "peak_rss_kb", lambda kb: f"{kb / 1024:.0f}", " MiB")


def s_other(st):
    lo, hi = st.get("other_cpu_min", 0), st.get("other_cpu", 0)
    txt = f"{100 * hi:.0f} %" if st["good"] < 2 else f"{100 * lo:.0f}–{100 * hi:.0f} %"
    return f"**{txt}**" if hi > OTHER_CPU_NOTE else txt


def fmib(kb):
    return "–" if kb is None else f"{kb / 1024:.0f} MiB"


def frps(x):
    return "–" if x is None else f"{x:,.0f}"


def fx(x):
    return "n/a" if x is None else f"{x:.2f}×"


def unserved(s):
    """True when a large share of the fresh-connection probes got stuck: the server leaves connections unserved."""
    return bool(s and s["probes"] and s["starved"] / s["probes"] >= STARVED_SHARE)


def usable(summ, workload, server):
    s = summ.get((workload, server))
    if not s or not s["good"] or s["rps"] is None:
        return None
    return s


def ratio(summ, workload, a, b, key="rps"):
    sa, sb = usable(summ, workload, a), usable(summ, workload, b)
    if not sa or not sb or not sa.get(key) or not sb.get(key):
        return None
    return sa[key] / sb[key]


def ratio_range(summ, workload, a, b, key="rps"):
    """(min, max) over the repeats of a's value ÷ b's in the same repeat (the two ran minutes apart at most),
    or None with fewer than two repeats both completed."""
    sa, sb = usable(summ, workload, a), usable(summ, workload, b)
    if not sa or not sb:
        return None
    rs = [sa["by_repeat"][k][key] / sb["by_repeat"][k][key] for k in sa["by_repeat"]
          if k in sb["by_repeat"] and sa["by_repeat"][k].get(key) and sb["by_repeat"][k].get(key)]
    return (min(rs), max(rs)) if len(rs) > 1 else None


def fxr(summ, workload, a, b, key="rps"):
    """'ratio of the medians (per-repeat ratios min–max)'."""
    r = ratio(summ, workload, a, b, key)
    if r is None:
        return "n/a"
    rr = ratio_range(summ, workload, a, b, key)
    return fx(r) + (f" ({rr[0]:.2f}–{rr[1]:.2f})" if rr else "")


def error_share(s):
    return s["errors_total"] / s["requests_total"] if s and s["requests_total"] else 0.0


def report(records, extras, meta):
    summ = summarize(records)
    L = []
    add = L.append
    add("# kwsgi side-by-side benchmark — results\n")
    add(f"Generated by `perf/run.sh` on {meta['date']} (wall time {meta['wall_min']:.1f} min). "
        f"Raw data: `perf/.results/{STAMP}/` (not committed).\n")
    ok_runs = [r for r in records if r.get("ok")]
    others = [r["other_cpu"] for r in ok_runs if "other_cpu" in r]
    noisy_runs = [r for r in ok_runs if r.get("other_cpu", 0) > OTHER_CPU_NOTE]
    wide = sorted((wl, sv) for (wl, sv), st in summ.items() if st.get("wide"))
    waited = [r.get("quiet_wait_s", 0) for r in records]
    add(f"- **kwsgi source**: {meta['versions'].get('kwsgi source', '?')}; **date**: {meta['date']}")
    add(f"- **repeats**: {REPEATS}, interleaved (each repeat runs every server once per workload, the server order "
        f"rotating by one per repeat); {DURATION} s timed per run after a {WARMUP} s warm-up on a fresh server. "
        "Each cell is the median over the repeats with the (min–max) of the repeats next to it.")
    if others:
        add(f"- **load**: /proc/loadavg `{meta.get('loadavg_start', '?')}` at the start, "
            f"`{meta.get('loadavg_end', '?')}` at the end; during the timed runs, processes other than the server, "
            f"wrk and this script used {100 * statistics.median(others):.0f} % of the machine's CPU (median over "
            f"{len(others)} runs; max {100 * max(others):.0f} %); {len(noisy_runs)} run(s) above "
            f"{100 * OTHER_CPU_NOTE:.0f} %" + (f"; {sum(waited):.0f} s spent waiting for a quiet machine before "
                                              f"runs (QUIET={QUIET:g})" if QUIET else "") + ".")
    add(f"- **spread**: {len(wide)} of {len([1 for st in summ.values() if st['good']])} req/s medians have a "
        f"min–max spread wider than {100 * SPREAD_FLAG:.0f} % of the median (marked ⚠)"
        + (": " + ", ".join(f"{sv}/{wl}" for wl, sv in wide) if wide else "") + ".")
    trust = []
    if REPEATS < 3:
        trust.append(f"only {REPEATS} repeat(s)")
    if others and (max(others) > 2 * OTHER_CPU_NOTE or len(noisy_runs) > len(others) // 10):
        trust.append("other processes loaded the machine during some runs")
    if wide:
        trust.append("some medians spread wider than the threshold")
    add("- **verdict**: " + ("**not for quoting** — " + "; ".join(trust) + "." if trust else
                              "≥ 3 interleaved repeats, quiet machine, every spread within the threshold.") + "\n")
    add("## Machine and versions\n")
    add(f"- CPU: {cpu_model()}, nproc = {os.cpu_count()}; kernel {platform.release()}")
    add(f"- load generator: {meta['versions'].get('wrk')} on the same machine, loopback only "
        f"(it competes with the server for the {os.cpu_count()} CPUs; the same for every server)")
    for k, v in meta["versions"].items():
        if k != "wrk":
            add(f"- {k}: {v}")
    add("")
    add("## Settings\n")
    add(f"DURATION={DURATION} s per timed run (after a {WARMUP} s wrk warm-up on a fresh server), "
        f"REPEATS={REPEATS} (interleaved: each repeat runs every workload on every server in turn, "
        f"server order rotated per repeat), WORKERS={WORKERS}, THREADS={THREADS}, "
        f"{CONNECTIONS} connections, one wrk thread. Every number below is the **median** over the repeats; "
        f"`errors` is the **total** over the repeats (wrk socket errors — connect, read, write, timeout — plus "
        f"non-2xx/3xx responses). `peak RSS` is the peak of the summed VmRSS of the server's whole process tree "
        f"(main pid and all descendants), sampled every 100 ms during the timed run. Every server's response "
        f"body was checked once before each timed run.\n")
    add("waitress is one process with 4 threads: it cannot fork workers, so it has one GIL where the others have "
        f"{WORKERS}.\n")
    add(f"`new conn`: during every timed run a probe opens a fresh connection every {PROBE_EVERY} s and sends one "
        f"request; the column shows the slowest answer, or how many probes were *stuck*: no answer within "
        f"{PROBE_TIMEOUT:.0f} s, or a wait longer than max(0.5 s, 5 × the run's p99) (summed over the repeats). "
        f"In bold when at least {100 * STARVED_SHARE:.0f} % of the probes were stuck: the server leaves "
        "connections unserved. "
        "wrk only reports requests that completed, so a server that serves a few keep-alive connections and leaves "
        "the others waiting looks fast in wrk's numbers; this column exposes it.\n")
    add("uWSGI runs in several ways: `uwsgi` is `--http11-socket` (each worker process serves one keep-alive connection "
        f"until the client closes it: with {WORKERS} processes only {WORKERS} of the {CONNECTIONS} connections are "
        "served, the rest wait in the listen backlog — its latency numbers only cover the served connections; it also "
        "cannot frame a response without Content-Length, so the stream check fails), and `uwsgi-http` is uWSGI's own "
        "HTTP router process (`--http … --http-keepalive --http-auto-chunked`) in front of the same workers, which "
        "serves every connection — the same shape as kwsgi (a front process plus workers). `--http` alone makes the "
        "workers listen on a loopback TCP port and the router opens a new TCP connection to a worker for every "
        "request; `uwsgi-http-unix` adds `--socket RUN_DIR/uwsgi.sock`, so the router reaches the workers over a "
        "Unix socket, as a tuned deployment does (about 40 % less CPU per request on hello). The targets compare "
        "against the best uWSGI variant that served every connection.\n")
    if "kestrel-hello" in meta["servers"]:
        add("`kestrel-hello` (hello workload only) is not a WSGI server: it is Kestrel alone answering with the same "
            "13-byte response in C# (`perf/KestrelHello/`, the kwsgi front's runtime settings) — the limit for "
            "kwsgi, whose front is that Kestrel plus a hop to a Python worker and back.\n")
    if others:
        add(f"Background load: during the timed runs, processes other than the server, wrk and this script used "
            f"{100 * statistics.median(others):.0f} % of the machine's CPU (median over runs; max "
            f"{100 * max(others):.0f} %). The `other CPU` column shows its range over the repeats of each row (bold "
            f"above {100 * OTHER_CPU_NOTE:.0f} %); 'Every run' at the end lists it per run with the load average.\n")
    add("### Commands\n")
    add("```")
    add(" ".join(wrk_argv("http://127.0.0.1:$PORT/", DURATION, CONNECTIONS)).replace(LUA["GET"], "report.lua"))
    add(" ".join(wrk_argv("http://127.0.0.1:$PORT/", DURATION, CONNECTIONS, "POST")).replace(
        LUA["POST"], "upload.lua") + "   # upload: 1 MiB POST body")
    add("# mixed: both at once")
    add(" ".join(wrk_argv("http://127.0.0.1:$PORT/", DURATION, MIXED_FAST_CONNS)).replace(LUA["GET"], "report.lua"))
    add(" ".join(wrk_argv("http://127.0.0.1:$PORT/slow", DURATION, MIXED_SLOW_CONNS)).replace(LUA["GET"], "report.lua"))
    add("```\n")
    add("Servers (shown for the flask workload; the app spec changes per workload: `hello:app`, `flask_app:app`, "
        "`djangoapp.wsgi:application`, `stream:app`, `upload:app`, `mixed:app`; apps in `perf/apps/`):\n")
    add("```")
    for s in meta["servers"]:
        wl = "static-1k" if s == "nginx" else LIMIT_SERVERS.get(s, "flask")
        argv, cwd = server_argv(s, wl, "$PORT")
        line = " ".join(q(a) for a in argv).replace(PERF + "/", "perf/")
        add(f"(cd perf/apps && {line})" if cwd else line)
    add("```")
    if "kwsgi" in meta["servers"]:
        add(f"\nkwsgi static (when supported): `kwsgi … --static /static=DIR hello:app`; "
            f"supported by this build: {'yes' if meta['has_static'] else 'no'}.")
    if "nginx" in meta["servers"]:
        add("\nnginx.conf (generated into RUN_DIR):\n\n```nginx")
        with open(nginx_conf("$PORT", os.path.join(OUT, "nginx-example"))) as f:
            add(f.read().replace(OUT, "RUN_DIR").replace("RUN_DIR/nginx-example", "RUN_DIR").rstrip())
        add("```")
    add("")

    add("## Results per workload\n")
    titles = {
        "hello": "hello — raw WSGI, 13-byte body",
        "flask": "flask — one route, small HTML string",
        "django": "django — one view rendering a small template",
        "stream": "stream — generator of 64 × 1 KiB chunks (no Content-Length)",
        "upload": "upload — POST 1 MiB, app reads wsgi.input fully",
        "mixed": f"mixed — {MIXED_FAST_CONNS} connections on `/` (hello) + {MIXED_SLOW_CONNS} on `/slow` (50 ms sleep)",
        "static-1k": "static 1 KiB file",
        "static-1m": "static 1 MiB file",
        "fastapi": "fastapi — ASGI: FastAPI's JSON hello",
        "starlette": "starlette — ASGI: Starlette's plain-text hello, 13-byte body",
    }
    for wl in meta["workloads"]:
        servers = servers_for(wl, meta["servers"])
        if not servers:
            continue
        add(f"### {titles[wl]}\n")
        if wl == "mixed":
            add("| server | req/s (total) | fast p50 | fast p99 | slow p99 | slow req/s | errors | peak RSS | new conn "
                "| other CPU |")
            add("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        else:
            add("| server | req/s | p50 | p99 | errors | peak RSS | new conn | other CPU |")
            add("|---|---:|---:|---:|---:|---:|---:|---:|")
        for s in servers:
            st = summ.get((wl, s))
            if st is None:
                continue
            if st["skipped"]:
                cols = 9 if wl == "mixed" else 7
                add(f"| {s} | not implemented yet |" + " |" * (cols - 1))
                continue
            if not st["good"]:
                cols = 9 if wl == "mixed" else 7
                add(f"| {s} | FAILED: {'; '.join(st['failures'])[:200]} |" + " |" * (cols - 1))
                continue
            errs = f"{st['errors_total']:,}"
            if st["errors_total"]:
                errs += f" ({100 * error_share(st):.2g}%)"
            if st["good"] < st["runs"]:
                errs += f"; {st['runs'] - st['good']} run(s) failed: {'; '.join(st['failures'])[:120]}"
            if st["starved"]:
                probe = f"{st['starved']}/{st['probes']} stuck"
                if unserved(st):
                    probe = f"**{probe}**"
            else:
                probe = "–" if st["probe_max_ms"] is None else f"max {st['probe_max_ms']:.0f} ms"
            if wl == "mixed":
                add(f"| {s} | {s_rps(st)} | {s_ms(st, 'p50_us')} | {s_ms(st, 'p99_us')} | "
                    f"{s_ms(st, 'slow_p99_us')} | {spread_of(st, 'slow_rps', lambda x: f'{x:,.0f}')} | {errs} | "
                    f"{s_mib(st)} | {probe} | {s_other(st)} |")
            else:
                add(f"| {s} | {s_rps(st)} | {s_ms(st, 'p50_us')} | {s_ms(st, 'p99_us')} | {errs} | "
                    f"{s_mib(st)} | {probe} | {s_other(st)} |")
        noisy = [(s, summ[(wl, s)]["other_cpu"]) for s in servers
                 if (wl, s) in summ and summ[(wl, s)]["other_cpu"] > OTHER_CPU_NOTE]
        if noisy:
            add("\nOther processes on the machine (not the server, not wrk, not this script) used up to "
                + ", ".join(f"{100 * c:.0f} % ({s})" for s, c in noisy) + " of the machine's CPU during these runs.")
        add("")

    # ratios
    add("## Ratios (kwsgi ÷ peer, requests/s medians)\n")
    add("Each cell: the ratio of the two medians, then (min–max) of the per-repeat ratios — kwsgi's req/s in repeat "
        "*i* ÷ the peer's in repeat *i*, which ran in the same pass over the servers.\n")
    peers = [("kestrel-hello", "bare Kestrel"), ("uwsgi", "uWSGI http11-socket"), ("uwsgi-http", "uWSGI http router"),
             ("uwsgi-http-unix", "uWSGI router, Unix socket"), ("uwsgi-threads", "uWSGI threads"),
             ("waitress", "waitress"),
             ("gunicorn-sync", "gunicorn sync"), ("gunicorn-gthread", "gunicorn gthread"), ("nginx", "nginx"),
             ("kwsgi-before", "kwsgi before"), ("uvicorn", "uvicorn"), ("hypercorn", "hypercorn")]
    peers = [(k, n) for k, n in peers if k in meta["servers"]]
    add("| workload | " + " | ".join(f"kwsgi / {n}" for _, n in peers) + " |")
    add("|---|" + "---:|" * len(peers))
    for wl in meta["workloads"]:
        cells = []
        for k, _ in peers:
            if (k == "nginx" and not WORKLOADS[wl].get("static")) or LIMIT_SERVERS.get(k, wl) != wl:
                cells.append("")
            elif k not in servers_for(wl, meta["servers"]):
                cells.append("")  # an ASGI server on a WSGI workload, or the other way round
            elif WORKLOADS[wl].get("static") and k != "nginx":
                cells.append("")
            elif WORKLOADS[wl].get("static") and not meta["has_static"]:
                cells.append("not implemented yet")
            else:
                pst = usable(summ, wl, k)
                mark = " †" if unserved(pst) else ""
                cells.append(fxr(summ, wl, "kwsgi", k) + mark)
        add(f"| {wl} | " + " | ".join(cells) + " |")
    add("")
    add("† the peer left connections unserved in that workload (see `new conn`): its req/s and latencies come from "
        "the few connections it served, so the ratio is not a like-for-like comparison. n/a: a run failed its check "
        "or was not run.\n")

    add("## Targets\n")
    add("| workload | target | measured | met? |")
    add("|---|---|---|---|")
    for row in targets(summ, extras, meta):
        add("| " + " | ".join(row) + " |")
    add("")
    add("A target that involves a server or workload not run shows `not measured`; a run with errors above 0.1 % "
        "of its requests does not meet its target.\n")

    # extras
    analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ANALYSIS.md")
    if os.path.exists(analysis):
        # Where a target is missed, why: written by hand from profiles, kept next to the numbers.
        with open(analysis, encoding="utf-8") as f:
            add(f.read().rstrip() + "\n")
    if any(extras.get(k) for k in ("startup", "worker_cost", "footprint")):
        add("## Start-up, worker cost, worker footprint\n")
    else:
        add("## Start-up, worker cost, worker footprint\n\nNot measured in this run (EXTRAS=0, or kwsgi not among "
            "the servers).\n")
    su = extras.get("startup")
    if su:
        add("**Start-up** — launch to first 200 for the Flask app (`flask_app:app`), polled with a tight loop of raw "
            "HTTP/1.0 GETs (1 ms between refused connections), median of 5, runs interleaved:\n")
        add("| server | median | all runs |")
        add("|---|---:|---|")
        for s, ts in su.items():
            m = median_or_none(ts)
            add(f"| {s} | {'FAILED' if m is None else f'{m * 1000:.0f} ms'} | "
                + ", ".join("failed" if t is None else f"{t * 1000:.0f}" for t in ts) + " ms |")
        add("")
    wc = extras.get("worker_cost")
    if wc:
        good = [r for r in wc if "worker_us" in r]
        add("**Worker cost** — kwsgi `--workers 1 --threads 1`, hello app, same wrk run "
            f"(-c{CONNECTIONS}, {DURATION} s after a {WARMUP} s warm-up): user+sys CPU of the worker process(es) "
            "(children of the front whose command line contains ` worker `, from /proc/PID/stat) ÷ requests served. "
            "The front's CPU per request is shown for context.\n")
        if good:
            add(f"- worker: **{statistics.median(r['worker_us'] for r in good):.1f} µs/request** (median of {len(good)}: "
                + ", ".join(f"{r['worker_us']:.1f}" for r in good) + ")")
            add(f"- front (Kestrel process): {statistics.median(r['front_us'] for r in good):.1f} µs/request")
            add(f"- throughput with 1 worker × 1 thread: {statistics.median(r['rps'] for r in good):,.0f} req/s, "
                f"errors {sum(r['errors'] for r in good)}")
        for r in wc:
            if "error" in r:
                add(f"- failed run: {r['error']}")
        add("")
    fp = extras.get("footprint")
    if fp:
        good = [r for r in fp if "worker_kb" in r]
        add("**Worker footprint** — kwsgi `--workers 1 --threads 1` serving `hello:app`, measured after "
            "`Listening on` once the worker's RSS stopped moving, before any request:\n")
        if good:
            add(f"- one idle worker: **{statistics.median(r['worker_kb'] for r in good) / 1024:.1f} MiB** RSS "
                f"(after its first request: {statistics.median(r['after_first_worker_kb'] for r in good) / 1024:.1f} MiB)")
            add(f"- the front: {statistics.median(r['front_kb'] for r in good) / 1024:.1f} MiB RSS")
        for r in fp:
            if "error" in r:
                add(f"- failed run: {r['error']}")
        add("")
    add("## Every run\n")
    add("In the order they ran. `other CPU`: the machine's CPU used by processes other than the server, wrk and "
        "this script during the timed run; `steal`: time the VM's CPUs were taken by the host (in /proc/stat, not in "
        "`other CPU`); `load1`: /proc/loadavg's 1-minute average at the start → end of the timed run; `TIME_WAIT`: "
        "TCP sockets in TIME_WAIT at its start (closed loopback connections of earlier runs); `waited`: seconds spent "
        "before the run waiting for other processes to quiet down.\n")
    add("| # | repeat | workload | server | req/s | p99 | other CPU | steal | load1 | TIME_WAIT | waited |")
    add("|---:|---:|---|---|---:|---:|---:|---:|---|---:|---:|")
    for i, r in enumerate(records, 1):
        if r.get("skipped"):
            continue
        la, lb = r.get("load1_start"), r.get("load1_end")
        load = "–" if la is None else f"{la:.2f} → {lb:.2f}"
        res = f"{r['rps']:,.0f}" if r.get("ok") else "failed"
        oc = r.get("other_cpu")
        st = r.get("steal")
        add(f"| {i} | {r['repeat']} | {r['workload']} | {r['server']} | {res} | {fms(r.get('p99_us'))} | "
            + ("–" if oc is None else f"{100 * oc:.0f} %") + " | " + ("–" if st is None else f"{100 * st:.0f} %")
            + f" | {load} | {r.get('timewait_start', '–')} | {r.get('quiet_wait_s', 0):.0f} |")
    add("")
    add("## Method notes\n")
    add(f"- **mixed**: wrk cannot split latency per path, so two wrk processes run at the same time against the "
        f"same server: {MIXED_FAST_CONNS} connections on the fast path `/` and {MIXED_SLOW_CONNS} on `/slow` "
        f"(sleeps 50 ms). 'fast p50/p99' come from the first, req/s is the sum of both. The slow share of the "
        f"traffic is set by the connection split ({MIXED_SLOW_CONNS} of {MIXED_FAST_CONNS + MIXED_SLOW_CONNS} "
        "connections, about 1 in 10) — each of those connections has at most one 50 ms request in flight, so "
        "by request count the slow share is smaller than 1 in 10 on a fast server; what matters is that slow "
        "requests are always in flight and the fast ones must not queue behind them.")
    add("- gunicorn sync does not keep connections alive: wrk reconnects for every request (that is how it is "
        "deployed behind a proxy).")
    add("- `errors` that are 0 do not prove every connection was served: see the `new conn` column.")
    add("- The Django app has `CommonMiddleware` only (it sets Content-Length), no database, no sessions.")
    add("- Each server is started fresh for every (workload, repeat) and stopped with SIGTERM (SIGKILL after 10 s); "
        "the script checks that no process of its tree survives and that the port is closed.")
    stops = [r for r in records if r.get("stop_notes")]
    if stops:
        add("- stop problems seen: " + "; ".join(
            f"{r['server']}/{r['workload']}: {', '.join(r['stop_notes'])}" for r in stops[:20]))
    add("")
    # perf/h2.sh and perf/ws_bench.py write sections of their own; a rewrite by this script keeps them.
    if os.path.exists(RESULTS_MD):
        with open(RESULTS_MD) as f:
            previous = f.read()
        for title in (r"HTTP/2 and TLS \(perf/h2\.sh\)", r"WebSockets \(perf/ws_bench\.py\)"):
            kept = re.search(r"^## " + title + r"\n.*?(?=^## |\Z)", previous, re.S | re.M)
            if kept:
                L.append(kept.group(0).rstrip("\n") + "\n")
    with open(RESULTS_MD, "w") as f:
        f.write("\n".join(L))
    return summ


def uwsgi_ref(summ, wl, key="rps"):
    """The uWSGI reference for a target: the best (highest req/s) uWSGI variant that served every
    connection (no starved probe) and passed its checks. (name, summary, note) or (None, None, note)."""
    runs = [(v, usable(summ, wl, v)) for v in UWSGI_VARIANTS]
    runs = [(v, s) for v, s in runs if s]
    valid = [(v, s) for v, s in runs if not unserved(s)]
    if valid:
        v, s = max(valid, key=lambda x: x[1]["rps"])
        note = "" if len(valid) == len(runs) else \
            " (" + ", ".join(f"{x} left connections unserved" for x, y in runs if unserved(y)) + ")"
        return v, s, note
    if runs:
        v, s = max(runs, key=lambda x: x[1]["rps"])
        return v, s, f" ({v} left connections unserved: no valid uWSGI reference)"
    return None, None, ""


def targets(summ, extras, meta):
    """The current performance targets (hello, Flask, Django, upload, mixed, CPU per request), and the earlier
    ones otherwise (stream, static, memory, start-up). A ratio target is met when the ratio of the medians
    meets it; 'borderline' when the median meets it but not every repeat's own ratio does."""
    rows = []

    def nm():
        return "not measured"

    def err_ok(wl, server="kwsgi"):
        s = usable(summ, wl, server)
        return s is not None and error_share(s) <= 0.001

    def judge(r, rr, bar, wls, higher=True):
        """r: ratio of medians; rr: (min, max) of per-repeat ratios or None."""
        if r is None:
            return None
        ok = r >= bar if higher else r <= bar
        if not ok:
            return "no"
        if not all(err_ok(w) for w in wls):
            return "no (errors)"
        if rr and not (rr[0] >= bar if higher else rr[1] <= bar):
            return "borderline (the median meets it, not every repeat)"
        return "yes"

    def vs(wl, peer, bar, higher=True, key="rps"):
        """(verdict or None, text) of kwsgi ÷ peer against bar."""
        r, rr = ratio(summ, wl, "kwsgi", peer, key), ratio_range(summ, wl, "kwsgi", peer, key)
        if r is None:
            return None, f"n/a {peer}"
        return judge(r, rr, bar, [wl], higher), fxr(summ, wl, "kwsgi", peer, key) + f" {peer}"

    def vs_uwsgi(wl, bar):
        v, u, note = uwsgi_ref(summ, wl)
        if not v:
            return None, "n/a uWSGI"
        j, txt = vs(wl, v, bar)
        return j, txt + note

    def combine(verdicts):
        if not verdicts or any(v is None for v in verdicts):
            return nm() if all(v is None for v in verdicts) else "partly measured: " + combine(
                [v for v in verdicts if v is not None])
        for worst in ("no (errors)", "no"):
            if worst in verdicts:
                return worst
        return "yes" if all(v == "yes" for v in verdicts) else "borderline (the median meets it, not every repeat)"

    # hello: ≥ 2.0× uWSGI router, ≥ 0.5× bare Kestrel, p99 no worse than the router's, every connection served
    k = usable(summ, "hello", "kwsgi")
    ju, tu = vs_uwsgi("hello", 2.0)
    jk, tk = vs("hello", "kestrel-hello", 0.5)
    v, u, _ = uwsgi_ref(summ, "hello")
    parts, verdicts = [tu, tk], [ju, jk]
    if k and u:
        p99_ok = k["p99_us"] <= u["p99_us"] and not unserved(k)
        parts.append(f"p99 {s_ms(k, 'p99_us')} vs {s_ms(u, 'p99_us')} {v}; "
                     + ("all connections served" if not k["starved"] else f"{k['starved']}/{k['probes']} probes stuck"))
        verdicts.append("yes" if p99_ok else "no")
    rows.append(["hello", "≥ 2.0× uWSGI router and ≥ 0.5× bare Kestrel requests/s, p99 no worse than the uWSGI "
                 "router's, every connection served", "; ".join(parts), combine(verdicts)])
    # flask
    ju, tu = vs_uwsgi("flask", 1.5)
    jw, tw = vs("flask", "waitress", 4.0)
    rows.append(["Flask", "≥ 1.5× uWSGI, ≥ 4× waitress", f"{tu}; {tw}", combine([ju, jw])])
    for wl, bar in (("django", 1.3), ("upload", 1.2), ("stream", 1.2)):
        j, t = vs_uwsgi(wl, bar)
        rows.append([wl.capitalize() if wl == "django" else wl, f"≥ {bar}× uWSGI", t, combine([j])])
    # ASGI: FastAPI's and Starlette's hello against uvicorn (httptools, uvloop) and hypercorn, same worker count
    for wl, name in (("fastapi", "FastAPI JSON hello"), ("starlette", "Starlette hello")):
        ju, tu = vs(wl, "uvicorn", 1.0)
        jh, th = vs(wl, "hypercorn", 3.0)
        rows.append([name, "≥ 1.0× uvicorn, ≥ 3× hypercorn (ASGI)", f"{tu}; {th}", combine([ju, jh])])
    # mixed
    r = ratio(summ, "mixed", "kwsgi", "gunicorn-sync", "p99_us")
    k, g = usable(summ, "mixed", "kwsgi"), usable(summ, "mixed", "gunicorn-sync")
    j = judge(r, ratio_range(summ, "mixed", "kwsgi", "gunicorn-sync", "p99_us"), 0.5, ["mixed"], higher=False)
    rows.append(["mixed", "p99 of fast requests ≤ 0.5× gunicorn sync's",
                 nm() if r is None else f"{fxr(summ, 'mixed', 'kwsgi', 'gunicorn-sync', 'p99_us')} "
                                        f"({s_ms(k, 'p99_us')} vs {s_ms(g, 'p99_us')})", combine([j])])
    # static
    if not meta["has_static"] and any(WORKLOADS[w].get("static") for w in meta["workloads"]):
        rows.append(["static 1 KiB / 1 MiB", "≥ 0.8× nginx requests/s", "not implemented yet (no `--static`)", "no"])
    else:
        j1, t1 = vs("static-1k", "nginx", 0.8)
        j2, t2 = vs("static-1m", "nginx", 0.8)
        rows.append(["static 1 KiB / 1 MiB", "≥ 0.8× nginx requests/s", f"1 KiB: {t1}; 1 MiB: {t2}", combine([j1, j2])])
    # memory
    v, u, _ = uwsgi_ref(summ, "flask")
    k = usable(summ, "flask", "kwsgi")
    r = k["peak_rss_kb"] / u["peak_rss_kb"] if k and u and u["peak_rss_kb"] else None
    rows.append(["memory", "whole-server RSS ≤ 1.5× uWSGI's for the Flask workload",
                 nm() if r is None else f"{fx(r)} ({s_mib(k)} vs {s_mib(u)} {v})",
                 nm() if r is None else ("yes" if r <= 1.5 else "no")])
    # start-up
    su = extras.get("startup") or {}
    mk, mw = median_or_none(su.get("kwsgi", [])), median_or_none(su.get("waitress", []))
    if mk is None or mw is None:
        rows.append(["start-up", "launch to first 200 ≤ 1.5× waitress's for the Flask app", nm(), nm()])
    else:
        rows.append(["start-up", "launch to first 200 ≤ 1.5× waitress's for the Flask app",
                     f"{fx(mk / mw)} ({mk * 1000:.0f} ms vs {mw * 1000:.0f} ms)", "yes" if mk / mw <= 1.5 else "no"])
    # CPU per request
    good = [r for r in (extras.get("worker_cost") or []) if "worker_us" in r]
    what = "CPU per hello request (1 worker, 1 thread, wrk -c64): worker ≤ 5 µs, front ≤ 20 µs"
    if not good:
        rows.append(["CPU per request", what, nm(), nm()])
    else:
        w = [r["worker_us"] for r in good]
        f = [r["front_us"] for r in good]
        mw_, mf = statistics.median(w), statistics.median(f)
        rng = (lambda xs: f" ({min(xs):.1f}–{max(xs):.1f})" if len(xs) > 1 else "")
        rows.append(["CPU per request", what, f"worker {mw_:.1f} µs{rng(w)}, front {mf:.1f} µs{rng(f)}",
                     "yes" if mw_ <= 5 and mf <= 20 else "no"])
    rows.append(["idle", "no traffic: whole tree (4 workers) < 1 % of a core; first request after 10 s idle < 2 ms",
                 "not measured by run.sh", nm()])
    return rows


# --------------------------------------------------------------------------- main

def pick(env, default, allowed, expand=None):
    raw = os.environ.get(env, "").split() or default
    out = []
    for x in raw:
        for y in (expand or {}).get(x, [x]):
            if y not in allowed:
                sys.exit(f"{env}: unknown {y!r}; choose from {' '.join(allowed)}")
            if y not in out:
                out.append(y)
    return out


def main():
    if os.environ.get("REPORT_FROM"):
        # rewrite RESULTS.md from a finished run's results.json (no measurement)
        global OUT, STAMP  # noqa: PLW0603
        OUT = os.path.dirname(os.path.abspath(os.environ["REPORT_FROM"]))
        STAMP = os.path.basename(OUT)
        with open(os.environ["REPORT_FROM"]) as f:
            data = json.load(f)
        LUA.update({"GET": os.path.join(OUT, "lua", "get.lua"), "POST": os.path.join(OUT, "lua", "upload.lua")})
        globals().update(data["meta"].get("settings", {}))
        report(data["records"], data["extras"], data["meta"])
        log(f"wrote {RESULTS_MD} from {os.environ['REPORT_FROM']}")
        return
    t_start = time.monotonic()
    workloads = pick("WORKLOADS", ["hello", "flask", "django", "stream", "upload", "mixed", "static"],
                     ALL_WORKLOADS, {"static": ["static-1k", "static-1m"], "all": ALL_WORKLOADS})
    servers = pick("SERVERS", DEFAULT_SERVERS, ALL_SERVERS, {"all": ALL_SERVERS, "gunicorn": ["gunicorn-sync", "gunicorn-gthread"]})
    servers = [s for s in ALL_SERVERS if s in servers]
    for tool in ["wrk"]:
        if subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).returncode:
            sys.exit(f"{tool} is not installed")
    if "kestrel-hello" in servers and "hello" in workloads and not os.access(KESTREL_HELLO, os.X_OK):
        sys.exit(f"{KESTREL_HELLO} not found: build it with perf/run.sh (or dotnet publish perf/KestrelHello -c Release "
                 "-o perf/.kestrel-hello)")
    if "kwsgi" in servers and not os.access(KWSGI, os.X_OK):
        sys.exit(f"{KWSGI} not found: build it with perf/run.sh (or dotnet publish src/Kestrel.Wsgi.Cli -c Release -o perf/.kwsgi)")
    os.makedirs(OUT, exist_ok=True)
    LUA.update(write_lua())
    has_static = "kwsgi" in servers and kwsgi_has_static()
    if any(WORKLOADS[w].get("static") for w in workloads):
        static_dir()
    plan = [(wl, s) for wl in workloads for s in servers_for(wl, servers)]
    timed = [(wl, s) for wl, s in plan if not (WORKLOADS[wl].get("static") and s == "kwsgi" and not has_static)]
    est = len(timed) * REPEATS * (DURATION + WARMUP + 2.5) / 60
    log(f"kwsgi benchmark: {len(timed)} (workload, server) pairs × {REPEATS} repeats, "
        f"{DURATION} s each; about {est:.0f} min plus extras. Output: {OUT}")
    with open("/proc/loadavg") as f:
        load_start = " ".join(f.read().split()[:3])
    log(f"load average at the start: {load_start} on {os.cpu_count()} CPUs"
        + ("  -- the machine is busy: numbers will not hold up" if float(load_start.split()[0]) > 0.5 * (os.cpu_count() or 1) else ""))
    if REPEATS < 3:
        log(f"REPEATS={REPEATS}: fewer than 3 repeats, RESULTS.md will say it is not for quoting")
    meta = dict(workloads=workloads, servers=servers, has_static=has_static,
                settings=dict(DURATION=DURATION, REPEATS=REPEATS, WORKERS=WORKERS, THREADS=THREADS,
                              CONNECTIONS=CONNECTIONS, WARMUP=WARMUP, QUIET=QUIET, SPREAD_FLAG=SPREAD_FLAG),
                date=datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), loadavg_start=load_start,
                versions=versions())
    records, extras = [], {}
    raw = os.path.join(OUT, "results.json")
    for rep in range(REPEATS):
        for wl in workloads:
            order = servers_for(wl, servers)
            if order:
                k = rep % len(order)
                order = order[k:] + order[:k]
            for s in order:
                rec = measure(s, wl, rep + 1, has_static)
                records.append(rec)
                if rec["ok"]:
                    extra = f" slow p99 {fms(rec['slow_p99_us'])}" if wl == "mixed" else ""
                    log(f"[{rep + 1}/{REPEATS}] {wl:9} {s:16} {rec['rps']:>10,.0f} req/s  p50 {fms(rec['p50_us'])}  "
                        f"p99 {fms(rec['p99_us'])}{extra}  errors {rec['errors']}  peak RSS {fmib(rec['peak_rss_kb'])}  "
                        f"other CPU {100 * rec['other_cpu']:.0f} %  steal {100 * rec['steal']:.0f} %  "
                        f"load1 {rec['load1_start']:.2f}  TIME_WAIT {rec['timewait_start']}"
                        + (f"  (waited {rec['quiet_wait_s']:.0f} s for quiet)" if rec.get("quiet_wait_s", 0) >= 1 else "")
                        + ("  << busy machine" if rec["other_cpu"] > OTHER_CPU_NOTE else ""))
                else:
                    log(f"[{rep + 1}/{REPEATS}] {wl:9} {s:16} {rec.get('error')}")
                with open(raw, "w") as f:
                    json.dump(dict(records=records, extras=extras), f, indent=1)
    if EXTRAS and "kwsgi" in servers:
        su = [s for s in ("kwsgi", "waitress") if s in servers]
        log("start-up (flask, launch to first 200): " + ", ".join(su))
        extras["startup"] = startup_times(su)
        log("worker cost (kwsgi --workers 1 --threads 1, hello)")
        extras["worker_cost"] = worker_cost()
        log("worker footprint (kwsgi, one idle worker)")
        extras["footprint"] = worker_footprint()
    with open(raw, "w") as f:
        json.dump(dict(records=records, extras=extras), f, indent=1)
    meta["wall_min"] = (time.monotonic() - t_start) / 60
    with open("/proc/loadavg") as f:
        meta["loadavg_end"] = " ".join(f.read().split()[:3])
    with open(raw, "w") as f:
        json.dump(dict(records=records, extras=extras, meta=meta), f, indent=1)
    report(records, extras, meta)
    log(f"wrote {RESULTS_MD} ({meta['wall_min']:.1f} min)")


def on_signal(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        main()
    except KeyboardInterrupt as e:
        print(f"interrupted ({e}); stopping servers", file=sys.stderr)
        sys.exit(130)
    finally:
        kill_everything()

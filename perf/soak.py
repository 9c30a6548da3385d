"""kwsgi soak test: mixed load against one kwsgi with worker recycling on, for a fixed time.

Started by soak.sh. Every request is checked (status and body); every SAMPLE seconds the front's and
the workers' resident memory is recorded. Exits 1 if any request failed or the front's memory grew
by more than a fifth between the first and the last third of the run (after the warm-up).
Traffic goes to 127.0.0.1 only; the loop is bounded by DURATION.
"""
import http.client
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

from bench import free_port, rss_kb  # the side-by-side harness's helpers (perf/bench.py)

DURATION = float(os.environ.get("DURATION", "600"))
SAMPLE = float(os.environ.get("SAMPLE", "10"))
CLIENTS = int(os.environ.get("CLIENTS", "8"))
WORKERS = os.environ.get("WORKERS", "2")
THREADS = os.environ.get("THREADS", "4")
MAX_REQUESTS = os.environ.get("MAX_REQUESTS", "200")
JITTER = os.environ.get("JITTER", "50")
KWSGI = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))

UPLOAD = os.urandom(100 * 1024)
# (weight, method, path, body, check)
MIX = [
    (60, "GET", "/hello", None, lambda b: b == b"Hello, World!"),
    (15, "GET", "/slow", None, lambda b: b == b"slow"),
    (15, "GET", "/stream", None, lambda b: len(b) == 64 * 1024),
    (10, "POST", "/upload", UPLOAD, lambda b: b == str(len(UPLOAD)).encode()),
]
WEIGHTS = [m[0] for m in MIX]


def workers_of(front):
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                if int(stat[stat.rindex(")") + 2:].split()[1]) == front:
                    pids.append(int(entry))
            except (OSError, ValueError):
                pass
    return pids


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.failures = []

    def add(self, ok, what=None):
        with self.lock:
            if ok:
                self.ok += 1
            else:
                self.failed += 1
                if len(self.failures) < 20:
                    self.failures.append(what)


def client(port, deadline, counters):
    conn = None
    rng = random.Random()
    while time.monotonic() < deadline:
        _, method, path, body, check = rng.choices(MIX, WEIGHTS)[0]
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, body=body)
            response = conn.getresponse()
            data = response.read()
            good = response.status == 200 and check(data)
            counters.add(good, f"{method} {path}: {response.status} {data[:80]!r}")
            if response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as e:
            counters.add(False, f"{method} {path}: {type(e).__name__}: {e}")
            if conn is not None:
                conn.close()
            conn = None
    if conn is not None:
        conn.close()


def main():
    port = free_port()
    args = [KWSGI, "--host", "127.0.0.1", "--port", str(port), "--chdir", os.path.join(HERE, "apps"),
            "--workers", WORKERS, "--threads", THREADS, "--max-requests", MAX_REQUESTS,
            "--max-requests-jitter", JITTER, "soak:app"]
    log = open(os.path.join(HERE, ".soak.log"), "w")
    front = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            print("soak: kwsgi did not start; see perf/.soak.log", file=sys.stderr)
            return 1
        print(f"soak: {DURATION:.0f} s, {CLIENTS} clients, {WORKERS} workers x {THREADS} threads, "
              f"--max-requests {MAX_REQUESTS} --max-requests-jitter {JITTER}")
        print(f"{'t (s)':>6} {'ok':>9} {'failed':>7} {'req/s':>7} {'front MiB':>10} {'workers MiB':>12} {'workers':>8}")
        counters = Counters()
        start = time.monotonic()
        deadline = start + DURATION
        threads = [threading.Thread(target=client, args=(port, deadline, counters), daemon=True) for _ in range(CLIENTS)]
        for t in threads:
            t.start()
        samples = []
        last_ok, last_t = 0, start
        while time.monotonic() < deadline:
            time.sleep(min(SAMPLE, max(0.0, deadline - time.monotonic())))
            now = time.monotonic()
            workers = workers_of(front.pid)
            front_mib = rss_kb(front.pid) / 1024
            workers_mib = sum(rss_kb(w) for w in workers) / 1024
            with counters.lock:
                ok, failed = counters.ok, counters.failed
            rate = (ok - last_ok) / max(now - last_t, 1e-9)
            last_ok, last_t = ok, now
            samples.append((now - start, front_mib, workers_mib))
            print(f"{now - start:6.0f} {ok:9d} {failed:7d} {rate:7.0f} {front_mib:10.1f} {workers_mib:12.1f} {len(workers):8d}", flush=True)
        for t in threads:
            t.join(timeout=60)
        recycles = sum(1 for line in open(os.path.join(HERE, ".soak.log")) if "(--max-requests)" in line)
        print(f"soak: {counters.ok} requests ok, {counters.failed} failed, {recycles} worker recycles")
        for what in counters.failures:
            print(f"  failed: {what}")
        verdict = 0 if counters.failed == 0 else 1
        if len(samples) >= 6:
            third = len(samples) // 3
            first = sorted(s[1] for s in samples[1:1 + third])[third // 2]
            last = sorted(s[1] for s in samples[-third:])[third // 2]
            growth = (last - first) / first if first else 0
            print(f"soak: front RSS median {first:.1f} MiB in the first third, {last:.1f} MiB in the last ({growth:+.0%})")
            if growth > 0.2:
                print("soak: the front's memory grew by more than a fifth", file=sys.stderr)
                verdict = 1
        else:
            print("soak: too few samples to judge memory (run longer than 6 x SAMPLE)")
        return verdict
    finally:
        front.send_signal(signal.SIGTERM)
        try:
            front.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(front.pid, signal.SIGKILL)
        log.close()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# HTTP/2 beside HTTP/1.1: one kwsgi serving perf/apps/hello.py on four listeners (http, h2c, https with
# HTTP/1.1 and HTTP/2 by ALPN), measured with h2load (nghttp2-client) in turn, and the figures written
# as the "## HTTP/2 and TLS (perf/h2.sh)" section of perf/RESULTS.md (replacing an older one; bench.py
# keeps the section when it rewrites the file).
#
#   perf/h2.sh                        # DURATION=10 REPEATS=3 WORKERS=2 THREADS=4
#   DURATION=3 REPEATS=1 perf/h2.sh   # a quick look
#
# Load: h2load -c 16 -m 16 (16 connections, 16 streams in flight on each: 256 requests at once). HTTP/1.1
# has no streams: h2load --h1 pipelines -m requests per connection instead, which Kestrel serves in
# order; the same run with -m 1 (one request at a time per connection) is shown too.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
for tool in h2load openssl /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "h2.sh: $tool is missing (apt-get install nghttp2-client openssl python3)" >&2; exit 1; }
done
DURATION=${DURATION:-10} REPEATS=${REPEATS:-3} WORKERS=${WORKERS:-2} THREADS=${THREADS:-4}
RESULTS=${RESULTS:-$here/RESULTS.md}
if [[ "${BUILD:-1}" != 0 ]]; then
    echo "h2.sh: building kwsgi (Release) into perf/.kwsgi"
    dotnet publish "$here/../src/Kestrel.Wsgi.Cli" -c Release -o "$here/.kwsgi" --nologo -v quiet >/dev/null
fi

work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$work"' EXIT
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$work/key.pem" -out "$work/cert.pem" \
    -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http=$(free_port) h2c=$(free_port) tls=$(free_port)
"$here/.kwsgi/kwsgi" --python /usr/bin/python3 --chdir "$here/apps" --workers "$WORKERS" --threads "$THREADS" \
    --listen "http://127.0.0.1:$http" --listen "h2c://127.0.0.1:$h2c" --listen "https://127.0.0.1:$tls" \
    --certfile "$work/cert.pem" --keyfile "$work/key.pem" hello:app >"$work/kwsgi.log" 2>&1 &
server=$!
for _ in $(seq 100); do grep -q "Listening on" "$work/kwsgi.log" && break; sleep 0.1; done
grep -q "Listening on" "$work/kwsgi.log" || { cat "$work/kwsgi.log" >&2; exit 1; }

# name | h2load arguments
runs=(
    "HTTP/1.1, cleartext, -m 1|--h1 -c 16 -m 1 http://127.0.0.1:$http/"
    "HTTP/1.1, cleartext, pipelined -m 16|--h1 -c 16 -m 16 http://127.0.0.1:$http/"
    "HTTP/2, cleartext (h2c)|-c 16 -m 16 http://127.0.0.1:$h2c/"
    "HTTP/1.1 over TLS, -m 1|--h1 -c 16 -m 1 https://127.0.0.1:$tls/"
    "HTTP/1.1 over TLS, pipelined -m 16|--h1 -c 16 -m 16 https://127.0.0.1:$tls/"
    "HTTP/2 over TLS (ALPN h2)|-c 16 -m 16 https://127.0.0.1:$tls/"
)
declare -A rps mean
load_before=$(cut -d' ' -f1 /proc/loadavg)
for ((r = 1; r <= REPEATS; r++)); do
    for run in "${runs[@]}"; do
        name=${run%%|*} args=${run#*|}
        # shellcheck disable=SC2086
        h2load -D 2 $args >/dev/null 2>&1 || true   # warm-up
        # shellcheck disable=SC2086
        out=$(h2load -D "$DURATION" $args 2>&1)
        grep -q " 0 failed, 0 errored" <<<"$out" || { echo "h2.sh: $name had failures:" >&2; echo "$out" >&2; exit 1; }
        rps[$name]+="$(awk '/^finished in/ {print $4}' <<<"$out") "
        mean[$name]+="$(awk '/^time for request:/ {print $6}' <<<"$out"),"
        echo "h2.sh: repeat $r: $name: $(awk '/^finished in/ {print $4, $5}' <<<"$out")"
    done
done

load_after=$(cut -d' ' -f1 /proc/loadavg)
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
section=$(mktemp)
{
    echo "## HTTP/2 and TLS (perf/h2.sh)"
    echo
    echo "Measured by \`perf/h2.sh\` on $(date -u '+%Y-%m-%d %H:%M') UTC, kwsgi $(git -C "$here" rev-parse --short HEAD), nproc = $(nproc): one kwsgi"
    echo "($WORKERS workers x $THREADS threads, \`apps/hello.py\`) on four listeners, h2load $(h2load --version | awk '{print $2; exit}') on the same machine"
    echo "over loopback, ${DURATION} s per run after a 2 s warm-up, median of $REPEATS runs. TLS: an ECDSA P-256 certificate,"
    echo "TLS 1.3 (OpenSSL $(openssl version | awk '{print $2}')). The machine's 1-minute load average was $load_before before and"
    echo "$load_after after the runs: other work shared the CPUs, so the range over the runs is shown."
    echo
    echo "| protocol | h2load | requests/s, median | min – max | mean time per request (first run) |"
    echo "|---|---|---:|---:|---:|"
    for run in "${runs[@]}"; do
        name=${run%%|*} args=${run#*|}
        range=$(tr ' ' '\n' <<<"${rps[$name]}" | grep -v '^$' | sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {printf "%.0f – %.0f", lo, hi}')
        echo "| $name | \`${args% *}\` | $(median <<<"${rps[$name]}" | xargs printf '%.0f') | $range | ${mean[$name]%%,*} |"
    done
    echo
} >"$section"
# Replace the section in RESULTS.md, or add it at the end.
/usr/bin/python3 - "$RESULTS" "$section" <<'PY'
import re, sys
path, section = sys.argv[1], open(sys.argv[2]).read()
text = open(path).read() if __import__("os").path.exists(path) else ""
pattern = re.compile(r"^## HTTP/2 and TLS \(perf/h2\.sh\)\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
rm -f "$section"
echo "h2.sh: wrote the HTTP/2 section of $RESULTS"

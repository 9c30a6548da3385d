#!/usr/bin/env bash
# The cost of --access-log (and of --metrics-listen) on hello: wrk -t1 -c64, runs interleaved with and without,
# /proc/loadavg before each (the machine is shared). Usage: perf/observability.sh [REPEATS] [SECONDS] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-3}; seconds=${2:-10}; workers=${3:-2}
kwsgi=src/Kestrel.Wsgi.Cli/bin/Release/net10.0/kwsgi
log=$(mktemp -d)/access.log
port=18931
run() { # name, extra args...
    local name=$1; shift
    $kwsgi --host 127.0.0.1 --port $port --workers "$workers" --chdir tests/apps "$@" hello:app >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:$port/ && break; sleep 0.1; done
    wrk -t1 -c64 -d2s http://127.0.0.1:$port/ >/dev/null # warm-up
    local load; load=$(cut -d' ' -f1-3 /proc/loadavg)
    local cpu0; cpu0=$(awk '{print $14+$15}' /proc/$pid/stat)
    local out; out=$(wrk -t1 -c64 -d"${seconds}s" http://127.0.0.1:$port/)
    local cpu1; cpu1=$(awk '{print $14+$15}' /proc/$pid/stat)
    local rps; rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    local n; n=$(awk '/requests in/ {print $1}' <<<"$out")
    kill -TERM $pid; wait $pid || true
    # Front CPU per request (clock ticks -> µs): steadier than req/s on a loaded machine.
    local us; us=$(awk -v a="$cpu0" -v b="$cpu1" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (b-a)/hz*1e6/n}')
    printf '%-12s %10s req/s   front %6s µs/request   loadavg %s\n' "$name" "$rps" "$us" "$load"
}
for i in $(seq "$repeats"); do
    run "off" 
    run "access-log" --access-log "$log"
    [ "${METRICS:-0}" = 1 ] && run "metrics" --metrics-listen 127.0.0.1:18932
done
echo "access log lines written: $(wc -l < "$log")"
rm -rf "$(dirname "$log")"

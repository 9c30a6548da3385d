#!/usr/bin/env bash
# kwsgi side-by-side benchmark: kwsgi vs a bare Kestrel hello (the limit), waitress, gunicorn (sync, gthread),
# uWSGI (http11-socket, HTTP router) and nginx (static only), on the same machine over loopback.
# Writes perf/RESULTS.md: medians with (min-max) over interleaved repeats, the machine's load per run.
#
#   perf/run.sh                                   # full run: DURATION=10 REPEATS=3
#   DURATION=3 REPEATS=1 WORKLOADS="hello flask" perf/run.sh          # a quick look (marked not for quoting)
#   SERVERS="kwsgi uwsgi-http waitress kestrel-hello" WORKLOADS="hello flask" REPEATS=3 DURATION=8 perf/run.sh
#   RESULTS=/tmp/r.md EXTRAS=0 perf/run.sh        # do not overwrite perf/RESULTS.md, skip the extras
#
# Environment: DURATION REPEATS WARMUP WORKERS THREADS CONNECTIONS WORKLOADS SERVERS EXTRAS RESULTS QUIET
# SPREAD_FLAG. BUILD=0 skips rebuilding kwsgi (perf/.kwsgi) and the Kestrel hello (perf/.kestrel-hello).
# See perf/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in wrk /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (see perf/README.md)" >&2; exit 1; }
done

servers=" ${SERVERS:-kwsgi kestrel-hello} "
[[ "$servers" == *" all "* ]] && servers=" kwsgi kestrel-hello "
workloads=" ${WORKLOADS:-hello} "
if [[ "${BUILD:-1}" != 0 && "$servers" == *" kwsgi "* ]]; then
    echo "run.sh: building kwsgi (Release) into perf/.kwsgi"
    dotnet publish "$here/../src/Kestrel.Wsgi.Cli" -c Release -o "$here/.kwsgi" --nologo -v quiet >/dev/null
fi
if [[ "${BUILD:-1}" != 0 && "$servers" == *" kestrel-hello "* && ( "$workloads" == *" hello "* || "$workloads" == *" all "* ) ]]; then
    echo "run.sh: building the bare Kestrel hello (Release) into perf/.kestrel-hello"
    dotnet publish "$here/KestrelHello" -c Release -o "$here/.kestrel-hello" --nologo -v quiet >/dev/null
fi

# bench.py starts every server in its own session, kills them all on exit or on a signal.
exec /usr/bin/python3 "$here/bench.py" "$@"

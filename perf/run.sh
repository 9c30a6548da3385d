#!/usr/bin/env bash
# kwsgi side-by-side benchmark: kwsgi vs waitress, gunicorn (sync, gthread), uWSGI (processes,
# threads) and nginx (static only), on the same machine over loopback. Writes perf/RESULTS.md.
#
#   perf/run.sh                                   # full run: DURATION=10 REPEATS=3
#   DURATION=3 REPEATS=1 WORKLOADS="hello flask" perf/run.sh
#   SERVERS="kwsgi uwsgi" perf/run.sh
#
# Environment: DURATION REPEATS WORKERS THREADS CONNECTIONS WORKLOADS SERVERS EXTRAS RESULTS
# BUILD=0 skips rebuilding kwsgi (dotnet publish into perf/.kwsgi). See perf/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

for tool in wrk /usr/bin/python3; do
    command -v "$tool" >/dev/null || { echo "run.sh: $tool is missing (see perf/README.md)" >&2; exit 1; }
done

if [[ "${BUILD:-1}" != 0 && " ${SERVERS:-kwsgi} " == *" kwsgi "* ]]; then
    echo "run.sh: building kwsgi (Release) into perf/.kwsgi"
    dotnet publish "$here/../src/Kestrel.Wsgi.Cli" -c Release -o "$here/.kwsgi" --nologo -v quiet >/dev/null
fi

# bench.py starts every server in its own session, kills them all on exit or on a signal.
exec /usr/bin/python3 "$here/bench.py" "$@"

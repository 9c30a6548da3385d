#!/usr/bin/env bash
# kwsgi soak test: 10 minutes of mixed load (hello, 20 ms sleeps, streamed responses, 100 KiB uploads)
# from 8 keep-alive Python clients against 2 workers that recycle every 200-250 requests. Prints
# requests, failures and resident memory every 10 s; exits 1 if any request failed or the front's
# memory grew by more than a fifth. Not part of `dotnet test`. Loopback only.
#
#   perf/soak.sh                      # DURATION=600
#   DURATION=60 SAMPLE=5 perf/soak.sh  # a quick check that it works
#
# Environment: DURATION SAMPLE CLIENTS WORKERS THREADS MAX_REQUESTS JITTER; BUILD=0 skips the build.
# kwsgi's own log goes to perf/.soak.log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ "${BUILD:-1}" != 0 ]]; then
    echo "soak.sh: building kwsgi (Release) into perf/.kwsgi"
    dotnet publish "$here/../src/Kestrel.Wsgi.Cli" -c Release -o "$here/.kwsgi" --nologo -v quiet >/dev/null
fi
exec /usr/bin/python3 "$here/soak.py" "$here/.kwsgi/kwsgi"

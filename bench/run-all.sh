#!/usr/bin/env bash
# Every benchmark, one after another. Results go to stdout; docs/performance.md
# records them with the date and the command.
set -euo pipefail
cd "$(dirname "$0")/.."
/usr/bin/python3 bench/coldstart.py "$@"
/usr/bin/python3 bench/events.py
/usr/bin/python3 bench/dns.py
/usr/bin/python3 bench/l7.py

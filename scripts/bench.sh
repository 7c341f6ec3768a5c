#!/usr/bin/env bash
# Runs the benchmark tables (release build). Check the load first: the machine has 2 shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "load before: $(cat /proc/loadavg)"
"$(swift build -c release --show-bin-path)/attnviz-bench" "$@"

#!/usr/bin/env bash
# Runs the benchmark tables (release build). Check the load first: the machine has 2 shared cores.
set -euo pipefail
cd "$(dirname "$0")/.."
# The PyTorch reference for the forward table and the Python path (transformers + matplotlib)
# the whole report is compared with (skipped with ATTNVIZ_TORCH_PYTHON=none).
if [ -z "${ATTNVIZ_TORCH_PYTHON:-}" ] && { [ $# -eq 0 ] || [ "$1" = forward ] || [ "$1" = python-path ]; }; then
    ATTNVIZ_TORCH_PYTHON="$(bash scripts/torch-env.sh || true)"
    export ATTNVIZ_TORCH_PYTHON
fi
echo "load before: $(cat /proc/loadavg)"
"$(swift build -c release --show-bin-path)/attnviz-bench" "$@"

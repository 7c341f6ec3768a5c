#!/usr/bin/env bash
# The benchmark's reference: HuggingFace transformers on PyTorch (CPU), and matplotlib for the
# Python path the whole report is compared with (scripts/bench_python_path.py), in a virtualenv under
# $ATTNVIZ_HOME (never in the checkout). Present: does nothing. Prints the venv's python on
# stdout; on failure (no network, no wheel) prints nothing and exits 1 — the bench then says so.
set -uo pipefail
HOME_DIR="${ATTNVIZ_HOME:-$HOME/.cache/attnviz}"
VENV="$HOME_DIR/torch-venv"
PY="$VENV/bin/python"
check() { "$PY" -c "import torch, transformers, matplotlib" >/dev/null 2>&1; }
if [ -x "$PY" ] && check; then echo "$PY"; exit 0; fi
# An older venv without matplotlib (the Python path of the whole-report bench): add it only.
if [ -x "$PY" ] && "$PY" -c "import torch, transformers" >/dev/null 2>&1; then
    echo "bench: adding matplotlib to $VENV" >&2
    "$VENV/bin/pip" install --quiet "matplotlib==3.11.2" >&2 && check && { echo "$PY"; exit 0; }
fi
echo "bench: installing the PyTorch reference (torch CPU, transformers, matplotlib) into $VENV" >&2
rm -rf "$VENV"
python3 -m venv "$VENV" >&2 || exit 1
# A CPU-only torch: the wheel in pip's find-links folder (/opt/wheels on this machine kind),
# else PyTorch's CPU index. PyPI's own torch is the CUDA build (gigabytes).
wheel=$(ls ${PIP_FIND_LINKS:-/opt/wheels}/torch-*+cpu-*.whl 2>/dev/null | tail -1)
if [ -n "$wheel" ]; then
    "$VENV/bin/pip" install --quiet "$wheel" >&2 || { rm -rf "$VENV"; exit 1; }
else
    "$VENV/bin/pip" install --quiet torch --index-url https://download.pytorch.org/whl/cpu \
        --extra-index-url https://pypi.org/simple >&2 || { rm -rf "$VENV"; exit 1; }
fi
"$VENV/bin/pip" install --quiet "transformers==5.23.0" "matplotlib==3.11.2" >&2 || { rm -rf "$VENV"; exit 1; }
check || { rm -rf "$VENV"; exit 1; }
echo "$PY"

#!/usr/bin/env bash
# Renders the example report with the real model (release build) and ends with its path.
set -euo pipefail
cd "$(dirname "$0")/.."
example="${1:-examples/sentence.txt}"
bin="$(swift build -c release --show-bin-path)/attnviz"
name="$(basename "${example%.*}")"
"$bin" render "$example" --output "output/$name"

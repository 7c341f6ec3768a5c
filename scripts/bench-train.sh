#!/usr/bin/env bash
# One training step (forward, backward, Adam) at the shipped model's size: attnviz vs PyTorch
# (transformers' MarianMTModel + CrossEntropyLoss + torch.optim.Adam), same shapes, one thread
# each, alternating in the same run. Prints the median step time of each and their ratio.
# Usage: bash scripts/bench-train.sh [ROUNDS]   (make bench runs it; needs a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
PY="${ATTNVIZ_TORCH_PYTHON:-$(bash scripts/torch-env.sh || true)}"
if [ -z "$PY" ] || [ "$PY" = none ]; then echo "training bench: no PyTorch reference (scripts/torch-env.sh), skipped"; exit 0; fi
BIN="$(swift build -c release --show-bin-path)/attnviz"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
# The shipped model's shape (models/reverse-words: d 64, 2+2 layers, 4 heads, ffn 256, 98 symbols);
# 64 sentences of 40 characters a side.
"$PY" scripts/train_reference.py init --out "$tmp/init" --seed 1 --d-model 64 --layers 2,2 --heads 4 --ffn 256 \
    --vocab 98 --activation relu --batches "$tmp/b.jsonl" --count 2 --batch 64 --source 40 --target 40 >/dev/null 2>&1
args=(--batches "$tmp/b.jsonl" --steps 12 --label-smoothing 0.1 --warmup 4000 --lr-factor 1)
echo "training step, d 64, 2+2 layers, batch 64 x 40 + 40 tokens, 1 thread each (median of steps 3-12)"
printf "%6s %12s %12s %7s\n" round attnviz PyTorch ratio
for r in $(seq 1 "$rounds"); do
    OPENBLAS_NUM_THREADS=1 "$BIN" train --init "$tmp/init" "${args[@]}" --dropout 0 --out "$tmp/out" --log "$tmp/a.jsonl" --quiet
    "$PY" scripts/train_reference.py train --init "$tmp/init" "${args[@]}" --log "$tmp/p.jsonl" \
        --dump-gradients "$tmp/g.safetensors" --threads 1 2>/dev/null
    python3 - "$tmp/a.jsonl" "$tmp/p.jsonl" "$r" <<'PYEOF'
import json, statistics, sys
def med(path):
    return statistics.median(json.loads(l)["seconds"] for l in list(open(path))[2:]) * 1000
a, p = med(sys.argv[1]), med(sys.argv[2])
print(f"{sys.argv[3]:>6} {a:9.1f} ms {p:9.1f} ms {a / p:7.2f}")
PYEOF
done

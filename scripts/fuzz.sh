#!/usr/bin/env bash
# Builds the libFuzzer binary (release, -sanitize=fuzzer,address, in .build-fuzz) and runs every
# target for FUZZ_TIME seconds (default 60), one after another, at the lowest CPU priority.
#   make fuzz                         all targets, 60 s each
#   make fuzz FUZZ_TIME=5             a smoke run
#   make fuzz FUZZ_TARGETS="bpe"      some targets
# New inputs go to .build-fuzz/corpus/<target> (seeded from Fuzz/corpus); crashes to
# .build-fuzz/artifacts/<target>/. Prints the executions per target and the total.
set -uo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"
time_each="${FUZZ_TIME:-60}"
targets="${FUZZ_TARGETS:-safetensors config vocab bpe-files wordpiece bpe}"
scratch=.build-fuzz
# swiftc honours only the last separate -sanitize= flag: fuzzer and address go in one.
"$SWIFT" build -c release --scratch-path "$scratch" --product attnviz-fuzz \
    --sanitize=fuzzer -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3
bin="$("$SWIFT" build -c release --scratch-path "$scratch" --show-bin-path)/attnviz-fuzz"
[ -x "$bin" ] || { echo "fuzz: no binary at $bin"; exit 1; }
export SWIFT_BACKTRACE=enable=no   # the backtracer hangs or trips ASan under libFuzzer
total=0; failed=0
for t in $targets; do
    corpus="$scratch/corpus/$t"; artifacts="$scratch/artifacts/$t/"
    mkdir -p "$corpus" "$artifacts"
    log="$scratch/fuzz-$t.log"
    # Text inputs stay short: tokenizing cost grows with length, and short inputs find the same bugs.
    case "$t" in safetensors|config) max_len=65536 ;; wordpiece) max_len=512 ;; *) max_len=4096 ;; esac
    ATTNVIZ_FUZZ_TARGET="$t" nice -n 19 "$bin" "$corpus" "Fuzz/corpus/$t" -max_total_time="$time_each" \
        -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1 >"$log" 2>&1
    status=$?
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    runs=${runs:-0}
    total=$((total + runs))
    if [ "$status" -ne 0 ]; then
        failed=$((failed + 1))
        echo "fuzz $t: FAILED after $runs executions (status $status); see $log and $artifacts"
        grep -E "ERROR|Fatal|invariant|SUMMARY" "$log" | head -5
    else
        echo "fuzz $t: $runs executions, no crash"
    fi
done
echo "fuzz: $total executions in total, $failed targets failed"
[ "$failed" -eq 0 ]

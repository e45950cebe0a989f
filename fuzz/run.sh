#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60), one after the other, and prints the
# executions, corpus size and crashes of each. Needs cargo-fuzz (`cargo install cargo-fuzz
# --locked`); RUSTC_BOOTSTRAP=1 lets the stable toolchain take the nightly flags it passes.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail

seconds="${1:-60}"
shift || true
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

nice -n 10 cargo fuzz build >/dev/null
mkdir -p fuzz/artifacts/logs
printf '%-15s %8s %12s %8s %8s  %s\n' target seconds executions corpus crashes load
status=0
for target in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$target" "fuzz/artifacts/$target"
    log="fuzz/artifacts/logs/$target.log"
    before=$(find "fuzz/artifacts/$target" -type f | sort)
    load_start=$(cut -d' ' -f1 /proc/loadavg)
    nice -n 10 cargo fuzz run "$target" "fuzz/corpus/$target" "fuzz/seeds/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=1
    load_end=$(cut -d' ' -f1 /proc/loadavg)
    executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
    new=$(comm -13 <(echo "$before") <(find "fuzz/artifacts/$target" -type f | sort) | sed '/^$/d')
    crashes=$(printf '%s' "$new" | grep -c . || true)
    printf '%-15s %8s %12s %8s %8s  %s\n' "$target" "$seconds" "${executions:-?}" "$corpus" \
        "$crashes" "1-min load $load_start -> $load_end"
    if [ "$crashes" -gt 0 ]; then
        printf '%s\n' "$new" | sed 's/^/    /'
        grep -m1 -A3 'panicked at\|ERROR: libFuzzer\|ERROR: AddressSanitizer' "$log" | sed 's/^/    /' || true
    fi
done
echo "logs: fuzz/artifacts/logs/"
exit "$status"

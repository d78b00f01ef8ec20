#!/usr/bin/env bash
# Benchmark (not a test): how much a cached `keybearer get` costs next to starting a trivial
# dynamically linked C program, measured in the same hyperfine run, and how many token
# requests 50 parallel cold gets make. Goal: ratio <= 1.5, must be <= 2; requests must be 1.
set -euo pipefail
cd "$(dirname "$0")/../.."
bash packaging/deps.sh
build=${KEYBEARER_BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
cmake --install "$build" --prefix "$PWD/$build/stage" >/dev/null
export KB_STAGE="$PWD/$build/stage" KB_SOURCE="$PWD"
. tests/integration/lib.sh

printf 'int main(void) { return 0; }\n' >"$WORK/noop.c"
cc -O2 -o "$WORK/noop" "$WORK/noop.c"
start_server
write_profile bench ok
"$KB" get --profile bench >/dev/null

runs=${BENCH_RUNS:-1000}
hyperfine -N --warmup 50 --runs "$runs" --export-json "$WORK/bench.json" \
	-n noop "$WORK/noop" -n cached-get "$KB get --profile bench" >"$WORK/hyperfine.txt"
median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median' "$WORK/bench.json"; }
noop=$(median noop)
get=$(median cached-get)
ratio=$(awk -v a="$get" -v b="$noop" 'BEGIN { printf "%.2f", a / b }')

write_profile crowd ok-slow
pids=()
for _ in $(seq 50); do
	"$KB" get --profile crowd >/dev/null 2>&1 </dev/null &
	pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
crowd=$(requests ok-slow)

awk -v n="$noop" -v g="$get" 'BEGIN { printf "median trivial C program: %.3f ms\nmedian cached get:        %.3f ms\n", n * 1000, g * 1000 }'
echo "ratio cached get / trivial program: $ratio (goal <= 1.5, must be <= 2)"
echo "token requests for 50 parallel cold gets: $crowd (must be 1)"
awk -v r="$ratio" 'BEGIN { exit !(r <= 2) }' || { echo "FAIL: ratio above 2"; exit 1; }
[ "$crowd" = 1 ] || { echo "FAIL: more than one token request"; exit 1; }

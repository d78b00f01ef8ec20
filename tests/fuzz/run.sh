#!/usr/bin/env bash
# Runs every libFuzzer harness for SECONDS (default 600) and prints, per harness, the
# executions made and the coverage reached. CI runs them 20 s each through ctest; this is
# for long runs:  tests/fuzz/run.sh 3600
# What they find stays in build-fuzz/tests/fuzz-corpus/<harness>; a crash is written to
# build-fuzz/tests/fuzz-crash-<harness>-*, and the script exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-600}
build=${KEYBEARER_FUZZ_BUILD_DIR:-build-fuzz}
bash packaging/deps.sh
CC=clang cmake -S . -B "$build" -DKEYBEARER_FUZZ=ON -DKEYBEARER_FUZZ_SECONDS="$seconds" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
log=$(mktemp)
status=0
(cd "$build" && ctest -R '^fuzz_' -j"$(nproc)" -V >"$log" 2>&1) || status=$?
printf '%-14s %14s %10s %10s\n' harness executions coverage features
for harness in $(sed -n 's/^[0-9]*: Test command: .*\/fuzz_\([a-z_]*\)" .*/\1/p' "$log" | sort); do
	number=$(grep -n "Test command: .*/fuzz_$harness\"" "$log" | head -1 | cut -d: -f2 | tr -d ' ')
	done_line=$(grep "^$number: #[0-9]*[[:space:]]*DONE" "$log" | tail -1)
	execs=$(grep "^$number: stat::number_of_executed_units" "$log" | awk '{print $3}')
	printf '%-14s %14s %10s %10s\n' "$harness" "${execs:-?}" \
		"$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")" \
		"$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")"
done
rm -f "$log"
exit "$status"

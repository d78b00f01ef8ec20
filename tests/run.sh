#!/usr/bin/env bash
# The whole test suite from a clean tree: dependencies, then
#   1. a -Werror build and ctest: unit tests, the install into build/stage, integration
#      tests against local servers (faults, keyring, plugins, robustness, secrets, hardening);
#   2. the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer;
#   3. the libFuzzer harnesses in a clang build (KEYBEARER_FUZZ_SECONDS each, default 20);
#   4. the benchmark's short run, which checks its exact counts but no timing.
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps.sh
# keybearer-fetch links the HTTP(S)-only libcurl built from Debian's curl source, as the
# .deb does (packaging/libcurl-https.sh says why); packaging/check-plain-build.sh builds
# with the system's
libcurl=${KEYBEARER_LIBCURL_PREFIX:-$PWD/build-libcurl}
bash packaging/libcurl-https.sh "$libcurl"
build=${KEYBEARER_BUILD_DIR:-build}
cmake -S . -B "$build" -DKEYBEARER_WERROR=ON -DBUILD_TESTING=ON -DKEYBEARER_TESTS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DKEYBEARER_LIBCURL_PREFIX="$libcurl" >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")

asan_build=${KEYBEARER_ASAN_BUILD_DIR:-build-asan}
cmake -S . -B "$asan_build" -DKEYBEARER_WERROR=ON -DKEYBEARER_SANITIZE=ON -DBUILD_TESTING=ON -DKEYBEARER_TESTS=ON \
	-DKEYBEARER_LIBCURL_PREFIX="$libcurl" >/dev/null
cmake --build "$asan_build" -j"$(nproc)" >/dev/null
(cd "$asan_build" && ctest --output-on-failure -j"$(nproc)")

fuzz_build=${KEYBEARER_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$fuzz_build" -DKEYBEARER_WERROR=ON -DKEYBEARER_FUZZ=ON \
	-DKEYBEARER_FUZZ_SECONDS="${KEYBEARER_FUZZ_SECONDS:-20}" -DKEYBEARER_LIBCURL_PREFIX="$libcurl" >/dev/null
cmake --build "$fuzz_build" -j"$(nproc)" >/dev/null
(cd "$fuzz_build" && ctest --output-on-failure -j"$(nproc)" -R '^fuzz_')

bench_log=$(mktemp)
bench_status=0
BENCH_QUICK=1 KEYBEARER_LIBCURL_PREFIX="$libcurl" bench/run.sh >"$bench_log" 2>&1 || bench_status=$?
[ "$bench_status" -eq 0 ] && grep -E '^\|' "$bench_log" || cat "$bench_log"
rm -f "$bench_log"
exit "$bench_status"

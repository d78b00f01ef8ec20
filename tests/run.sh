#!/usr/bin/env bash
# The whole test suite from a clean tree: dependencies, a -Werror build, then ctest (unit
# tests, the install into build/stage, integration tests against local servers), then the
# libFuzzer harnesses in a clang build with ASan and UBSan (KEYBEARER_FUZZ_SECONDS each).
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps.sh
build=${KEYBEARER_BUILD_DIR:-build}
cmake -S . -B "$build" -DKEYBEARER_WERROR=ON -DBUILD_TESTING=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
(cd "$build" && ctest --output-on-failure -j"$(nproc)" "$@")

fuzz_build=${KEYBEARER_FUZZ_BUILD_DIR:-build-fuzz}
CC=clang cmake -S . -B "$fuzz_build" -DKEYBEARER_WERROR=ON -DKEYBEARER_FUZZ=ON \
	-DKEYBEARER_FUZZ_SECONDS="${KEYBEARER_FUZZ_SECONDS:-20}" >/dev/null
cmake --build "$fuzz_build" -j"$(nproc)" >/dev/null
(cd "$fuzz_build" && ctest --output-on-failure -j"$(nproc)" -R '^fuzz_')

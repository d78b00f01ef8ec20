#!/usr/bin/env bash
# The whole test suite from a clean tree: dependencies, a -Werror build, then ctest
# (unit tests, the install into build/stage, integration tests against local servers).
set -euo pipefail
cd "$(dirname "$0")/.."

bash packaging/deps.sh
build=${KEYBEARER_BUILD_DIR:-build}
cmake -S . -B "$build" -DKEYBEARER_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
cd "$build"
ctest --output-on-failure -j"$(nproc)" "$@"

#!/usr/bin/env bash
# The C sources follow .clang-format: clang-format would change none of them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "FAIL: clang-format not installed (packaging/deps.sh installs it)"; exit 1; }
mapfile -t sources < <(git ls-files -- '*.c' '*.h' 2>/dev/null || find helper plugin tests bench -name '*.[ch]')
[ ${#sources[@]} -gt 0 ] || { echo "FAIL: no C sources found"; exit 1; }
clang-format --dry-run -Werror "${sources[@]}"
echo "ok: ${#sources[@]} C files follow .clang-format"

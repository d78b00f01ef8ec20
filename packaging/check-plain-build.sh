#!/usr/bin/env bash
# The README's source build, exactly as written, on a machine without the test-only
# dependencies: pkg-config is shown every library but cmocka, so the plain
# `cmake -S . -B build` must build and install the program without it.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/pc"
for dir in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
	[ -d "$dir" ] || continue
	for pc in "$dir"/*.pc; do
		[ -e "$pc" ] || continue
		case "$(basename "$pc")" in cmocka.pc) continue ;; esac
		[ -e "$work/pc/$(basename "$pc")" ] || ln -s "$pc" "$work/pc/"
	done
done
export PKG_CONFIG_LIBDIR="$work/pc" PKG_CONFIG_PATH=
! pkg-config --exists cmocka || { echo "FAIL: cmocka still visible" >&2; exit 1; }
cmake -S . -B "$work/build" -DCMAKE_BUILD_TYPE=Release >"$work/configure.log"
grep -q "cmocka not found: the tests are not built" "$work/configure.log" ||
	{ cat "$work/configure.log" >&2; echo "FAIL: no word that the tests are left out" >&2; exit 1; }
cmake --build "$work/build" -j"$(nproc)" >/dev/null
cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
"$work/prefix/bin/keybearer" --version
"$work/prefix/libexec/keybearer/keybearer-fetch" --version
[ -f "$work/prefix/libexec/keybearer/keybearer-keyring.so" ] ||
	{ echo "FAIL: no keyring module beside keybearer-fetch" >&2; exit 1; }
[ ! -e "$work/build/tests" ] || { echo "FAIL: tests configured without cmocka" >&2; exit 1; }
echo "plain build without cmocka: all passed"

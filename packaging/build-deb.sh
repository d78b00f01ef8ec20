#!/usr/bin/env bash
# Builds the Debian package from this tree and checks it with lintian:
#   packaging/build-deb.sh [OUTDIR]      (default: dist/)
# debian/ is a link to packaging/debian, so `dpkg-buildpackage -us -uc -b` works in the tree
# too; this script builds in a copy (the files git tracks or would track), which leaves the
# tree clean and the .deb in OUTDIR instead of the tree's parent directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist}
bash "$root/packaging/deps.sh"
# keybearer-fetch's libcurl (debian/rules says why), built once beside the tree
export KEYBEARER_LIBCURL_PREFIX=${KEYBEARER_LIBCURL_PREFIX:-$root/build-libcurl}
bash "$root/packaging/libcurl-https.sh" "$KEYBEARER_LIBCURL_PREFIX"

version=$(sed -n '1s/^keybearer (\([^)]*\)).*/\1/p' "$root/packaging/debian/changelog")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src="$work/keybearer-$version"
mkdir -p "$src" "$out"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp -P --parents -t "$src")
(cd "$src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) ||
	{ tail -50 "$work/build.log"; exit 1; }
# every tag at warning level or above fails the build; the overrides say why one is fine
lintian --fail-on error,warning --info "$work"/keybearer_*.changes
cp "$work"/keybearer_*.deb "$out"/
ls "$out"/keybearer_*.deb

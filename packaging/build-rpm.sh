#!/usr/bin/env bash
# Builds the RPM from this tree with packaging/rpm/keybearer.spec:
#   packaging/build-rpm.sh [OUTDIR]      (default: dist/)
# On Debian, rpmbuild cannot see which BuildRequires are installed (they are Debian
# packages, not in the rpm database), so it runs with --nodeps; deps.sh installs them.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/dist}
bash "$root/packaging/deps.sh"

spec="$root/packaging/rpm/keybearer.spec"
version=$(sed -n 's/^Version:[[:space:]]*//p' "$spec")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{SOURCES,SPECS,BUILD,RPMS,SRPMS} "$out" "$work/keybearer-$version"
(cd "$root" && git ls-files -z --cached --others --exclude-standard |
	xargs -0 cp -P --parents -t "$work/keybearer-$version")
tar -C "$work" -czf "$work/SOURCES/keybearer-$version.tar.gz" "keybearer-$version"
rpmbuild --nodeps --define "_topdir $work" -bb "$spec" >"$work/build.log" 2>&1 ||
	{ tail -50 "$work/build.log"; exit 1; }
find "$work/RPMS" -name 'keybearer-*.rpm' -exec cp {} "$out"/ \;
rpm -qlp "$out"/keybearer-"$version"-*.rpm >/dev/null
ls "$out"/keybearer-"$version"-*.rpm

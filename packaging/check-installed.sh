#!/usr/bin/env bash
# After `apt-get install ./dist/keybearer_*.deb` (CI does it): the installed package works
# where a distribution puts it: --version, git finding its credential helper, a cold and a
# cached get through /usr/libexec/keybearer/keybearer-fetch, its keyring module, the man
# pages and completions, HTTPie finding the auth plugin.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export KB_STAGE=/usr KB_SOURCE="$root"
. "$root/tests/integration/lib.sh"

[ "$(command -v keybearer)" = /usr/bin/keybearer ] || fail "keybearer is not /usr/bin/keybearer"
expect_eq "$(keybearer --version)" "keybearer $(sed -n '1s/^keybearer (\([^-)]*\).*/\1/p' "$root/packaging/debian/changelog")" "keybearer --version"
expect_eq "$(git credential-keybearer capability)" $'version 0\ncapability authtype' \
	"git credential-keybearer capability"

start_server
write_profile main ok
run_kb get --profile main --format token
expect_rc 0 "cold get from the package"
token=$OUT
KEYBEARER_FETCH=/bin/false run_kb get --profile main --format token
expect_rc 0 "cached get from the package"
expect_eq "$OUT" "$token" "the cached token"
expect_eq "$(requests ok)" 1 "token requests"

# the keyring module beside keybearer-fetch: root's, writable by no one else, and loaded
# for a keyring profile (without a session bus, the module itself says there is none)
module=/usr/libexec/keybearer/keybearer-keyring.so
[ -f "$module" ] || fail "no $module"
expect_eq "$(stat -c %U "$module")" root "the owner of $module"
[ $((0$(stat -c %a "$module") & 022)) = 0 ] || fail "$module is writable by group or others"
write_profile kr ok "secret = keyring"
expect_match "$(/usr/libexec/keybearer/keybearer-fetch keyring-status --profile kr)" \
	"^unavailable: no Secret Service available for profile kr" "keyring-status from the package"

# the README a newcomer looks for, where Debian keeps package documentation
[ -s /usr/share/doc/keybearer/README.md ] || [ -s /usr/share/doc/keybearer/README.md.gz ] ||
	fail "no README in /usr/share/doc/keybearer"
man -w keybearer >/dev/null || fail "man keybearer: no page"
man -w 5 keybearer-config >/dev/null || fail "man 5 keybearer-config: no page"
for f in /usr/share/bash-completion/completions/keybearer \
	/usr/share/zsh/vendor-completions/_keybearer \
	/usr/share/fish/vendor_completions.d/keybearer.fish; do
	[ -s "$f" ] || fail "missing completion $f"
done
# HTTPie's auth plugin, where Debian's httpie finds it (in /usr/lib/python3/dist-packages)
[ -s /usr/lib/python3/dist-packages/keybearer_httpie.py ] ||
	fail "no /usr/lib/python3/dist-packages/keybearer_httpie.py"
if [ -x /usr/bin/http ]; then
	env -u PYTHONPATH /usr/bin/http --help >"$WORK/http-help"
	grep -q '"keybearer": keybearer (provided by keybearer-httpie)' "$WORK/http-help" ||
		fail "http --help lists no keybearer auth type: $(grep -A3 -- '--auth-type' "$WORK/http-help")"
fi
echo "installed package: all passed"

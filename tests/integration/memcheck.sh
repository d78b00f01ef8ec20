#!/usr/bin/env bash
# Every path of keybearer and keybearer-fetch once under valgrind memcheck: minting, the
# cache, every output format and command, the error paths of bad replies and bad input,
# every host-tool protocol, curl and exec, the keyring. lib.sh fails the test on any error
# or leak valgrind reports. (The other tests check timing; this one only exit codes.)
if [ -z "${KB_IN_SESSION:-}" ]; then
	KB_IN_SESSION=1 exec dbus-run-session -- bash "$0" "$@"
fi
session_bus=$DBUS_SESSION_BUS_ADDRESS
export KB_VALGRIND=1
. "$(dirname "$0")/lib.sh"
export DBUS_SESSION_BUS_ADDRESS=$session_bus

start_server
export CURL_CA_BUNDLE="$CA"
write_profile main ok "urls = $BASE/api/ $BASE/registry/"
must() { # EXIT ARGS...
	local code=$1
	shift
	run_kb "$@"
	expect_rc "$code" "keybearer $*"
}

echo "# minting, the cache, every format and command"
must 0 get --profile main
for format in header token curl wget json; do must 0 get --profile main --format "$format"; done
must 0 status
must 0 inspect --profile main
"$KB" get --profile main --format token >"$WORK/token"
KB_STDIN="$WORK/token" must 0 inspect -
KB_STDIN="$WORK/token" must 0 invalidate --profile main --token-stdin
must 0 get --profile main --min-ttl 60
must 0 invalidate --profile main
must 0 --help
must 0 get --help
must 64 get --bogus
must 64 frobnicate
must 78 get --profile nosuch

echo "# OIDC discovery and inspect --verify (libcrypto)"
write_profile disc ok "token_url = " "issuer = $BASE/issuer/ok" "audience = https://local.test/"
must 0 get --profile disc
must 0 invalidate --profile disc
must 0 get --profile disc
write_profile disc-bad ok "token_url = " "issuer = $BASE/issuer/other-issuer"
must 76 get --profile disc-bad
must 76 inspect --profile disc --verify # its jwks_uri is a 404
mkdir -p "$WORK/keys"
"$PY" "$TESTS/sign-jwt.py" "$WORK/keys" '{"exp": 300, "aud": "https://local.test/"}' >"$WORK/signed"
write_profile local ok "jwks_url = $(serve_directory "$WORK/keys")/jwks.json" \
	"audience = https://local.test/"
KB_STDIN="$WORK/signed" must 0 inspect - --profile local --verify
KB_STDIN="$WORK/signed" must 77 inspect - --profile local --verify --audience https://else/
"$PY" "$TESTS/sign-jwt.py" "$WORK/keys" '{"exp": -60}' >"$WORK/signed"
KB_STDIN="$WORK/signed" must 77 inspect - --profile local --verify

echo "# bad replies and transport failures"
for row in "badjson 76" "html200 76" "huge 76" "redirect 76" "crlf 76" "mac 76" "negative 76" \
	"invalid-client 77" "invalid-scope 77" "unavailable 75" "jwt-skewed 0" "no-expiry 0"; do
	set -- $row
	write_profile "f-$1" "$1" "token_url = $BASE/$1/token?memcheck"
	must "$2" get --profile "f-$1"
done
write_profile untrusted ok "token_url = $BASE/ok/token?untrusted" "ca_file = $WORK/tls/other-ca.pem"
must 78 get --profile untrusted
printf '[profile p]\ncolour = blue\n' >"$WORK/bad-config"
chmod 600 "$WORK/bad-config"
KEYBEARER_CONFIG="$WORK/bad-config" must 78 get

echo "# a transient failure with a cached token to fall back on"
must 0 get --profile main
age_cached_token "$("$KB" get --profile main --format token)" 100
server POST /_override/ok unavailable >/dev/null
must 0 get --profile main
must 0 get --profile main
server POST /_override/ok "" >/dev/null
age_cached_token "$("$KB" get --profile main --format token)" 3500 # and forget the failure

echo "# recorded failures: a rejection repeated, a changed secret, a full disk, no lock"
write_profile rejected invalid-client "token_url = $BASE/invalid-client/token?memcheck"
must 77 get --profile rejected # recorded, with the secret's mark
must 77 get --profile rejected # repeated from the record
must 0 status --profile rejected
printf '[profile rejected]\ntimeout = 29\n\n' >>"$CONFIG"
must 77 get --profile rejected # the profile changed: asked again
must 0 invalidate --profile rejected
write_profile full ok "token_url = $BASE/ok/token?memcheck-full"
must 0 get --profile full
age_cached_token "$("$KB" get --profile full --format token)" 100
LD_PRELOAD="$KB_ENOSPC_LIB" ENOSPC_MATCH=".json." must 0 get --profile full # kept as spare
must 0 get --profile full # served from the spare
must 0 status --profile full
write_profile nolock ok "token_url = $BASE/ok/token?memcheck-nolock"
must 0 get --profile nolock
age_cached_token "$("$KB" get --profile nolock --format token)" 100
nolock_lock=$(ls -t "$CACHE_DIR"/*.lock | head -n 1)
rm -f "$nolock_lock" && mkdir "$nolock_lock"
must 0 get --profile nolock # the cached token, with a warning
rmdir "$nolock_lock"

echo "# every host-tool protocol"
"$PY" "$TESTS/golden.py" --bin "$KB_BIN" --subst "HOST=127.0.0.1:$PORT" --subst "BASE=$BASE" \
	--subst "PORT=$PORT" --subst "CLIENT_ID=$CLIENT_ID" --subst "TOKEN=" --subst "EXPIRES_AT=" \
	--subst "EXPIRES=" --subst "TOKEN_GITUSER=" --subst "EXPIRES_AT_GITUSER=" --subst "TOKEN_TF=" \
	"$TESTS/golden" >"$WORK/golden.out" || true # outputs differ (no tokens given); memory is the point
grep -c '^ok\|^FAIL' "$WORK/golden.out" >/dev/null || fail "the golden cases did not run"
must 0 curl -sS -o /dev/null "$BASE/api/hello"
server POST /_revoke "$("$KB" get --profile main --format token)"
must 0 curl -sS -o /dev/null "$BASE/api/hello"
must 64 curl -sS -K /dev/null "$BASE/api/hello"
must 0 exec --profile main -- true
must 0 goauth
must 0 goauth --profile main
printf 'HTTP/1.1 403 Forbidden\nWww-Authenticate: Bearer error="invalid_token"\n\n' >"$WORK/goauth-in"
KB_STDIN="$WORK/goauth-in" must 0 goauth "$BASE/api/x"
printf 'HTTP/1.1 401 Unauthorized\nbad\n\n' >"$WORK/goauth-in"
KB_STDIN="$WORK/goauth-in" must 65 goauth "$BASE/api/x"
must 127 exec --profile main -- /nonexistent

echo "# secrets: a command, the keyring"
printf '#!/bin/sh\nprintf "%%s\\n" "%s"\n' "$SECRET" >"$WORK/secret-command"
chmod 700 "$WORK/secret-command"
write_profile viacmd ok "token_url = $BASE/ok/token?viacmd" "secret = command:$WORK/secret-command"
must 0 get --profile viacmd
eval "$(printf '%s' keyring-password | gnome-keyring-daemon --unlock --components=secrets)"
gdbus wait --session --timeout 10 org.freedesktop.secrets
printf '%s' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" must 0 login --profile kr --client-id "$CLIENT_ID" --token-url "$BASE/ok/token?kr" --no-verify
printf 'ca_file = %s\n' "$CA" >>"$CONFIG"
must 0 get --profile kr
must 0 status --profile kr
must 0 logout --profile kr
must 78 get --profile kr
echo "memcheck: $(find "$WORK/valgrind" -name 'log.*' | wc -l) processes ran under valgrind, no errors, no leaks"

#!/usr/bin/env bash
# The client secret in a real Secret Service: gnome-keyring-daemon on a private D-Bus
# session bus, headless and unlocked, as test-environment.md measured it.
if [ -z "${KB_IN_SESSION:-}" ]; then
	KB_IN_SESSION=1 exec dbus-run-session -- bash "$0" "$@"
fi
session_bus=$DBUS_SESSION_BUS_ADDRESS
. "$(dirname "$0")/lib.sh"
export DBUS_SESSION_BUS_ADDRESS=$session_bus

eval "$(printf '%s' keyring-password | gnome-keyring-daemon --unlock --components=secrets)"
# Without this wait a second daemon may be D-Bus-activated against a half-written keyring.
gdbus wait --session --timeout 10 org.freedesktop.secrets
keyring_pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.GetConnectionUnixProcessID org.freedesktop.secrets |
	sed -E 's/^\(uint32 ([0-9]+),\)$/\1/')
stored() { secret-tool lookup xdg:schema org.keybearer.ClientSecret profile "$1"; }
items() { secret-tool search --all xdg:schema org.keybearer.ClientSecret profile "$1" 2>/dev/null | grep -c '^label = ' || true; }

# Plain http to loopback: a new profile needs no CA to talk to this server.
start_server --http

echo "# login from stdin makes the profile, stores the secret, proves it with a token"
printf '# my settings\n[profile other]\ntoken_url = https://example.com/token\n' >"$CONFIG"
chmod 600 "$CONFIG"
before=$(cat "$CONFIG")
printf '%s' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --client-id "$CLIENT_ID" --token-url "$BASE/ok/token"
expect_rc 0 login
expect_eq "$OUT" "" "stdout of login"
expect_eq "$ERR" "keybearer: stored the secret of profile kr in the keyring (checked: the token endpoint accepted it)" "login message"
expect_no_secret "$ERR" "login message"
expect_eq "$(stored kr)" "$SECRET" "the secret as secret-tool reads it"
expect_match "$(secret-tool search --all xdg:schema org.keybearer.ClientSecret 2>&1)" \
	"label = keybearer: kr \($CLIENT_ID\)" "the item's label"
expect_eq "$(head -c ${#before} "$CONFIG")" "$before" "the config file before the new section"
expect_eq "$(tail -n +4 "$CONFIG")" "$(printf '\n[profile kr]\ntoken_url = %s/ok/token\nclient_id = %s' "$BASE" "$CLIENT_ID")" "the new section"
expect_eq "$(requests ok)" 1 "token requests of login"

echo "# on a terminal: the client id is asked and echoed, the secret is asked and not echoed"
printf '%s' "$SECRET" | "$PY" "$TESTS/pty-login.py" "$KB" typed "$BASE/ok/token?typed" typed-client ||
	fail "login on a terminal"
expect_eq "$(stored typed)" "$SECRET" "the typed secret"
expect_match "$(cat "$CONFIG")" "client_id = typed-client" "the typed client id in the config"

echo "# get with no secret anywhere but the keyring; the token login minted is already cached"
run_kb get --profile kr
expect_rc 0 "get from the keyring"
expect_match "$OUT" "^Authorization: Bearer " "get output"
expect_eq "$(requests ok)" 1 "requests after get"
run_kb invalidate --profile kr
run_kb get --profile kr
expect_rc 0 "get after invalidate"
expect_eq "$(requests ok)" 2 "get minted with the stored secret"
token=${OUT#Authorization: Bearer }

echo "# a cached get makes no D-Bus call and runs no keybearer-fetch"
DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent KEYBEARER_FETCH=/bin/false run_kb get --profile kr
expect_rc 0 "cached get with the bus gone"
expect_eq "$OUT" "Authorization: Bearer $token" "cached token"
if readelf -d "$KB_STAGE/bin/keybearer" | grep -Eq 'NEEDED.*(libsecret|libgio|libglib|libdbus)'; then
	fail "keybearer links a D-Bus library"
fi

echo "# status says where the secret is, and never what it is"
run_kb status --profile kr
expect_match "$OUT" "secret        keyring \(stored\)" "status of a stored secret"
expect_no_secret "$OUT" "status"

echo "# rotation: login again replaces the item and drops the cached token"
printf 'the-old-wrong-secret' >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --no-verify
expect_rc 0 "login --no-verify"
expect_eq "$ERR" "keybearer: stored the secret of profile kr in the keyring (not checked: --no-verify)" "no-verify message"
expect_eq "$(stored kr)" "the-old-wrong-secret" "the replaced secret"
expect_eq "$(items kr)" 1 "items of profile kr in the keyring"
run_kb get --profile kr
expect_rc 77 "the cached token went with the old secret"
printf '%s\n' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile kr
expect_rc 0 "login with the right secret again"
expect_eq "$(stored kr)" "$SECRET" "the secret after rotation (newline stripped)"
run_kb get --profile kr
expect_rc 0 "get after rotation"
[ "$OUT" != "Authorization: Bearer $token" ] || fail "rotation kept the old token"

echo "# one login writes a whole section: a private CA, another auth method, scope, an issuer"
http_base=$BASE http_port=$PORT
start_server # https, with the test CA, beside the plain http one
https_base=$BASE
BASE=$http_base PORT=$http_port
empty_config="$WORK/empty-config"
: >"$empty_config"
chmod 600 "$empty_config"
printf '%s' "$SECRET" >"$WORK/stdin"
while IFS='|' read -r name options section; do
	case "$name" in '#'* | '') continue ;; esac
	name=${name// /}
	options=${options//@HTTPS@/$https_base}
	options=${options//@CA@/$CA}
	options=${options//@ID@/$CLIENT_ID}
	section=${section# }
	eval "set -- $options"
	KEYBEARER_CONFIG=$empty_config KB_STDIN="$WORK/stdin" run_kb login --profile "$name" "$@"
	expect_rc 0 "login --profile $name $options"
	expect_eq "$ERR" "keybearer: stored the secret of profile $name in the keyring (checked: the token endpoint accepted it)" "login $name"
	section=${section//@HTTPS@/$https_base}
	section=${section//@CA@/$CA}
	section=${section//@ID@/$CLIENT_ID}
	expect_eq "$(sed -n "/^\[profile $name\]\$/,/^\$/p" "$empty_config" | sed '/^$/d')" \
		"$(printf "${section//\\n/\\n}")" "the section login $name wrote"
	KEYBEARER_CONFIG=$empty_config run_kb get --profile "$name" --format token
	expect_rc 0 "a get of $name after its login"
	KEYBEARER_CONFIG=$empty_config KEYBEARER_FETCH=/bin/false run_kb get --profile "$name"
	expect_rc 0 "the token login minted, cached"
done <<'ROWS'
# profile | login options | the section it writes (\n between lines)
basic | --token-url @HTTPS@/require-basic/token --client-id @ID@ --auth-method client_secret_basic --ca-file @CA@ --scope "read write" --audience https://api.test/ --resource https://res.test/ | [profile basic]\ntoken_url = @HTTPS@/require-basic/token\nclient_id = @ID@\nauth_method = client_secret_basic\nscope = read write\naudience = https://api.test/\nresource = https://res.test/\nca_file = @CA@
iss | --issuer @HTTPS@/issuer/ok --client-id @ID@ --ca-file @CA@ | [profile iss]\nissuer = @HTTPS@/issuer/ok\nclient_id = @ID@\nca_file = @CA@
ROWS
expect_eq "$(head -n 1 "$empty_config")" "[profile basic]" "the first section starts the empty file"
KEYBEARER_CONFIG=$empty_config KB_STDIN="$WORK/stdin" run_kb login --profile basic --auth-method client_secret_post
expect_rc 64 "login changing a profile's auth method"
expect_eq "$ERR" "keybearer: profile basic already has auth_method client_secret_basic — edit the config file to change it, or leave out --auth-method" "the refusal"

echo "# a secret the endpoint rejects is not stored"
printf 'nope' >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile rejected --client-id "$CLIENT_ID" --token-url "$BASE/ok/token?rejected"
expect_rc 77 "login with a rejected secret"
expect_eq "$ERR" "keybearer: the secret of profile rejected was not stored: token endpoint refused the request: invalid_client: Client authentication failed — check client_id, the secret (was it rotated?) and auth_method (this request used client_secret_post)" "rejection message"
stored rejected && fail "a rejected secret was stored"
grep -q 'profile rejected' "$CONFIG" && fail "a rejected login wrote the config"

echo "# the aspose preset: login needs only the client id and the secret"
printf '%s' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile aspose --client-id aspose-client --no-verify
expect_rc 0 "login to the aspose preset"
expect_eq "$(tail -n 3 "$CONFIG")" "$(printf '\n[profile aspose]\nclient_id = aspose-client')" "aspose section"
expect_eq "$(stored aspose)" "$SECRET" "aspose secret"

echo "# login refuses what it cannot do"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --client-id someone-else
expect_rc 64 "changing the client id through login"
expect_match "$ERR" "profile kr already has client_id $CLIENT_ID — edit the config file" "client id message"
KB_STDIN="$WORK/stdin" run_kb login --profile newer
expect_rc 78 "a new profile without a token URL, no terminal"
expect_eq "$ERR" "keybearer: profile newer has no token_url — give --token-url (stdin holds only the secret)" "token url message"
KB_STDIN=/dev/null run_kb login --profile kr
expect_rc 66 "login with empty stdin"
run_kb login --profile kr --secret x
expect_rc 64 "a secret on the command line"

echo "# missing item, logout"
printf '[profile lost]\ntoken_url = %s/ok/token?lost\nclient_id = %s\n' "$BASE" "$CLIENT_ID" >>"$CONFIG"
run_kb get --profile lost
expect_rc 78 "no item stored"
expect_eq "$ERR" "keybearer: no secret stored for profile lost — run keybearer login --profile lost" "missing message"
run_kb status --profile lost
expect_match "$OUT" "secret        keyring \(not stored\)" "status of a missing secret"
run_kb logout --profile kr
expect_rc 0 logout
expect_eq "$ERR" "keybearer: removed from the keyring the secret of profile kr; its cached token is gone" "logout message"
stored kr && fail "logout left the secret"
run_kb get --profile kr
expect_rc 78 "get after logout"
run_kb logout --profile kr
expect_match "$ERR" "the keyring held no secret of profile kr" "second logout"

echo "# no session bus: a clear message at once, no autolaunch"
start=$(date +%s%N)
env -u DBUS_SESSION_BUS_ADDRESS DISPLAY=:99 "$KB" get --profile aspose >"$WORK/out" 2>"$WORK/err" && fail "get without a bus succeeded"
expect_match "$(cat "$WORK/err")" "^keybearer: no Secret Service available for profile aspose \(no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set\) — for headless use" "no-bus message"
[ $((($(date +%s%N) - start) / 1000000)) -lt 2000 ] || fail "no-bus failure took over 2 s"
DBUS_SESSION_BUS_ADDRESS=unix:path=/nonexistent run_kb get --profile aspose
expect_rc 78 "a bus address that points nowhere"
expect_match "$ERR" "^keybearer: no Secret Service available for profile aspose \(" "dead-bus message"

echo "# a stopped daemon is given up on after keyring_timeout, not D-Bus's 25 s"
printf '[profile slowkr]\ntoken_url = %s/ok/token?slow\nclient_id = %s\nkeyring_timeout = 2\n' "$BASE" "$CLIENT_ID" >>"$CONFIG"
kill -STOP "$keyring_pid"
start=$(date +%s%N)
run_kb get --profile slowkr
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 75 "stopped daemon"
stuck="the Secret Service did not answer within 2 s (profile slowkr) — is the keyring daemon stuck? restart it, or raise keyring_timeout"
expect_eq "$ERR" "keybearer: waiting for the Secret Service (profile slowkr; at most 1 s more)
keybearer: $stuck" "stopped-daemon message"
[ "$elapsed" -ge 1900 ] && [ "$elapsed" -lt 4500 ] || fail "stopped daemon answered in ${elapsed} ms"
# the next caller is told at once, and told it was the keyring, not the token endpoint
stuck_pattern=$(sed 's/[()?]/\\&/g' <<<"$stuck")
start=$(date +%s%N)
run_kb get --profile slowkr
elapsed=$((($(date +%s%N) - start) / 1000000))
kill -CONT "$keyring_pid"
expect_rc 75 "a get while the keyring's failure is recorded"
expect_match "$ERR" "^keybearer: the keyring of profile slowkr failed [0-9] s ago \($stuck_pattern\); keybearer asks again in (2[0-9]|30) s — try again later$" "the recorded keyring fault"
[ "$elapsed" -lt 1000 ] || fail "the second caller waited ${elapsed} ms for the stuck keyring"
run_kb status --profile slowkr
expect_match "$OUT" "last refresh failed [0-9]+ s ago: $stuck_pattern; next attempt in [0-9]+ s" "status of the keyring fault"

echo "# a locked collection: told apart from a missing item, headless says so"
printf '%s' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --no-verify
expect_rc 0 "login before locking"
run_kb invalidate --profile kr
gdbus call --session --dest org.freedesktop.secrets --object-path /org/freedesktop/secrets \
	--method org.freedesktop.Secret.Service.Lock "['/org/freedesktop/secrets/collection/login']" >/dev/null
run_kb get --profile kr
expect_rc 78 "locked keyring, headless"
expect_eq "$ERR" "keybearer: the keyring holding the secret of profile kr is locked and there is no display to ask for its password — unlock it (log in to the desktop, or gnome-keyring-daemon --unlock), or use secret = file:, env: or command: for headless use" "locked message"
DISPLAY=:99 run_kb get --profile kr
expect_rc 78 "locked keyring with a display: the service's prompt (which cannot open here)"
expect_eq "$ERR" "keybearer: waiting for the keyring's unlock prompt (profile kr; at most 120 s)
keybearer: the keyring holding the secret of profile kr stayed locked (the unlock prompt was dismissed) — unlock it and try again" "prompted-unlock message"
run_kb status --profile kr
expect_match "$OUT" "secret        keyring \(stored, keyring locked\)" "status of a locked item"
run_kb get --profile lost
expect_rc 78 "missing item in a locked keyring"
expect_match "$ERR" "no secret stored for profile lost" "missing stays missing when locked"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --no-verify
expect_rc 78 "login into a locked keyring, headless"
expect_match "$ERR" "is locked and there is no display" "locked login message"
echo "keyring: all passed"

#!/usr/bin/env bash
# inherit = PROFILE: one client, many APIs, against oidc-provider, which enforces RFC 8707
# resource indicators (a resource it does not know is invalid_target) and logs what each
# token request asked for. The base's secret lives in a real Secret Service
# (gnome-keyring-daemon on a private D-Bus session bus, as keyring.sh runs it): one login of
# the base, then two profiles that inherit it mint their own tokens, each cached apart.
if [ -z "${KB_IN_SESSION:-}" ]; then
	KB_IN_SESSION=1 exec dbus-run-session -- bash "$0" "$@"
fi
session_bus=$DBUS_SESSION_BUS_ADDRESS
. "$(dirname "$0")/lib.sh"
export DBUS_SESSION_BUS_ADDRESS=$session_bus

eval "$(printf '%s' keyring-password | gnome-keyring-daemon --unlock --components=secrets)"
gdbus wait --session --timeout 10 org.freedesktop.secrets
keyring_pid=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
	--method org.freedesktop.DBus.GetConnectionUnixProcessID org.freedesktop.secrets |
	sed -E 's/^\(uint32 ([0-9]+),\)$/\1/')
items() { secret-tool search --all xdg:schema org.keybearer.ClientSecret profile "$1" 2>/dev/null | grep -c '^label = ' || true; }

INTEROP="$KB_SOURCE/tests/interop"
[ -d "$INTEROP/node_modules/oidc-provider" ] ||
	fail "tests/interop/node_modules is missing — packaging/deps.sh runs npm ci there"
API=https://api.keybearer.test/
ES=https://es.keybearer.test/
logged() { tail -1 "$WORK/oidc.log" | jq -r "$1"; } # JQ: of the last token request
count() { curl -sS --cacert "$CA" "$OIDC/_count"; }
claims() { # TOKEN: the claims of a JWT, as JSON
	local part
	part=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while [ $((${#part} % 4)) -ne 0 ]; do part="$part="; done
	base64 -d <<<"$part"
}

start_server # the CA, and the secret file of lib.sh
cp "$WORK/secret" "$WORK/oidc.secret"
start_interop oidc "$WORK/oidc.secret" node "$INTEROP/oidc_server.mjs"
OIDC=$BASE

# The profiles that inherit come before their base: the order of sections does not matter.
cat >"$CONFIG" <<EOF
[profile rs]
inherit = corp
scope = read
resource = $API
urls = $API

[profile es]
inherit = corp
scope = read write
resource = $ES
urls = $ES
refresh_margin = 60

[profile same]
inherit = corp

[profile corp]
issuer = $OIDC
client_id = kb-basic
auth_method = client_secret_basic
ca_file = $CA
EOF
chmod 600 "$CONFIG"

echo "# login of a profile that inherits names its base, and stores nothing"
printf '%s' "$SECRET" >"$WORK/stdin"
for command in login logout; do
	KB_STDIN="$WORK/stdin" run_kb $command --profile rs
	expect_rc 64 "$command of a profile that inherits"
	expect_eq "$OUT" "" "stdout of $command --profile rs"
	case $command in
	login) why="one login serves every profile that inherits it" ;;
	logout) why="it logs out every profile that inherits it" ;;
	esac
	expect_eq "$ERR" "keybearer: profile rs takes its client from profile corp (inherit = corp): its keyring item is profile corp's — run keybearer $command --profile corp ($why)" \
		"$command of a profile that inherits"
done
expect_eq "$(items corp)$(items rs)" 00 "keyring items after the refused login"
expect_eq "$(count)" 0 "token requests of the refused login"

echo "# one login of the base: one keyring item, under the base's name"
KB_STDIN="$WORK/stdin" run_kb login --profile corp
expect_rc 0 "login of the base"
expect_eq "$ERR" "keybearer: stored the secret of profile corp in the keyring (checked: the token endpoint accepted it); it serves rs, es, same" \
	"login message"
expect_eq "$(items corp)$(items rs)$(items es)" 100 "keyring items after login"
expect_eq "$(count)" 1 "token requests of login"
expect_eq "$(logged .resource)" null "the base asks for no resource"

echo "# each profile that inherits mints its own token, with its own scope and resource"
# table: profile | scope sent | resource sent and the token's aud | the token's alg
rows=(
	"rs|read|$API|RS256"
	"es|read write|$ES|ES256"
)
declare -A tokens
n=1
for row in "${rows[@]}"; do
	IFS='|' read -r profile scope resource alg <<<"$row"
	run_kb get --profile "$profile" --format token
	expect_rc 0 "get --profile $profile"
	expect_eq "$ERR" "" "stderr of get --profile $profile"
	n=$((n + 1))
	expect_eq "$(count)" $n "token requests after get --profile $profile"
	expect_eq "$(logged .client_id)" kb-basic "the client of $profile"
	expect_eq "$(logged .auth_method)" client_secret_basic "the auth method of $profile"
	expect_eq "$(logged .scope)" "$scope" "the scope $profile asked for"
	expect_eq "$(logged .resource)" "$resource" "the resource $profile asked for"
	expect_eq "$(logged .status)" 200 "the server's answer to $profile"
	expect_eq "$(claims "$OUT" | jq -r .aud)" "$resource" "aud of the token of $profile"
	expect_eq "$(claims "$OUT" | jq -r .scope)" "$scope" "scope of the token of $profile"
	expect_eq "$(claims "$OUT" | jq -r .client_id)" kb-basic "client_id of the token of $profile"
	expect_eq "$(cut -d. -f1 <<<"$OUT" | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .alg)" "$alg" \
		"alg of the token of $profile"
	tokens[$profile]=$OUT
done
[ "${tokens[rs]}" != "${tokens[es]}" ] || fail "rs and es got the same token"
expect_eq "$(find "$XDG_RUNTIME_DIR/keybearer" -name '*.json' ! -name 'oidc-*' | wc -l)" 3 \
	"cache files: the base's (from login), rs's and es's"

echo "# the second get of each is answered from its own cache"
for profile in rs es; do
	run_kb get --profile "$profile" --format token
	expect_rc 0 "second get --profile $profile"
	expect_eq "$OUT" "${tokens[$profile]}" "the cached token of $profile"
done
expect_eq "$(count)" 3 "token requests after the second gets"

echo "# a profile asking for exactly what its base asks for shares the base's token"
run_kb get --profile same --format token
expect_rc 0 "get --profile same"
expect_eq "$(count)" 3 "token requests after get --profile same (the token login minted)"

echo "# invalidate of one leaves the other"
run_kb invalidate --profile rs
expect_rc 0 "invalidate --profile rs"
run_kb get --profile es --format token
expect_eq "$OUT" "${tokens[es]}" "es's token after rs's invalidate"
expect_eq "$(count)" 3 "token requests after get es"
run_kb get --profile rs --format token
expect_rc 0 "get rs after its invalidate"
expect_eq "$(count)" 4 "token requests after get rs"
expect_eq "$(logged .resource)" "$API" "the resource of rs's new token"
[ "$OUT" != "${tokens[rs]}" ] || fail "rs's token after invalidate is the old one"

echo "# a URL goes to the profile that claims it, with that profile's token"
run_kb get --url "${ES}v1/x" --format token
expect_rc 0 "get --url of es"
expect_eq "$OUT" "${tokens[es]}" "the token for a URL es claims"

echo "# status shows the chain and what came from the base"
run_kb status --profile es
expect_rc 0 "status --profile es"
expect_eq "$(sed -n 2,4p <<<"$OUT")" "profile es [default]
  inherits      corp
  inherited     issuer client_id auth_method ca_file from corp" "status lines of es"
expect_match "$OUT" "^  secret        keyring \(stored\)$" "the secret of es: the base's item"
expect_match "$OUT" "^  resource      $ES$" "es's own resource"
run_kb status --json
expect_rc 0 "status --json"
expect_eq "$(jq -c '.profiles[] | select(.name == "es") | [.inherits, .inherited, .secret.state]' <<<"$OUT")" \
	'[["corp"],{"issuer":"corp","client_id":"corp","auth_method":"corp","ca_file":"corp"},"present"]' \
	"status --json of es"
expect_eq "$(jq -c '.profiles[] | select(.name == "corp") | [.inherits, .inherited]' <<<"$OUT")" \
	'[null,null]' "status --json of the base"

echo "# check works for a profile that inherits"
run_kb check --profile rs
expect_rc 0 "check --profile rs"
expect_eq "$(tail -1 <<<"$OUT")" "check: ok — profile rs mints tokens, and the cache holds the new one" \
	"check's verdict"
expect_match "$OUT" "; aud $API; scope read; client_id kb-basic " "the token check minted for rs"

echo "# logout of the base: its item and every inheriting profile's cached token go"
run_kb logout --profile corp
expect_rc 0 "logout of the base"
expect_eq "$ERR" "keybearer: removed from the keyring the secret of profile corp; its cached token is gone, and those of rs, es, same, which inherit its client" \
	"logout message"
expect_eq "$(items corp)" 0 "keyring items after logout"
run_kb status --profile rs
expect_match "$OUT" "^  secret        keyring \(not stored\)$" "rs's secret after logout of the base"
expect_match "$OUT" "^  token         none cached$" "rs's token after logout of the base"
before=$(count)
run_kb get --profile es
expect_rc 78 "get es after logout of the base"
expect_eq "$OUT" "" "stdout of that get"
expect_eq "$(count)" "$before" "no token request without a secret"
kill -0 "$keyring_pid" || fail "the keyring daemon died"

echo "# config errors name the file and the line"
# table: config text (printf) | profile asked for | the message
BAD="$WORK/bad.ini"
errors=(
	"[profile a]\ninherit = a\n|a|$BAD:2: profile a inherits itself — inherit names the profile whose client this one uses"
	"[profile a]\ninherit = b\n[profile b]\ninherit = a\n|a|$BAD:2: inherit = b makes a loop (a → b → a) — a chain of inherit lines must end at a profile that inherits none"
	"[profile x]\nscope = s\n[profile a]\ninherit = b\n[profile b]\ninherit = c\n[profile c]\ninherit = a\n|x|$BAD:4: inherit = b makes a loop (a → b → c → a) — a chain of inherit lines must end at a profile that inherits none"
	"[profile a]\ninherit = nobody\n|a|$BAD:2: profile a inherits nobody, but there is no profile nobody — add [profile nobody] with the client's token_url, client_id and secret, or fix the name"
	"[profile a]\ninherit = b\nclient_id = other\n[profile b]\ntoken_url = $OIDC/token\n|b|$BAD:3: client_id comes from profile b (inherit = b) — remove it here or drop inherit"
	"[profile a]\ninherit = env\n|a|$BAD:2: profile a cannot inherit env: the env profile is what the KEYBEARER_* variables describe, where they are set — inherit a [profile NAME] of this file (its secret may be env:KEYBEARER_CLIENT_SECRET)"
)
for row in "${errors[@]}"; do
	IFS='|' read -r text profile message <<<"$row"
	# shellcheck disable=SC2059 # the row's text is a printf format on purpose
	printf "$text" >"$BAD"
	chmod 600 "$BAD"
	KEYBEARER_CONFIG=$BAD run_kb get --profile "$profile"
	expect_rc 78 "get with: $text"
	expect_eq "$OUT" "" "stdout with: $text"
	expect_eq "$ERR" "keybearer: $message" "the error of: $text"
done
echo "ok"

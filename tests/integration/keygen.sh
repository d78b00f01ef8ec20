#!/usr/bin/env bash
# keybearer keygen, login --private-key, logout and status with a real Secret Service
# (gnome-keyring-daemon on a private D-Bus session, as keyring.sh) and a real server
# (authlib's private_key_jwt): the key made is kept, its public half registered, used.
if [ -z "${KB_IN_SESSION:-}" ]; then
	KB_IN_SESSION=1 exec dbus-run-session -- bash "$0" "$@"
fi
session_bus=$DBUS_SESSION_BUS_ADDRESS
. "$(dirname "$0")/lib.sh"
export DBUS_SESSION_BUS_ADDRESS=$session_bus
eval "$(printf '%s' keyring-password | gnome-keyring-daemon --unlock --components=secrets)"
gdbus wait --session --timeout 10 org.freedesktop.secrets
key_item() { secret-tool lookup xdg:schema org.keybearer.PrivateKey profile "$1" 2>/dev/null; }
secret_item() { secret-tool lookup xdg:schema org.keybearer.ClientSecret profile "$1" 2>/dev/null; }

start_server --mtls # the CA, and an endpoint that takes client certificates
printf 'unused-secret-0123456789' >"$WORK/jwt.secret"
chmod 600 "$WORK/jwt.secret"
echo '{"keys": []}' >"$WORK/client-jwks.json"
"$PY" "$KB_SOURCE/tests/interop/authlib_server.py" --port-file "$WORK/authlib.port" \
	--cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key" --secret-file "$WORK/jwt.secret" \
	--client-jwks "$WORK/client-jwks.json" --log "$WORK/authlib.log" 2>"$WORK/authlib.err" &
SERVER_PIDS+=($!)
wait_for_file "$WORK/authlib.port" authlib
AUTHLIB="https://127.0.0.1:$(cat "$WORK/authlib.port")"
register() { jq -c "{keys: [.]}" <<<"$1" >"$WORK/client-jwks.json"; } # JWK

echo "# keygen keeps the private key in the keyring and prints the public half"
write_profile kg ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt"
run_kb keygen --profile kg
expect_rc 0 "keygen"
jwk=$(head -1 <<<"$OUT")
kid=$(jq -r .kid <<<"$jwk")
expect_eq "$(jq -r '[.kty, .crv, .alg, .use] | join(" ")' <<<"$jwk")" "EC P-256 ES256 sig" "the JWK"
expect_eq "$(jq -r 'has("d")' <<<"$jwk")" false "the JWK holds no private part"
expect_eq "$(sed -n 2p <<<"$OUT")" "-----BEGIN PUBLIC KEY-----" "the PEM after the JWK"
expect_eq "$("$PY" -c 'import json, sys
from authlib.jose import JsonWebKey
print(JsonWebKey.import_key(json.loads(sys.argv[1])).thumbprint())' "$jwk")" "$kid" "kid = the thumbprint"
expect_eq "$ERR" "keybearer: made an EC P-256 key for profile kg, kept in the keyring (kid $kid): register the public key above with the provider for client kb-pkjwt" "keygen message"
expect_match "$(key_item kg)" "^-----BEGIN PRIVATE KEY-----" "the keyring item"
expect_eq "$(secret_item kg)" "" "no secret item"
expect_no_match "$OUT$ERR" "PRIVATE" "keygen output"
register "$jwk"
run_kb get --profile kg
expect_rc 0 "a token with the key from the keyring"
expect_eq "$(tail -1 "$WORK/authlib.log" | jq -r .kid)" "$kid" "the kid sent"

echo "# status shows the method, the key's type and kid, never the key"
run_kb status --profile kg
expect_rc 0 "status"
expect_match "$OUT" "^  auth_method   private_key_jwt$" "status: method"
expect_match "$OUT" "^  private_key   keyring \(EC P-256, kid $kid\)$" "status: the key"
expect_no_match "$OUT" "PRIVATE KEY" "status"
run_kb status --profile kg --json
expect_eq "$(jq -c '.profiles[0].private_key' <<<"$OUT")" \
	"{\"source\":\"keyring\",\"state\":\"present\",\"kid\":\"$kid\",\"type\":\"EC P-256\",\"detail\":null}" "status --json"

echo "# keygen --type rsa --out: a 0600 file, never overwritten"
write_profile kf ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt" "private_key = file:$WORK/kf.pem" "audience = https://kf.test/"
run_kb keygen --profile kf --type rsa
expect_rc 0 "keygen into the profile's file"
expect_eq "$(file_mode "$WORK/kf.pem")" 600 "the key file's mode"
expect_eq "$(head -1 <<<"$OUT" | jq -r '[.kty, .alg] | join(" ")')" "RSA RS256" "the RSA JWK"
sum=$(sha256sum <"$WORK/kf.pem")
run_kb keygen --profile kf
expect_rc 74 "keygen over an existing file"
expect_match "$ERR" "^keybearer: cannot create the key file $WORK/kf.pem: File exists — keygen never overwrites a key" "refusal"
expect_eq "$OUT" "" "stdout of the refusal"
expect_eq "$(sha256sum <"$WORK/kf.pem")" "$sum" "the key file after the refusal"
ln -s "$WORK/elsewhere" "$WORK/link.pem"
run_kb keygen --profile kg --out "$WORK/link.pem"
expect_rc 74 "keygen through a symlink"
[ ! -e "$WORK/elsewhere" ] || fail "keygen wrote through a symlink"
mkdir -m 777 "$WORK/open"
chmod 777 "$WORK/open" # whatever the umask
run_kb keygen --profile kg --out "$WORK/open/key.pem"
expect_rc 74 "keygen into a directory others may write"
expect_match "$ERR" "^keybearer: .*$WORK/open.* — " "the open directory named"
[ ! -e "$WORK/open/key.pem" ] || fail "keygen left a key file in a directory others may write"
expect_eq "$OUT" "" "stdout of the refusal"
run_kb keygen --profile kg --type dsa
expect_rc 64 "an unknown --type"
write_profile plain ok
run_kb keygen --profile plain
expect_rc 78 "keygen for a secret profile"
expect_match "$ERR" "profile plain does not use auth_method = private_key_jwt" "keygen for a secret profile"

echo "# login --private-key stores an existing key (checked first), from a file or stdin"
openssl genpkey -algorithm ED25519 -out "$WORK/ed.pem" && chmod 600 "$WORK/ed.pem"
write_profile kl ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt" "audience = https://kl.test/"
run_kb login --profile kl --private-key "$WORK/ed.pem"
expect_rc 0 "login --private-key FILE"
ed_kid=$("$PY" "$TESTS/client-jwks.py" "$WORK/ed.pem" | jq -r '.keys[0].kid')
expect_eq "$ERR" "keybearer: stored the Ed25519 private key of profile kl in the keyring (kid $ed_kid)" "login message"
"$PY" "$TESTS/client-jwks.py" "$WORK/ed.pem" >"$WORK/client-jwks.json"
run_kb get --profile kl
expect_rc 0 "a token with the stored Ed25519 key"
openssl pkey -in "$WORK/ed.pem" -pubout -out "$WORK/ed.pub"
KB_STDIN="$WORK/ed.pub" run_kb login --profile kl --private-key -
expect_rc 78 "login --private-key with a public key"
expect_match "$ERR" "^keybearer: the private key from stdin is not usable: it holds a public key" "refusal"
expect_match "$(key_item kl)" "BEGIN PRIVATE KEY" "the stored key stays"
KB_STDIN="$WORK/kf.pem" run_kb login --profile kl --private-key -
expect_rc 0 "login --private-key - (stdin)"

KB_STDIN="$WORK/jwt.secret" run_kb login --profile kl
expect_rc 64 "login of a secret for a private_key_jwt profile"
expect_eq "$ERR" "keybearer: profile kl signs with a private key (private_key_jwt), it has no secret to store — run keybearer keygen --profile kl, or keybearer login --private-key FILE --profile kl" "login without --private-key"
expect_eq "$(secret_item kl)" "" "no secret stored"

echo "# logout removes the key"
run_kb logout --profile kl
expect_rc 0 "logout"
expect_eq "$ERR" "keybearer: removed from the keyring the private key of profile kl; its cached token is gone" "logout message"
expect_eq "$(key_item kl)" "" "the key item after logout"
run_kb get --profile kl --min-ttl 100000
expect_rc 78 "get without a key"
expect_eq "$ERR" "keybearer: no private key stored for profile kl — run keybearer keygen --profile kl, or keybearer login --private-key FILE --profile kl" "no key"
run_kb status --profile kl
expect_match "$OUT" "^  private_key   keyring \(missing: no private key stored for profile kl\)$" "status without a key"
echo "# login --client-key keeps an mTLS certificate's key in the keyring; logout removes it"
client_item() { secret-tool lookup xdg:schema org.keybearer.ClientKey profile "$1" 2>/dev/null; }
write_profile ck mtls "auth_method = tls_client_auth" "secret = " \
	"client_cert = file:$WORK/tls/client.pem"
run_kb get --profile ck
expect_rc 78 "get without a client key"
expect_eq "$ERR" "keybearer: no client key stored for profile ck — run keybearer login --client-key FILE --profile ck, or set client_key = file:/path" "no client key"
KB_STDIN="$WORK/tls/other-client.key" run_kb login --profile ck --client-key -
expect_rc 78 "login --client-key of another certificate's key"
expect_eq "$ERR" "keybearer: the client key of profile ck (client_key = keyring) is not the key of client_cert $WORK/tls/client.pem — give the key the certificate was issued for" "the wrong key"
expect_eq "$(client_item ck)" "" "nothing stored for the wrong key"
run_kb login --profile ck --client-key "$WORK/tls/client.key" --private-key "$WORK/kf.pem"
expect_rc 64 "login with both keys"
run_kb login --profile kl --client-key "$WORK/tls/client.key"
expect_rc 78 "login --client-key for a profile without mTLS"
expect_eq "$ERR" "keybearer: profile kl does not keep a client key in the keyring — set auth_method = tls_client_auth (or self_signed_tls_client_auth), client_cert, and no client_key line in [profile kl]" "not an mTLS profile"
run_kb login --profile ck --client-key "$WORK/tls/client.key"
expect_rc 0 "login --client-key"
expect_eq "$ERR" "keybearer: stored the client key of profile ck in the keyring (the key of $WORK/tls/client.pem)" "login --client-key message"
expect_eq "$(client_item ck)" "$(cat "$WORK/tls/client.key")" "the stored client key, every line"
expect_eq "$(secret_item ck)" "" "no secret item"
expect_no_match "$OUT$ERR" "$(sed -n 2p "$WORK/tls/client.key")" "login --client-key output"
run_kb get --profile ck --format token
expect_rc 0 "get with the stored client key"
run_kb logout --profile ck
expect_rc 0 "logout of an mTLS profile"
expect_eq "$ERR" "keybearer: removed from the keyring the client key of profile ck; its cached token is gone" "logout message"
expect_eq "$(client_item ck)" "" "the client key item after logout"
echo "keygen: all passed"

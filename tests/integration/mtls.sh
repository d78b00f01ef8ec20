#!/usr/bin/env bash
# Mutual-TLS client authentication (RFC 8705) against the test token server, which asks for
# client certificates: every row of mtls.tsv through one runner, then what a success must
# have sent and been given (client_id and no secret; a token bound to our certificate).
. "$(dirname "$0")/lib.sh"

start_server --mtls
TLS="$WORK/tls"
cp "$TLS/client.key" "$WORK/loose.key" && chmod 644 "$WORK/loose.key"
openssl pkey -in "$TLS/client.key" -aes256 -passout pass:word -out "$WORK/encrypted.key" 2>/dev/null
chmod 600 "$WORK/encrypted.key"
# The key must show in no message, nor any line of it.
KEY_LINE=$(sed -n 2p "$TLS/client.key")

# x5t#S256 of a PEM certificate: base64url of the SHA-256 of its DER.
thumbprint() {
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' |
		tr -d '=\n'
}
# The claims of a JWT, as JSON.
claims() {
	local part
	part=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while [ $((${#part} % 4)) != 0 ]; do part+="="; done
	base64 -d <<<"$part"
}

row=0
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	[[ "$line" =~ ^([^ ]+)\ +([0-9]+)\ +([^ ]+)\ +([0-9]+)\ +(.*)$ ]] || fail "bad row: $line"
	mode=${BASH_REMATCH[1]} code=${BASH_REMATCH[2]} setup=${BASH_REMATCH[3]}
	want_requests=${BASH_REMATCH[4]} pattern=${BASH_REMATCH[5]}
	row=$((row + 1))
	extra=("auth_method = tls_client_auth" "secret = ")
	IFS=, read -r -a items <<<"$setup"
	for item in "${items[@]}"; do
		case "$item" in
		cert=*) extra+=("client_cert = file:$TLS/${item#cert=}") ;;
		key=command) extra+=("client_key = command:cat $TLS/client.key") ;;
		key=keyring) extra+=("client_key = keyring") ;;
		key=other) extra+=("client_key = file:$TLS/other-client.key") ;;
		key=loose | key=encrypted) extra+=("client_key = file:$WORK/${item#key=}.key") ;;
		key=*) extra+=("client_key = file:$TLS/${item#key=}") ;;
		method=self) extra+=("auth_method = self_signed_tls_client_auth") ;;
		secret=yes) extra+=("secret = file:$WORK/secret") ;;
		*) fail "row $row: unknown setup $item" ;;
		esac
	done
	extra+=("token_url = $BASE/$mode/token?row=$row")
	write_profile "mtls$row" "$mode" "${extra[@]}"
	before=$(requests "$mode")
	run_kb get --profile "mtls$row"
	made=$(($(requests "$mode") - before))
	what="row $row ($mode, $setup)"
	expect_rc "$code" "$what"
	expect_eq "$made" "$want_requests" "$what: requests"
	expect_no_match "$ERR" "$KEY_LINE" "$what: stderr"
	expect_no_secret "$ERR" "$what: stderr"
	if [ "$code" = 0 ]; then
		expect_eq "$ERR" "" "$what: stderr"
		# RFC 8705 section 2: client_id in the form, no secret in it or in a header
		sent=$(server GET "/_last/$mode")
		expect_eq "$(jq -r .auth_method <<<"$sent")" tls_client_auth "$what: server saw"
		expect_match "$(jq -r .body <<<"$sent")" "(^|&)client_id=$CLIENT_ID(&|$)" "$what: form"
		expect_no_match "$(jq -r .body <<<"$sent")" "client_secret" "$what: form"
		expect_eq "$(jq -r '.headers.authorization // "none"' <<<"$sent")" none "$what: header"
		# the token is bound to the certificate we presented
		expect_eq "$(claims "$OUT" | jq -r '.cnf."x5t#S256"')" "$(thumbprint "$TLS/client.pem")" \
			"$what: cnf x5t#S256"
	else
		expect_eq "$OUT" "" "$what: stdout"
		expect_eq "$(without_notices "$ERR" | wc -l)" 1 "$what: stderr lines"
		expect_match "$(without_notices "$ERR")" "$pattern" "$what: stderr"
	fi
	echo "ok $row - $mode ($setup) -> $code after $made request(s)"
done <"$TESTS/mtls.tsv"
[ "$row" -ge 14 ] || fail "only $row rows ran"

# A second get is served from the cache: no request, the same token.
run_kb get --profile mtls1
expect_rc 0 "cached get"
expect_eq "$(requests mtls)" 4 "requests after the cached get"

# A refused certificate is every caller's answer until the certificate changes: the next
# get asks no one; a new certificate is tried at once.
run_kb get --profile mtls5
expect_rc 77 "refused certificate, again"
expect_eq "$(requests mtls)" 4 "requests after the refused certificate, again"
sed -i "s|^client_cert = file:$TLS/other-client.pem\$|client_cert = file:$TLS/client.pem|;s|^client_key = file:$TLS/other-client.key\$|client_key = file:$TLS/client.key|" "$CONFIG"
run_kb get --profile mtls5
expect_rc 0 "the registered certificate, after a refused one"
expect_eq "$(requests mtls)" 5 "requests with the registered certificate"

# keybearer check says which certificate it presented, by its thumbprint, never the key.
run_kb check --profile mtls2
expect_rc 0 "check"
expect_match "$OUT" "certificate +.*client\.pem \(x5t#S256 $(thumbprint "$TLS/client.pem")\), its key from command:cat .* \(not shown\)" "check"
expect_no_match "$OUT$ERR" "$KEY_LINE" "check"

# login has no secret to store for such a profile.
KB_STDIN=/dev/null run_kb login --profile mtls1
expect_rc 78 "login"
expect_match "$ERR" "^keybearer: profile mtls1 authenticates with its client certificate \(auth_method = tls_client_auth\): it has no secret to store" "login"

# A profile without client_cert cannot mint.
write_profile nocert mtls "auth_method = tls_client_auth"
run_kb get --profile nocert
expect_rc 78 "no client_cert"
expect_match "$ERR" "^keybearer: profile nocert uses auth_method = tls_client_auth but has no client_cert — set client_cert = file:/path/to/cert.pem" "no client_cert"
# RFC 8705 section 5: with an issuer, an mTLS profile asks the discovery document's
# mtls_endpoint_aliases.token_endpoint (here the one that takes certificates), a secret
# profile of the same issuer its token_endpoint (here one that refuses everyone).
mtls_keys=("auth_method = tls_client_auth" "secret = " "client_cert = file:$TLS/client.pem"
	"client_key = file:$TLS/client.key")
write_profile alias mtls "token_url = " "issuer = $BASE/issuer/mtls-alias" "${mtls_keys[@]}"
write_profile plain ok "token_url = " "issuer = $BASE/issuer/mtls-alias"
before=$(requests mtls)
run_kb get --profile alias
expect_rc 0 "the mTLS alias"
expect_eq "$(($(requests mtls) - before))" 1 "requests to the mTLS alias"
expect_eq "$(requests invalid-client)" 1 "requests to the plain endpoint (row 13 only)"
run_kb status --profile alias
expect_match "$OUT" "$BASE/mtls/token" "status names the alias"
expect_match "$OUT" "^  client_cert   $TLS/client\.pem
  client_key    file:$TLS/client\.key
  secret        none \(auth_method = tls_client_auth\)$" "status: the certificate, its key, no secret"
run_kb status --profile alias --json
expect_eq "$(jq -c '.profiles[0].client_certificate' <<<"$OUT")" \
	"{\"cert\":\"$TLS/client.pem\",\"key_source\":\"file:$TLS/client.key\"}" "status --json: client_certificate"
expect_eq "$(jq -c '.profiles[0].secret.state' <<<"$OUT")" '"not-needed"' "status --json: no secret needed"
run_kb get --profile plain
expect_rc 77 "the plain endpoint, for a secret"
expect_eq "$(requests invalid-client)" 2 "requests to the plain endpoint"
# an alias is checked like any endpoint: no plain http off this machine, an object
write_profile alias-http mtls "token_url = " "issuer = $BASE/issuer/mtls-alias-http" "${mtls_keys[@]}"
run_kb get --profile alias-http
expect_rc 76 "a plain-http alias"
expect_eq "$OUT" "" "a plain-http alias: stdout"
expect_match "$ERR" "^keybearer: mtls_endpoint_aliases\.token_endpoint in the discovery document of $BASE/issuer/mtls-alias-http uses plain http to 192\.0\.2\.1: secrets and tokens would travel unencrypted — use https://" "a plain-http alias"
write_profile alias-list mtls "token_url = " "issuer = $BASE/issuer/mtls-alias-list" "${mtls_keys[@]}"
run_kb get --profile alias-list
expect_rc 76 "aliases not an object"
expect_match "$ERR" "^keybearer: the discovery document of $BASE/issuer/mtls-alias-list has an mtls_endpoint_aliases that is not a JSON object — check issuer$" "aliases not an object"
# inspect names the certificate a bound token is bound to, apart from its claims.
run_kb inspect --profile mtls1
expect_rc 0 "inspect"
expect_eq "$(jq -r .bound_to_certificate <<<"$OUT")" "$(thumbprint "$TLS/client.pem")" "inspect"
expect_eq "$(jq -r '.claims.cnf."x5t#S256"' <<<"$OUT")" "$(thumbprint "$TLS/client.pem")" "inspect claims"

export CURL_CA_BUNDLE="$CA" # whom curl trusts is the user's (--cacert is refused)
# keybearer curl presents the same certificate to a resource that takes only tokens bound
# to the certificate of the connection; the key reaches curl on no argv and no disk.
for profile in mtls1 mtls2; do
	run_kb curl --profile "$profile" -sS "$BASE/api/bound"
	expect_rc 0 "curl ($profile)"
	expect_eq "$(jq -r '."x5t#S256"' <<<"$OUT")" "$(thumbprint "$TLS/client.pem")" "curl ($profile)"
	expect_eq "$ERR" "" "curl ($profile): stderr"
done
# What curl is given: no descriptor of the memory file (so nothing it starts has one); a
# config that names that file, ours, which holds the chain and the key and takes no write.
mkdir -p "$WORK/fakebin"
cat >"$WORK/fakebin/curl" <<'FAKE'
#!/bin/bash
for fd in /proc/$$/fd/*; do readlink "$fd"; done | grep -c 'memfd:' || true
config=$(cat /dev/fd/3)
path=$(sed -n 's/^cert = "\(.*\)"$/\1/p' <<<"$config")
grep -c '^key = "'"$path"'"$' <<<"$config"
grep -c -- '-----BEGIN CERTIFICATE-----' "$path"
grep -c -- '-----BEGIN PRIVATE KEY-----' "$path"
if echo x >>"$path" 2>/dev/null; then echo writable; else echo sealed; fi
FAKE
chmod 755 "$WORK/fakebin/curl"
PATH="$WORK/fakebin:$PATH" run_kb curl --profile mtls1 "$BASE/api/bound"
expect_rc 0 "curl's descriptors"
expect_eq "$OUT" "$(printf '0\n1\n1\n1\nsealed')" "what curl is given (memory files it holds; the config's key line; the certificate and key in the file; a write)"

# without the certificate, the bound token is refused (and curl's retry with a fresh one
# too): the resource really checks
write_profile secret-only ok
run_kb curl --profile secret-only -sS "$BASE/api/bound"
expect_rc 0 "curl without a certificate"
expect_eq "$(jq -r .error <<<"$OUT")" invalid_token "curl without a certificate"
# a certificate of the user's own is refused, whatever the profile
for option in --cert -E --key --cert-type --key-type --pass --engine; do
	run_kb curl --profile mtls1 "$option" "$TLS/other-client.pem" "$BASE/api/bound"
	expect_rc 64 "curl $option"
	expect_eq "$OUT" "" "curl $option: stdout"
	expect_match "$ERR" "^keybearer: keybearer curl does not take --[a-z-]+( \(-E\))?: keybearer curl sets it itself" "curl $option"
done
# keybearer-fetch writes the key only into an empty memory file that can be sealed: not to
# a terminal, a pipe or a file someone hands it
FETCH=${KEYBEARER_FETCH:-$KB_STAGE/libexec/keybearer/keybearer-fetch}
set +e
"$FETCH" client-cert --profile mtls1 --fd 1 >"$WORK/fetch-out" 2>"$WORK/fetch-err"
RC=$?
"$FETCH" client-cert --profile mtls1 --fd 5 5>>"$WORK/fetch-file" 2>>"$WORK/fetch-err"
RC2=$?
set -e
ERR=$(cat "$WORK/fetch-err")
expect_eq "$RC $RC2" "64 64" "client-cert onto stdout, onto a file"
expect_eq "$(cat "$WORK/fetch-out" "$WORK/fetch-file")" "" "client-cert onto stdout, onto a file: written"
expect_match "$ERR" "^keybearer: --fd names no empty, unsealed memory file" "client-cert onto stdout"

# keybearer curl for a profile whose key is unusable: keybearer-fetch says why, curl is
# never run
cp "$TLS/client.key" "$WORK/later.key" && chmod 600 "$WORK/later.key"
write_profile later mtls "token_url = $BASE/mtls/token?later" "${mtls_keys[@]}" "client_key = file:$WORK/later.key"
run_kb get --profile later
expect_rc 0 "get, before the key goes"
rm "$WORK/later.key"
before=$(server GET /_requests/bound | jq length)
run_kb curl --profile later -sS "$BASE/api/bound"
expect_rc 78 "curl without the key"
expect_eq "$OUT" "" "curl without the key: stdout"
expect_match "$ERR" "^keybearer: client key file $WORK/later\.key of profile later does not exist" "curl without the key"
expect_eq "$(server GET /_requests/bound | jq length)" "$before" "curl without the key: requests"
echo "all mtls cases passed"

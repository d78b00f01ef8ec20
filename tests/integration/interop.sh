#!/usr/bin/env bash
# keybearer against authorization servers nobody here wrote: npm oidc-provider (pinned in
# tests/interop/package-lock.json) and Debian's python3-authlib. Both auth methods, RS256
# and ES256 JWT access tokens through resource indicators, scope and resource passed
# through, OIDC discovery, inspect, inspect --verify, mutual-TLS client authentication
# (RFC 8705: tls_client_auth and self_signed_tls_client_auth, certificate-bound tokens,
# the discovery document's mtls_endpoint_aliases), and authlib refusing a client that
# authenticates the way it is not registered to.
. "$(dirname "$0")/lib.sh"

INTEROP="$KB_SOURCE/tests/interop"
[ -d "$INTEROP/node_modules/oidc-provider" ] ||
	fail "tests/interop/node_modules is missing — packaging/deps.sh runs npm ci there"
API=https://api.keybearer.test/
ES=https://es.keybearer.test/

logged() { tail -1 "$WORK/$1.log" | jq -r "$2"; } # NAME JQ: of the last request
jwt_part() { # TOKEN N: part N (1 header, 2 claims) of a JWT, as JSON
	local part
	part=$(cut -d. -f"$2" <<<"$1" | tr '_-' '/+')
	while [ $((${#part} % 4)) -ne 0 ]; do part="$part="; done
	base64 -d <<<"$part"
}

start_server # the CA, and the secret file of lib.sh
cp "$WORK/secret" "$WORK/oidc.secret"
# Client certificates beside make-ca.sh's client.pem (CN=kb-test-client, the test CA) and
# other-client.pem (the same name, another CA): one of the test CA for another name, and a
# self-signed one that oidc-provider's kb-selfsigned client has registered (its x5c).
TLS="$WORK/tls"
OPENSSL_CONF=/dev/null openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -days 2 \
	-subj /CN=kb-stranger -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -keyout "$TLS/stranger.key" \
	-out "$TLS/stranger.pem" -addext extendedKeyUsage=clientAuth 2>/dev/null
OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
	-days 2 -subj /CN=kb-self-signed -keyout "$TLS/self-signed.key" -out "$TLS/self-signed.pem" \
	-addext basicConstraints=critical,CA:FALSE 2>/dev/null
chmod 600 "$TLS/stranger.key" "$TLS/self-signed.key"
start_interop oidc "$WORK/oidc.secret" node "$INTEROP/oidc_server.mjs" --client-ca "$TLS/ca.pem" \
	--self-signed-cert "$TLS/self-signed.pem"
OIDC=$BASE

echo "# oidc-provider, client_secret_basic, an RS256 JWT for a resource, through discovery"
write_profile op-basic ok "token_url = " "issuer = $OIDC" "client_id = kb-basic" \
	"auth_method = client_secret_basic" "scope = read" "resource = $API"
run_kb get --profile op-basic --format json
expect_rc 0 "get from oidc-provider with client_secret_basic"
expect_eq "$ERR" "" "stderr of that get"
token=$(jq -r .access_token <<<"$OUT")
expires_at=$(jq -r .expires_at <<<"$OUT")
expect_eq "$(logged oidc .auth_method)" client_secret_basic "the auth method the server saw"
expect_eq "$(logged oidc .endpoint)" token "a secret goes to token_endpoint, not the mTLS alias"
expect_eq "$(logged oidc .scope)" read "scope passed through"
expect_eq "$(logged oidc .resource)" "$API" "resource passed through"
expect_eq "$(jwt_part "$token" 1 | jq -r .alg)" RS256 "alg"
exp=$(jwt_part "$token" 2 | jq -r .exp)
[ $((expires_at - exp)) -ge -2 ] && [ $((expires_at - exp)) -le 2 ] ||
	fail "--format json expires_at $expires_at is not the JWT's exp $exp"
run_kb inspect --profile op-basic
expect_rc 0 "inspect"
for claim in "aud.*$API" "scope.*read" "client_id.*kb-basic" "iss.*$OIDC" "alg.*RS256"; do
	expect_match "$OUT" "$claim" "inspect shows $claim"
done

echo "# oidc-provider, client_secret_post, an ES256 JWT"
write_profile op-post ok "token_url = " "issuer = $OIDC" "client_id = kb-post" \
	"scope = read write" "resource = $ES"
run_kb get --profile op-post --format token
expect_rc 0 "get from oidc-provider with client_secret_post"
es_token=$OUT
expect_eq "$(logged oidc .auth_method)" client_secret_post "the auth method the server saw"
expect_eq "$(logged oidc .scope)" "read write" "both scopes passed through"
expect_eq "$(jwt_part "$es_token" 1 | jq -r .alg)" ES256 "alg"
expect_eq "$(jwt_part "$es_token" 2 | jq -r .aud)" "$ES" "aud of the ES256 token"
expect_eq "$(curl -sS --cacert "$CA" "$OIDC/_count")" 2 "oidc-provider token requests"

echo "# inspect --verify: the signature against the issuer's JWKS, then expiry and audience"
run_kb inspect --profile op-basic --verify
expect_rc 0 "verify the RS256 token"
expect_match "$(tail -1 <<<"$OUT")" "^verified: RS256 signature by key kb-rs256 of $OIDC/jwks; expires in [0-9]+ min( [0-9]+ s)?; audience $API; issuer $OIDC$" "verdict on the RS256 token"
run_kb inspect --profile op-post --verify
expect_rc 0 "verify the ES256 token"
expect_match "$(tail -1 <<<"$OUT")" "^verified: ES256 signature by key kb-es256 of $OIDC/jwks; .*audience $ES; issuer $OIDC$" "verdict on the ES256 token"
run_kb inspect --profile op-basic --verify --audience https://other.example/
expect_rc 77 "verify against another audience"
expect_eq "$ERR" "keybearer: token verification failed: wrong audience: the token is for \"$API\", not https://other.example/ — check audience or resource in [profile op-basic]" "wrong audience"
# one character in the middle of the signature changed (the last one carries spare bits)
signature=${token##*.}
middle=$((${#signature} / 2))
swap=$([ "${signature:$middle:1}" = A ] && echo B || echo A)
tampered="${token%.*}.${signature:0:$middle}$swap${signature:$((middle + 1))}"
printf '%s\n' "$tampered" >"$WORK/tampered"
KB_STDIN="$WORK/tampered" run_kb inspect - --profile op-basic --verify
expect_rc 77 "verify a tampered token"
expect_match "$ERR" "^keybearer: token verification failed with the keys of $OIDC/jwks: .*signature does not match key kb-rs256" "tampered signature"
printf '%s\n' "$token" >"$WORK/token"
write_profile plain ok
KB_STDIN="$WORK/token" run_kb inspect - --profile plain --verify
expect_rc 78 "verify with a profile that names no keys"
expect_match "$ERR" "names no keys to verify with — set jwks_url, or issuer" "no keys"

echo "# a genuine signature does not excuse the claims: expiry, nbf, issuer, audience"
# tokens signed here with a key whose JWKS a plain loopback web server publishes
mkdir -p "$WORK/keys"
sign() { "$PY" "$TESTS/sign-jwt.py" "$WORK/keys" "$1" >"$WORK/signed"; }
sign '{"exp": 300}'
JWKS="$(serve_directory "$WORK/keys")/jwks.json"
write_profile local ok "jwks_url = $JWKS" "audience = https://local.test/"
for row in \
	'{"exp": 300, "aud": ["x", "https://local.test/"]}|0|^verified: RS256 signature by key local of '"$JWKS"'; expires in (4 min 5[89] s|5 min); audience https://local.test/; issuer not checked \(the profile names none\)$' \
	'{"exp": -90, "aud": "https://local.test/"}|77|^keybearer: token verification failed: expired 1 min 3[01] s ago — run keybearer get for a fresh one$' \
	'{"aud": "https://local.test/"}|77|^keybearer: token verification failed: the token has no exp' \
	'{"exp": 300, "nbf": 600, "aud": "https://local.test/"}|77|^keybearer: token verification failed: not valid for another (599|600) s \(nbf\)' \
	'{"exp": 300, "aud": "https://elsewhere.test/"}|77|^keybearer: token verification failed: wrong audience: the token is for "https://elsewhere.test/", not https://local.test/' \
	'{"exp": 300}|77|^keybearer: token verification failed: wrong audience: the token is for no audience \(no aud\), not https://local.test/'; do
	IFS='|' read -r claims code pattern <<<"$row"
	sign "$claims"
	KB_STDIN="$WORK/signed" run_kb inspect - --profile local --verify
	expect_rc "$code" "verify $claims"
	if [ "$code" = 0 ]; then
		expect_match "$(tail -1 <<<"$OUT")" "$pattern" "verdict on $claims"
	else
		expect_match "$ERR" "$pattern" "verdict on $claims"
	fi
done
write_profile local-iss ok "jwks_url = $JWKS" "issuer = https://issuer.test"
sign '{"exp": 300, "iss": "https://impostor.test"}'
KB_STDIN="$WORK/signed" run_kb inspect - --profile local-iss --verify
expect_rc 77 "a token from another issuer"
expect_match "$ERR" "^keybearer: token verification failed: issued by \"https://impostor.test\", not by the profile's issuer https://issuer.test" "issuer"

echo "# oidc-provider, mutual TLS (RFC 8705): certificate-bound tokens, aliases, refusals"
# x5t#S256 of a PEM certificate: base64url of the SHA-256 of its DER.
thumbprint() {
	openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' |
		tr -d '=\n'
}
count() { curl -sS --cacert "$CA" "$OIDC/_count"; }
# mtls_profile NAME CLIENT METHOD CERT [LINE...]: a profile with no secret, the certificate
# $TLS/CERT.pem and its key
mtls_profile() {
	local name=$1 client=$2 method=$3 cert=$4
	shift 4
	write_profile "$name" ok "token_url = $OIDC/token" "client_id = $client" "secret = " \
		"auth_method = $method" "client_cert = file:$TLS/$cert.pem" \
		"client_key = file:$TLS/$cert.key" "resource = $API" "$@"
}
# NAME|CLIENT|METHOD|CERT|ENDPOINT the server saw|more profile lines, ";"-separated, or -
# (each row its own scope or endpoint: profiles of one client and scope share a token)
discovered="token_url = ;issuer = $OIDC"
for row in "op-mtls|kb-mtls|tls_client_auth|client|token|-" \
	"op-mtls-issuer|kb-mtls|tls_client_auth|client|mtls|$discovered;scope = read" \
	"op-mtls-secret|kb-mtls|tls_client_auth|client|token|secret = file:$WORK/oidc.secret;scope = write" \
	"op-self|kb-selfsigned|self_signed_tls_client_auth|self-signed|token|-" \
	"op-self-issuer|kb-selfsigned|self_signed_tls_client_auth|self-signed|mtls|$discovered;scope = read"; do
	IFS='|' read -r name client method cert endpoint lines <<<"$row"
	extra=()
	[ "$lines" = - ] || IFS=';' read -r -a extra <<<"$lines"
	mtls_profile "$name" "$client" "$method" "$cert" ${extra[@]+"${extra[@]}"}
	before=$(count)
	run_kb get --profile "$name" --format token
	what="$name ($method, $cert.pem)"
	expect_rc 0 "$what"
	expect_eq "$ERR" "" "$what: stderr"
	expect_eq "$(($(count) - before))" 1 "$what: token requests"
	token=$OUT
	want=$(thumbprint "$TLS/$cert.pem")
	expect_eq "$(logged oidc .endpoint)" "$endpoint" "$what: the endpoint asked"
	expect_eq "$(logged oidc .certificate)" "$want" "$what: the certificate the server saw"
	expect_eq "$(logged oidc .auth_method)" client_certificate "$what: no secret, no assertion"
	expect_eq "$(logged oidc .status)" 200 "$what: the answer"
	expect_eq "$(jwt_part "$token" 2 | jq -r '.cnf."x5t#S256"')" "$want" "$what: cnf x5t#S256"
	expect_eq "$(jwt_part "$token" 2 | jq -r .client_id)" "$client" "$what: client_id"
	run_kb inspect --profile "$name"
	expect_rc 0 "$what: inspect"
	expect_eq "$(jq -r .bound_to_certificate <<<"$OUT")" "$want" "$what: inspect"
	# the second get is the cached token: no request
	run_kb get --profile "$name" --format token
	expect_rc 0 "$what: cached get"
	expect_eq "$OUT" "$token" "$what: cached token"
	expect_eq "$(($(count) - before))" 1 "$what: token requests after the cached get"
done
run_kb status --profile op-mtls-issuer
expect_match "$OUT" "$OIDC/mtls/token" "status names the mTLS alias"
run_kb inspect --profile op-mtls-issuer --verify
expect_rc 0 "verify the certificate-bound token"
expect_match "$(tail -1 <<<"$OUT")" "^verified: RS256 signature by key kb-rs256 of $OIDC/jwks; .*audience $API; issuer $OIDC$" "verdict on the certificate-bound token"

# NAME|CLIENT|METHOD|CERT|why oidc-provider refused it (its error_detail, in its log only)
for row in "op-mtls-other-ca|kb-mtls|tls_client_auth|other-client|client certificate was not verified" \
	"op-mtls-stranger|kb-mtls|tls_client_auth|stranger|certificate subject value does not match the registered one" \
	"op-self-unregistered|kb-selfsigned|self_signed_tls_client_auth|client|unregistered client certificate provided"; do
	IFS='|' read -r name client method cert detail <<<"$row"
	mtls_profile "$name" "$client" "$method" "$cert"
	before=$(count)
	run_kb get --profile "$name"
	what="$name ($method, $cert.pem)"
	expect_rc 77 "$what"
	expect_eq "$OUT" "" "$what: stdout"
	expect_eq "$ERR" "keybearer: token endpoint refused the request: invalid_client: client authentication failed — check client_id, client_cert (is it the one registered for the client?) and auth_method (this request used $method)" "$what: stderr"
	expect_eq "$(($(count) - before))" 1 "$what: token requests"
	expect_eq "$(logged oidc .status)" 401 "$what: the answer"
	expect_eq "$(logged oidc .detail)" "$detail" "$what: why"
	expect_eq "$(logged oidc .certificate)" "$(thumbprint "$TLS/$cert.pem")" "$what: the certificate the server saw"
	# a refused certificate is the answer until it changes: the next get asks no one
	run_kb get --profile "$name"
	expect_rc 77 "$what, again"
	expect_eq "$OUT" "" "$what, again: stdout"
	expect_eq "$(($(count) - before))" 1 "$what, again: token requests"
done

echo "# authlib: each client authenticates only the way it is registered to"
# authlib 1.2 compares the Basic credentials without form-decoding them (RFC 6749 2.3.1
# says to encode them), so its clients get a secret that encoding leaves alone.
printf 'authlibSecret0123456789' >"$WORK/authlib.secret"
chmod 600 "$WORK/authlib.secret"
# a fake CI issuer (GitHub Actions' ID-token request, and its JWKS) whose tokens authlib's
# kb-federated client takes as its client assertion
printf 'ci-request-token-%s\n' "$RANDOM$RANDOM" >"$WORK/ci-request-token"
"$PY" "$TESTS/ci_issuer.py" --port-file "$WORK/ci.port" \
	--request-token-file "$WORK/ci-request-token" --log "$WORK/ci.log" &
SERVER_PIDS+=($!)
wait_for_file "$WORK/ci.port" "CI issuer"
CI="http://127.0.0.1:$(cat "$WORK/ci.port")"
start_interop authlib "$WORK/authlib.secret" "$PY" "$INTEROP/authlib_server.py" --ci-issuer "$CI"
AUTHLIB=$BASE
for row in "al-basic|kb-basic|client_secret_basic" "al-post|kb-post|client_secret_post"; do
	IFS='|' read -r name client method <<<"$row"
	write_profile "$name" ok "token_url = $AUTHLIB/oauth/token" "client_id = $client" \
		"auth_method = $method" "scope = read" "secret = file:$WORK/authlib.secret"
	run_kb get --profile "$name" --format json
	expect_rc 0 "get from authlib with $method"
	expect_eq "$(logged authlib .auth_method)" "$method" "the auth method authlib saw"
	left=$(($(jq -r .expires_at <<<"$OUT") - $(date +%s)))
	[ "$left" -ge 3590 ] && [ "$left" -le 3600 ] || fail "expires_in 3600 read as $left s"
done
# (another scope: the same client and scope would share al-basic's cached token)
write_profile al-wrong ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-basic" \
	"auth_method = client_secret_post" "scope = read write" "secret = file:$WORK/authlib.secret"
run_kb get --profile al-wrong
expect_rc 77 "client_secret_post for a client_secret_basic client"
expect_eq "$OUT" "" "stdout of the refused get"
expect_eq "$ERR" "keybearer: token endpoint refused the request: invalid_client — check client_id, the secret (was it rotated?) and auth_method (this request used client_secret_post)" "the refusal"
expect_eq "$(logged authlib .status)" 401 "authlib's answer"
expect_no_secret "$ERR"

echo "# authlib: a client with no secret, authenticated by the CI's ID token (RFC 7523 2.2)"
write_profile al-federated ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-federated" \
	"secret = " "auth_method = client_assertion" "assertion = github-actions" "scope = read"
ACTIONS_ID_TOKEN_REQUEST_URL="$CI/ok/idtoken?api-version=2.0" \
	ACTIONS_ID_TOKEN_REQUEST_TOKEN=$(cat "$WORK/ci-request-token") \
	run_kb get --profile al-federated --format json
expect_rc 0 "get from authlib with a GitHub Actions ID token"
expect_eq "$ERR" "" "stderr of that get"
expect_eq "$(logged authlib .auth_method)" client_assertion "the auth method authlib saw"
expect_eq "$(logged authlib .status)" 200 "authlib's answer"
expect_eq "$(jq -r .audience "$WORK/ci.log" | tail -1)" "$AUTHLIB/oauth/token" \
	"the audience asked of the CI issuer"
expect_eq "$(jq -r .auth "$WORK/ci.log" | tail -1)" valid "the request token the CI issuer saw"
# the same issuer, another subject: a workflow the client does not trust
curl -sS "$CI/_mint?aud=$AUTHLIB/oauth/token&exp=300&sub=repo:someone/else:ref:refs/heads/main" \
	>"$WORK/other-subject"
write_profile al-federated-other ok "token_url = $AUTHLIB/oauth/token" \
	"client_id = kb-federated" "secret = " "auth_method = client_assertion" \
	"assertion = file:$WORK/other-subject" "scope = read write"
chmod 600 "$WORK/other-subject"
run_kb get --profile al-federated-other
expect_rc 77 "an ID token of a subject the client does not trust"
expect_eq "$OUT" "" "stdout of the refused get"
expect_eq "$ERR" "keybearer: token endpoint refused the request: invalid_client — check client_id and that the provider trusts the assertion: its issuer, subject and audience (assertion_audience) (this request used client_assertion)" "the refusal"
# (400: RFC 6749 5.2 keeps 401 for a client that authenticated by a header)
expect_eq "$(logged authlib .status)" 400 "authlib's answer"
expect_no_match "$ERR" "$(cat "$WORK/other-subject")" "the assertion in stderr"
echo "interop: all passed"

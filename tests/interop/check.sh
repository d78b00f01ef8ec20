#!/bin/bash
# check.sh -- smoke test of the two real authorization servers used as fixtures:
# oidc_server.mjs (npm oidc-provider) and authlib_server.py (Debian's python3-authlib).
#
# Makes a throw-away test CA, starts each server on 127.0.0.1, talks to it with curl
# and checks replies, JWTs (signatures verified against the served JWKS, by authlib's
# JOSE code), /_count, discovery and the --log lines. Exits non-zero on any failure.
#
# Needs: node + npm (runs `npm ci` here when node_modules is missing), curl, openssl,
# /usr/bin/python3 with python3-authlib and python3-flask.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3 # Debian's interpreter; another python3 may come first on PATH
SECRET='s3c+r/e=t&x% y'            # every character form encoding must escape
SECRET_FORM='s3c%2Br%2Fe%3Dt%26x%25+y' # the same, application/x-www-form-urlencoded
API=https://api.keybearer.test/
ES=https://es.keybearer.test/

# The machine exports CA variables pointing at the system bundle; we use our own CA.
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR SSLKEYLOGFILE
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keybearer-interop.XXXXXX")
SERVER_PIDS=()
PASSED=0
FAILED=0

cleanup() {
	local rc=$? pid
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${SERVER_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT

ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}
bad() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
}
check() { # DESCRIPTION COMMAND...: passes when COMMAND succeeds
	local what=$1
	shift
	if "$@"; then ok "$what"; else bad "$what"; fi
}

now_ms() { date +%s%3N; }

# start NAME COMMAND...: starts a server with the common arguments; sets PORT, BASE, PID
start() {
	local name=$1 t0 t1
	shift
	local port_file="$WORK/$name.port"
	t0=$(now_ms)
	"$@" --port-file "$port_file" --cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key" \
		--secret-file "$WORK/secret" --log "$WORK/$name.log" 2>"$WORK/$name.err" &
	PID=$!
	SERVER_PIDS+=("$PID")
	for _ in $(seq 300); do
		[ -s "$port_file" ] && break
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.02
	done
	t1=$(now_ms)
	if [ ! -s "$port_file" ]; then
		cat "$WORK/$name.err" >&2
		bad "$name did not start"
		exit 1
	fi
	PORT=$(cat "$port_file")
	BASE="https://127.0.0.1:$PORT"
	ok "$name listening on $BASE after $((t1 - t0)) ms"
}

# post URL CURL-ARGS...: POSTs a form; sets STATUS and BODY
post() {
	local url=$1
	shift
	STATUS=$(curl -sS --cacert "$WORK/tls/ca.pem" -o "$WORK/body" -w '%{http_code}' \
		-D "$WORK/headers" "$@" "$url")
	BODY=$(cat "$WORK/body")
	REQUESTS=$((REQUESTS + 1))
}

get() { curl -sS --fail --cacert "$WORK/tls/ca.pem" "$1"; }

# json DESCRIPTION EXPR: EXPR is Python, with j the parsed $BODY
json() {
	check "$1" "$PY" -c 'import json, sys; j = json.loads(sys.argv[1]); sys.exit(0 if ('"$2"') else 1)' "$BODY"
}

# reply DESCRIPTION STATUS EXPR: checks $STATUS and the JSON reply
reply() {
	echo "   $STATUS $BODY"
	if [ "$STATUS" = "$2" ]; then ok "$1: HTTP $2"; else bad "$1: HTTP $STATUS, expected $2"; fi
	json "$1: reply" "$3"
}

# logged NAME EXPR: EXPR is Python, with e the last line of NAME's --log
logged() {
	check "$1 logged $2" "$PY" -c 'import json, sys
lines = open(sys.argv[1]).read().splitlines()
e = json.loads(lines[-1])
ok = set(e) >= {"client_id", "auth_method", "grant_type", "scope", "resource", "status"} and ('"$2"')
sys.exit(0 if ok else print("   last log line:", lines[-1]) or 1)' "$WORK/$1.log"
}

# jwt DESCRIPTION TOKEN ALG AUD SCOPE CLIENT JWKS ISSUER: decodes and verifies an access token
jwt() {
	check "$1" "$PY" - "$@" <<'EOF'
import base64, json, sys, time
from authlib.jose import JsonWebKey, jwt

_, token, alg, aud, scope, client, jwks, issuer = sys.argv[1:9]
def part(s):
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
head_b64, payload_b64, _ = token.split(".")
header, payload = part(head_b64), part(payload_b64)
print("   header:", json.dumps(header))
print("   payload:", json.dumps(payload))
keys = JsonWebKey.import_key_set(json.loads(jwks))
claims = jwt.decode(token, keys)  # raises unless the signature verifies
claims.validate()
problems = []
if header.get("alg") != alg: problems.append("alg")
if header.get("typ") != "at+jwt": problems.append("typ")
if payload.get("aud") != aud: problems.append("aud")
if payload.get("scope") != scope: problems.append("scope")
if payload.get("client_id") != client: problems.append("client_id")
if payload.get("iss") != issuer: problems.append("iss")
if not isinstance(payload.get("exp"), int) or not 0 < payload["exp"] - time.time() <= 300:
    problems.append("exp")
if payload.get("exp", 0) - payload.get("iat", 0) != 300: problems.append("lifetime")
if problems:
    print("   wrong:", ", ".join(problems))
sys.exit(1 if problems else 0)
EOF
}

# stop NAME PID: SIGTERM must end the server promptly and cleanly
stop() {
	local name=$1 pid=$2 rc=0 t0 t1
	t0=$(now_ms)
	kill -TERM "$pid"
	wait "$pid" || rc=$?
	t1=$(now_ms)
	if [ "$rc" = 0 ]; then ok "$name stopped on SIGTERM in $((t1 - t0)) ms"; else bad "$name exited $rc on SIGTERM"; fi
}

bash "$ROOT/tests/integration/make-ca.sh" "$WORK/tls"
printf '%s' "$SECRET" >"$WORK/secret"
chmod 600 "$WORK/secret"

if [ ! -d "$HERE/node_modules/oidc-provider" ]; then
	(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== oidc-provider ($(node -p 'require("'"$HERE"'/node_modules/oidc-provider/package.json").version'), node $(node --version))"
REQUESTS=0
start oidc node "$HERE/oidc_server.mjs" --client-ca "$WORK/tls/ca.pem"
OIDC_PID=$PID
TOKEN="$BASE/token"

DISCOVERY=$(get "$BASE/.well-known/openid-configuration")
BODY=$DISCOVERY
json "discovery names token_endpoint and jwks_uri" \
	"j['token_endpoint'] == '$TOKEN' and j['jwks_uri'] == '$BASE/jwks' and j['issuer'] == '$BASE' and 'client_credentials' in j['grant_types_supported'] and {'client_secret_basic', 'client_secret_post'} <= set(j['token_endpoint_auth_methods_supported'])"
JWKS=$(get "$BASE/jwks")
BODY=$JWKS
json "jwks serves an RS256 and an ES256 public key" \
	"sorted((k['kty'], k['alg'], k.get('crv')) for k in j['keys']) == [('EC', 'ES256', 'P-256'), ('RSA', 'RS256', None)] and not any('d' in k for k in j['keys'])"

post "$TOKEN" -u "kb-basic:$SECRET_FORM" -d grant_type=client_credentials -d scope=read
reply "kb-basic, client_secret_basic (form-encoded credentials)" 200 \
	"j['token_type'] == 'Bearer' and j['expires_in'] == 600 and j['scope'] == 'read' and j['access_token']"
logged oidc "e['client_id'] == 'kb-basic' and e['auth_method'] == 'client_secret_basic' and e['grant_type'] == 'client_credentials' and e['scope'] == 'read' and e['resource'] is None and e['status'] == 200"

post "$TOKEN" -d client_id=kb-post --data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials
reply "kb-post, client_secret_post" 200 "j['token_type'] == 'Bearer' and j['expires_in'] == 600 and 'scope' not in j"
logged oidc "e['client_id'] == 'kb-post' and e['auth_method'] == 'client_secret_post' and e['scope'] is None and e['status'] == 200"

post "$TOKEN" -u "kb-basic:$SECRET_FORM" -d grant_type=client_credentials -d scope=read --data-urlencode "resource=$API"
reply "kb-basic, resource $API" 200 "j['expires_in'] == 300 and j['scope'] == 'read' and j['access_token'].count('.') == 2"
jwt "RS256 JWT access token: aud, exp, scope, client_id, signature" \
	"$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$BODY")" RS256 "$API" read kb-basic "$JWKS" "$BASE"
logged oidc "e['resource'] == '$API' and e['status'] == 200"

post "$TOKEN" -d client_id=kb-post --data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials \
	--data-urlencode 'scope=read write' --data-urlencode "resource=$ES"
reply "kb-post, resource $ES" 200 "j['expires_in'] == 300 and j['scope'] == 'read write'"
jwt "ES256 JWT access token: aud, exp, scope, client_id, signature" \
	"$("$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["access_token"])' "$BODY")" ES256 "$ES" "read write" kb-post "$JWKS" "$BASE"

# oidc-provider does not enforce the registered method: either secret method
# satisfies a client registered with either (lib/shared/client_auth.js).
post "$TOKEN" -d client_id=kb-basic --data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials
reply "kb-basic with client_secret_post is accepted (not enforced)" 200 "j['token_type'] == 'Bearer'"
logged oidc "e['client_id'] == 'kb-basic' and e['auth_method'] == 'client_secret_post' and e['status'] == 200"
post "$TOKEN" -u "kb-post:$SECRET_FORM" -d grant_type=client_credentials
reply "kb-post with client_secret_basic is accepted (not enforced)" 200 "j['token_type'] == 'Bearer'"

post "$TOKEN" -u "kb-basic:wrong" -d grant_type=client_credentials
reply "wrong secret" 401 "j['error'] == 'invalid_client'"
check "wrong secret: WWW-Authenticate Basic" grep -qi '^www-authenticate: basic' "$WORK/headers"
logged oidc "e['status'] == 401 and e['auth_method'] == 'client_secret_basic'"

# It form-decodes Basic credentials (RFC 6749 2.3.1): this raw secret's "% y" is no valid escape.
post "$TOKEN" -u "kb-basic:$SECRET" -d grant_type=client_credentials
reply "raw (not form-encoded) secret in Basic" 400 "j['error'] == 'invalid_request'"

post "$TOKEN" -u "kb-basic:$SECRET_FORM" -d grant_type=client_credentials --data-urlencode "resource=https://other.test/"
reply "unknown resource" 400 "j['error'] == 'invalid_target'"
# Scopes it does not know are dropped silently, not refused.
post "$TOKEN" -u "kb-basic:$SECRET_FORM" -d grant_type=client_credentials --data-urlencode 'scope=read admin'
reply "unknown scope is dropped" 200 "j['scope'] == 'read'"

# RFC 8705: the TLS server asks for a client certificate (the secret clients above sent
# none); kb-mtls is registered by the subject of make-ca.sh's client.pem.
BODY=$DISCOVERY
json "discovery: the mTLS alias, certificate-bound tokens, both mTLS methods" \
	"j['mtls_endpoint_aliases'] == {'token_endpoint': '$BASE/mtls/token'} and j['tls_client_certificate_bound_access_tokens'] is True and {'tls_client_auth', 'self_signed_tls_client_auth'} <= set(j['token_endpoint_auth_methods_supported'])"
X5T=$(openssl x509 -in "$WORK/tls/client.pem" -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
post "$BASE/mtls/token" --cert "$WORK/tls/client.pem" --key "$WORK/tls/client.key" \
	-d client_id=kb-mtls -d grant_type=client_credentials --data-urlencode "resource=$API"
reply "kb-mtls, tls_client_auth at the alias" 200 "j['token_type'] == 'Bearer' and j['expires_in'] == 300"
BODY=$("$PY" -c 'import base64, json, sys
p = json.loads(sys.argv[1])["access_token"].split(".")[1]
print(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "$BODY")
json "kb-mtls: the token is bound to client.pem" "j['cnf'] == {'x5t#S256': '$X5T'} and j['client_id'] == 'kb-mtls'"
logged oidc "e['client_id'] == 'kb-mtls' and e['endpoint'] == 'mtls' and e['certificate'] == '$X5T' and e['auth_method'] == 'client_certificate' and e['status'] == 200"
post "$TOKEN" -d client_id=kb-mtls -d grant_type=client_credentials
reply "kb-mtls without a certificate" 401 "j['error'] == 'invalid_client'"
logged oidc "e['endpoint'] == 'token' and e['certificate'] is None and e['detail'] == 'client certificate was not provided'"
post "$TOKEN" --cert "$WORK/tls/other-client.pem" --key "$WORK/tls/other-client.key" \
	-d client_id=kb-mtls -d grant_type=client_credentials
reply "kb-mtls with the same name from another CA" 401 "j['error'] == 'invalid_client'"
logged oidc "e['detail'] == 'client certificate was not verified'"

check "oidc /_count = $REQUESTS" [ "$(get "$BASE/_count")" = "$REQUESTS" ]
check "oidc log has $REQUESTS lines" [ "$(wc -l <"$WORK/oidc.log")" = "$REQUESTS" ]
stop oidc "$OIDC_PID"

echo "== authlib ($("$PY" -c 'import authlib; print(authlib.__version__)'), $("$PY" --version))"
REQUESTS=0
start authlib "$PY" "$HERE/authlib_server.py"
AUTHLIB_PID=$PID
TOKEN="$BASE/oauth/token"

# authlib 1.2 compares Basic credentials undecoded: the raw secret is what works.
post "$TOKEN" -u "kb-basic:$SECRET" -d grant_type=client_credentials -d scope=read
reply "kb-basic, client_secret_basic (raw credentials)" 200 \
	"j['token_type'] == 'Bearer' and j['expires_in'] == 3600 and j['scope'] == 'read' and len(j['access_token']) == 42"
logged authlib "e['client_id'] == 'kb-basic' and e['auth_method'] == 'client_secret_basic' and e['grant_type'] == 'client_credentials' and e['scope'] == 'read' and e['status'] == 200"

post "$TOKEN" -d client_id=kb-post --data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials \
	--data-urlencode 'scope=read write' --data-urlencode "resource=$API"
reply "kb-post, client_secret_post" 200 "j['token_type'] == 'Bearer' and j['expires_in'] == 3600 and j['scope'] == 'read write'"
logged authlib "e['client_id'] == 'kb-post' and e['auth_method'] == 'client_secret_post' and e['scope'] == 'read write' and e['resource'] == '$API' and e['status'] == 200"

post "$TOKEN" -d client_id=kb-basic --data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials
reply "kb-basic with client_secret_post is refused" 401 "j == {'error': 'invalid_client'}"
logged authlib "e['client_id'] == 'kb-basic' and e['auth_method'] == 'client_secret_post' and e['status'] == 401 and e['error'] == 'invalid_client'"

post "$TOKEN" -u "kb-post:$SECRET" -d grant_type=client_credentials
reply "kb-post with client_secret_basic is refused" 401 "j == {'error': 'invalid_client'}"
check "refusal: WWW-Authenticate Basic" grep -qi '^www-authenticate: basic error="invalid_client"' "$WORK/headers"
logged authlib "e['client_id'] == 'kb-post' and e['auth_method'] == 'client_secret_basic' and e['status'] == 401"

post "$TOKEN" -u "kb-basic:$SECRET_FORM" -d grant_type=client_credentials
reply "form-encoded Basic credentials are not decoded by authlib 1.2" 401 "j['error'] == 'invalid_client'"

post "$TOKEN" -d client_id=kb-post --data-urlencode "client_secret=wrong" -d grant_type=client_credentials
reply "wrong secret" 401 "j['error'] == 'invalid_client'"
post "$TOKEN" -d client_id=kb-post --data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials -d scope=admin
reply "unknown scope" 400 "j['error'] == 'invalid_scope'"
post "$TOKEN" -d client_id=kb-post --data-urlencode "client_secret=$SECRET" -d grant_type=password
reply "other grant type" 400 "j['error'] == 'unsupported_grant_type'"

# A few at once, while a connection that never starts TLS sits open.
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
pids=()
for i in 1 2 3 4 5; do
	curl -sS --cacert "$WORK/tls/ca.pem" -o /dev/null -w '%{http_code}\n' -d client_id=kb-post \
		--data-urlencode "client_secret=$SECRET" -d grant_type=client_credentials "$TOKEN" >"$WORK/concurrent.$i" &
	pids+=($!)
done
wait "${pids[@]}"
exec 3>&-
REQUESTS=$((REQUESTS + 5))
check "5 concurrent requests with an idle connection open" [ "$(cat "$WORK"/concurrent.* | sort -u)" = 200 ]

check "authlib /_count = $REQUESTS" [ "$(get "$BASE/_count")" = "$REQUESTS" ]
check "authlib log has $REQUESTS lines" [ "$(wc -l <"$WORK/authlib.log")" = "$REQUESTS" ]
stop authlib "$AUTHLIB_PID"

for name in oidc authlib; do
	# stderr may hold oidc-provider's warnings about Node 20 and its in-memory adapter
	if grep -v 'oidc-provider WARNING' "$WORK/$name.err" | grep -q .; then
		bad "$name wrote to stderr:"
		cat "$WORK/$name.err" >&2
	fi
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]

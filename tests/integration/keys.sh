#!/usr/bin/env bash
# Key-based client authentication against servers nobody here wrote: private_key_jwt and
# client_secret_jwt (RFC 7523) with authlib's JWTBearerClientAssertion and oidc-provider's
# own client authentication. Every key type and algorithm, the assertion's claims as the
# servers saw them, a fresh jti per request, the kid as RFC 7638 has it (the servers find
# it in a JWKS that authlib wrote), and the faults of keys.tsv, one runner.
. "$(dirname "$0")/lib.sh"

INTEROP="$KB_SOURCE/tests/interop"
[ -d "$INTEROP/node_modules/oidc-provider" ] ||
	fail "tests/interop/node_modules is missing — packaging/deps.sh runs npm ci there"

logged() { tail -1 "$WORK/$1.log" | jq -r "$2"; } # NAME JQ: of the last request
count() { wc -l <"$WORK/$1.log" | tr -d ' '; }
thumbprint() { "$PY" -c 'import sys
from authlib.jose import JsonWebKey
print(JsonWebKey.import_key(open(sys.argv[1], "rb").read()).thumbprint())' "$1"; }

# The keys, made by openssl in each form a user may have: PKCS#8, and the traditional
# "RSA PRIVATE KEY" and "EC PRIVATE KEY" (with its EC PARAMETERS block first).
K="$WORK/keys"
mkdir -m 700 "$K"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/ec.pem" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -out "$K/ec-traditional.pem"
openssl genrsa -traditional -out "$K/rsa-traditional.pem" 2048 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$K/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$K/ed25519.pem"
# registered nowhere
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$K/unregistered.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$K/p384.pem" 2>/dev/null
openssl genrsa -traditional -out "$K/rsa1024.pem" 1024 2>/dev/null
openssl pkey -in "$K/ec.pem" -pubout -out "$K/public.pem"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-128-cbc -pass pass:x \
	-out "$K/encrypted.pem" 2>/dev/null
printf 'not a key\n' >"$K/garbage.pem"
chmod 600 "$K"/*.pem
"$PY" "$TESTS/client-jwks.py" "$K/ec.pem" "$K/ec-traditional.pem" "$K/rsa-traditional.pem" \
	"$K/rsa.pem" "$K/ed25519.pem" "$K/rsa.pem=rsa-named" >"$WORK/client-jwks.json"

start_server # the CA
cp "$WORK/tls/server.pem" "$K/server-cert.pem"
cp "$K/ec.pem" "$K/loose.pem"
chmod 644 "$K/loose.pem"
mkdir "$K/a-directory"
: >"$K/empty.pem"
printf 'wrong-secret-0123456789' >"$K/wrong.secret"
chmod 600 "$K/empty.pem" "$K/wrong.secret" "$K/server-cert.pem"
printf 'jwtSecret-0123456789abcdefghijklmnop' >"$WORK/jwt.secret"
chmod 600 "$WORK/jwt.secret"
EXTRA_SECRETS=("jwtSecret-0123456789abcdefghijklmnop")

start_interop authlib "$WORK/jwt.secret" "$PY" "$INTEROP/authlib_server.py" \
	--client-jwks "$WORK/client-jwks.json"
AUTHLIB=$BASE
start_interop oidc "$WORK/jwt.secret" node "$INTEROP/oidc_server.mjs" \
	--client-jwks "$WORK/client-jwks.json"
OIDC=$BASE

# check_assertion SERVER ALG KID AUD CLIENT: the last request's assertion as SERVER saw it
check_assertion() {
	local server=$1 alg=$2 kid=$3 aud=$4 client=$5
	expect_eq "$(logged "$server" .auth_method)" client_assertion "$server: the auth method"
	expect_eq "$(logged "$server" .assertion_type)" \
		urn:ietf:params:oauth:client-assertion-type:jwt-bearer "$server: client_assertion_type"
	expect_eq "$(logged "$server" .client_id)" "$client" "$server: client_id in the form"
	expect_eq "$(logged "$server" .alg)" "$alg" "$server: alg"
	expect_eq "$(logged "$server" .kid)" "$kid" "$server: kid"
	expect_eq "$(logged "$server" .iss)" "$client" "$server: iss"
	expect_eq "$(logged "$server" .sub)" "$client" "$server: sub"
	expect_eq "$(logged "$server" .aud)" "$aud" "$server: aud"
	expect_eq "$(logged "$server" .lifetime)" 300 "$server: exp - iat"
	expect_eq "$(logged "$server" .status)" 200 "$server: the answer"
	expect_match "$(logged "$server" .jti)" '^[A-Za-z0-9_-]{22}$' "$server: jti"
}

echo "# authlib: private_key_jwt with every key form and algorithm"
for row in "ec|ES256|" "ec-traditional|ES256|" "rsa-traditional|RS256|" "rsa|PS256|PS256" \
	"rsa|RS256|RS256" "ed25519|EdDSA|"; do
	IFS='|' read -r key alg said <<<"$row"
	name="al-$key-$alg"
	write_profile "$name" ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" \
		"secret = " "auth_method = private_key_jwt" "private_key = file:$K/$key.pem" \
		${said:+"signing_alg = $said"} "audience = https://$name.test/"
	run_kb get --profile "$name" --format token
	expect_rc 0 "private_key_jwt with $key, $alg"
	expect_eq "$ERR" "" "stderr of that get"
	expect_match "$OUT" '^[A-Za-z0-9]{42}$' "the token authlib issued"
	check_assertion authlib "$alg" "$(thumbprint "$K/$key.pem")" "$AUTHLIB/oauth/token" kb-pkjwt
	expect_eq "$(logged authlib .has_nbf)" true "nbf"
	age=$(logged authlib .iat_age)
	[ "$age" -ge 0 ] && [ "$age" -le 5 ] || fail "iat is $age s old"
done

echo "# a fresh jti for every request, with the same key"
run_kb invalidate --profile al-ec-ES256
run_kb get --profile al-ec-ES256
expect_rc 0 "a second mint with the same key"
[ "$(grep -c '"jti"' "$WORK/authlib.log")" = "$(jq -r .jti "$WORK/authlib.log" | sort -u | wc -l)" ] ||
	fail "a jti came twice: $(jq -r .jti "$WORK/authlib.log" | sort | uniq -d)"

echo "# key_id names the key; assertion_audience sets aud"
write_profile al-named ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt" "private_key = file:$K/rsa.pem" "key_id = rsa-named" \
	"audience = https://named.test/"
run_kb get --profile al-named
expect_rc 0 "key_id"
check_assertion authlib RS256 rsa-named "$AUTHLIB/oauth/token" kb-pkjwt
write_profile al-aud ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt" "private_key = file:$K/ec.pem" \
	"assertion_audience = https://elsewhere.test/token" "audience = https://aud.test/"
run_kb get --profile al-aud
expect_rc 77 "an assertion for another audience"
expect_eq "$(logged authlib .aud)" https://elsewhere.test/token "aud from assertion_audience"

echo "# private_key = command: prints the PEM, every line of it"
write_profile al-command ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" \
	"secret = " "auth_method = private_key_jwt" "private_key = command:cat $K/rsa-traditional.pem" \
	"audience = https://command.test/"
run_kb get --profile al-command
expect_rc 0 "private_key = command:"
check_assertion authlib RS256 "$(thumbprint "$K/rsa-traditional.pem")" "$AUTHLIB/oauth/token" kb-pkjwt

echo "# authlib: client_secret_jwt"
write_profile al-csjwt ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-csjwt" \
	"auth_method = client_secret_jwt" "secret = file:$WORK/jwt.secret" "scope = read"
run_kb get --profile al-csjwt
expect_rc 0 "client_secret_jwt"
check_assertion authlib HS256 null "$AUTHLIB/oauth/token" kb-csjwt

echo "# oidc-provider: both methods, the token endpoint found by discovery"
write_profile op-pkjwt ok "token_url = " "issuer = $OIDC" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt" "private_key = file:$K/ec.pem"
run_kb get --profile op-pkjwt
expect_rc 0 "oidc-provider, private_key_jwt"
check_assertion oidc ES256 "$(thumbprint "$K/ec.pem")" "$OIDC/token" kb-pkjwt
write_profile op-ed ok "token_url = " "issuer = $OIDC" "client_id = kb-pkjwt" "secret = " \
	"auth_method = private_key_jwt" "private_key = file:$K/ed25519.pem" "scope = read ed"
run_kb get --profile op-ed
expect_rc 0 "oidc-provider, EdDSA"
check_assertion oidc EdDSA "$(thumbprint "$K/ed25519.pem")" "$OIDC/token" kb-pkjwt
write_profile op-csjwt ok "token_url = " "issuer = $OIDC" "client_id = kb-csjwt" \
	"auth_method = client_secret_jwt" "secret = file:$WORK/jwt.secret"
run_kb get --profile op-csjwt
expect_rc 0 "oidc-provider, client_secret_jwt"
check_assertion oidc HS256 null "$OIDC/token" kb-csjwt

echo "# a refused key is not tried again, until the key is replaced"
cp "$K/unregistered.pem" "$K/rotated.pem"
write_profile al-rotated ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" \
	"secret = " "auth_method = private_key_jwt" "private_key = file:$K/rotated.pem" \
	"audience = https://rotated.test/"
before=$(count authlib)
run_kb get --profile al-rotated
expect_rc 77 "the unregistered key"
run_kb get --profile al-rotated
expect_rc 77 "the unregistered key, again"
expect_match "$ERR" "invalid_client" "the held refusal"
expect_eq "$(($(count authlib) - before))" 1 "requests while the refusal holds"
cp "$K/ec.pem" "$K/rotated.pem" # in place: the same file, another key
run_kb get --profile al-rotated
expect_rc 0 "the replaced key is tried at once"
expect_eq "$(($(count authlib) - before))" 2 "requests after the key was replaced"
check_assertion authlib ES256 "$(thumbprint "$K/ec.pem")" "$AUTHLIB/oauth/token" kb-pkjwt
write_profile al-realg ok "token_url = $AUTHLIB/oauth/token" "client_id = kb-pkjwt" \
	"secret = " "auth_method = private_key_jwt" "private_key = file:$K/rsa.pem" \
	"key_id = rsa-wrong" "audience = https://realg.test/"
run_kb get --profile al-realg
expect_rc 77 "a kid the provider does not know"
sed -i "s/key_id = rsa-wrong/key_id = rsa-named/" "$CONFIG"
run_kb get --profile al-realg
expect_rc 0 "a changed key_id is tried at once"

echo "# faults (keys.tsv): exit code, message, nothing on stdout, requests made"
row=0
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	IFS=$'\t' read -r server method key setup code requests pattern <<<"$line"
	row=$((row + 1))
	extra=()
	case "$server" in
	authlib) extra+=("token_url = $AUTHLIB/oauth/token?row=$row") ;;
	oidc) extra+=("token_url = " "issuer = $OIDC") ;;
	esac
	case "$method" in
	pkjwt) extra+=("client_id = kb-pkjwt" "secret = " "auth_method = private_key_jwt") ;;
	csjwt) extra+=("client_id = kb-csjwt" "auth_method = client_secret_jwt") ;;
	esac
	[ "$key" = - ] || extra+=("private_key = file:$K/$key")
	IFS=, read -r -a items <<<"${setup#-}"
	for item in ${items[@]+"${items[@]}"}; do
		item=${item//@K@/$K}
		extra+=("${item/=/ = }")
	done
	# a cache key of its own: authlib ignores audience, oidc-provider unknown scopes
	case "$server" in
	authlib) extra+=("audience = https://row$row.test/") ;;
	oidc) extra+=("scope = read row$row") ;;
	esac
	write_profile "fault$row" ok "${extra[@]}"
	before=$(count "$server")
	run_kb get --profile "fault$row"
	pattern=${pattern//@K@/$K}
	pattern=${pattern//@KID_UNREGISTERED@/$(thumbprint "$K/unregistered.pem")}
	expect_rc "$code" "row $row ($line)"
	expect_eq "$OUT" "" "row $row: stdout"
	expect_match "$ERR" "$pattern" "row $row: stderr"
	expect_eq "$(($(count "$server") - before))" "$requests" "row $row: requests made"
	expect_no_secret "$ERR" "row $row: stderr"
	expect_no_match "$ERR" "PRIVATE KEY" "row $row: stderr"
done <"$TESTS/keys.tsv"
[ "$row" -ge 10 ] || fail "keys.tsv has only $row rows"

echo "keys: all passed"

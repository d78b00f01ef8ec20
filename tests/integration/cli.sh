#!/usr/bin/env bash
# keybearer's commands end to end, through the installed binaries, against the test server.
. "$(dirname "$0")/lib.sh"

start_server
B64TOKEN='[A-Za-z0-9._~+/-]+=*'

echo "# get: every format, and the cache answers the second time"
write_profile main ok "scope = read write" "audience = api://test" "resource = https://res.example/"
run_kb get --profile main
expect_rc 0 "first get"
expect_match "$OUT" "^Authorization: Bearer $B64TOKEN\$" "header format"
expect_eq "$(printf '%s\n' "$OUT" | wc -l)" 1 "lines of header output"
expect_eq "$ERR" "" "stderr of a good get"
token=${OUT#Authorization: Bearer }
expect_eq "$(requests ok)" 1 "requests after first get"
run_kb get --profile main
expect_eq "$OUT" "Authorization: Bearer $token" "cached get"
expect_eq "$(requests ok)" 1 "requests after cached get"
run_kb get --profile main --format token
expect_eq "$OUT" "$token" "token format"
run_kb get --profile main --format curl
expect_eq "$OUT" "header = \"Authorization: Bearer $token\"" "curl format"
run_kb get --profile main -f wget
expect_eq "$OUT" "header = Authorization: Bearer $token" "wget format"
run_kb get --profile main --format json
expect_eq "$(printf '%s' "$OUT" | jq -r '.access_token + " " + .token_type')" "$token Bearer" "json format"
expires_in=$(printf '%s' "$OUT" | jq '.expires_in')
expires_at=$(printf '%s' "$OUT" | jq '.expires_at')
[ "$expires_in" -ge 3595 ] && [ "$expires_in" -le 3600 ] || fail "json expires_in $expires_in"
[ $((expires_at - $(date +%s))) -ge 3594 ] || fail "json expires_at $expires_at"
expect_eq "$(requests ok)" 1 "requests after all formats"

echo "# the request: form encoding, Accept, scope/audience/resource, client_secret_post"
last=$(server GET /_last/ok)
expect_eq "$(printf '%s' "$last" | jq -r .body)" \
	"grant_type=client_credentials&scope=read+write&audience=api%3A%2F%2Ftest&resource=https%3A%2F%2Fres.example%2F&client_id=$CLIENT_ID&client_secret=$SECRET_ENCODED" \
	"request body"
expect_eq "$(printf '%s' "$last" | jq -r '.headers.accept')" "application/json" "Accept header"
expect_eq "$(printf '%s' "$last" | jq -r '.headers["content-type"]')" "application/x-www-form-urlencoded" "Content-Type"
expect_eq "$(printf '%s' "$last" | jq -r '.headers.authorization')" "null" "no Authorization with client_secret_post"
expect_eq "$(printf '%s' "$last" | jq -r .auth_method)" "client_secret_post" "server saw"

echo "# real clients authorized by keybearer"
expect_eq "$("$KB" get --profile main --format curl | curl -sS --fail --cacert "$CA" -K - "$BASE/api/hello")" \
	'{"hello": "world", "client_id": "kb-test-client"}' "curl -K -"
expect_eq "$(curl -sS --fail --cacert "$CA" -H @<("$KB" get --profile main) "$BASE/api/hello" | jq -r .hello)" "world" "curl -H @file"
"$KB" get --profile main --format wget >"$WORK/wgetrc"
expect_eq "$(wget -q -O - --config="$WORK/wgetrc" --ca-certificate="$CA" "$BASE/api/hello" | jq -r .hello)" "world" "wget --config"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H 'Authorization: Bearer nope' "$BASE/api/hello")" 401 "server rejects a bad token"

echo "# client_secret_basic: id and secret form-encoded, then Base64"
write_profile basic require-basic "auth_method = client_secret_basic"
run_kb get --profile basic
expect_rc 0 "basic get"
last=$(server GET /_last/require-basic)
expect_eq "$(printf '%s' "$last" | jq -r .body)" "grant_type=client_credentials" "basic body"
expect_eq "$(printf '%s' "$last" | jq -r .headers.authorization)" \
	"Basic $(printf '%s:%s' "$CLIENT_ID" "$SECRET_ENCODED" | base64 -w0)" "basic header"
write_profile post require-post
run_kb get --profile post
expect_rc 0 "post get against a post-only client"

echo "# expiry: expires_in number or string, JWT exp against the server's Date, one day by default"
check_lifetime() { # PROFILE MODE LOW HIGH
	write_profile "$1" "$2"
	run_kb get --profile "$1" --format json
	expect_rc 0 "get $1"
	local left
	left=$(printf '%s' "$OUT" | jq .expires_in)
	[ "$left" -ge "$3" ] && [ "$left" -le "$4" ] || fail "$1: expires_in $left not in [$3, $4]"
}
check_lifetime string string-expiry 3595 3600
check_lifetime jwtexp jwt-expiry 1795 1800
check_lifetime skewed jwt-skewed 1795 1800
check_lifetime oldiat jwt-old-iat 595 600
check_lifetime opaque no-expiry 86395 86400
check_lifetime lower lowercase-type 3595 3600

echo "# refresh: a 40 s token is fresh for 20 s (half its life), --min-ttl overrides"
write_profile short short
run_kb get --profile short
first=$OUT
run_kb get --profile short
expect_eq "$OUT" "$first" "short token within half its life"
expect_eq "$(requests short)" 1 "requests for short"
run_kb get --profile short --min-ttl 30
expect_eq "$(requests short)" 1 "min-ttl 30 on a fresh 40 s token"
run_kb get --profile short --min-ttl 60
expect_rc 0 "min-ttl longer than the lifetime"
expect_eq "$(requests short)" 1 "a min-ttl no token can meet does not mint"
expect_match "$ERR" "^keybearer: warning: the token of profile short has (39|40) s left, less than the 60 s asked for \(it lived 40 s in all\)$" "short-lived warning"
expect_eq "$OUT" "$first" "the cached token, with a warning"
age_cached_token "$token" 100
run_kb get --profile main
expect_eq "$(requests ok)" 2 "a token inside the 300 s margin is refreshed"
[ "$OUT" != "Authorization: Bearer $token" ] || fail "the refresh returned the old token"
token=${OUT#Authorization: Bearer }
write_profile margin ok "refresh_margin = 3599" "token_url = $BASE/ok/token?margin"
run_kb get --profile margin
run_kb get --profile margin
expect_eq "$(requests ok)" 3 "refresh_margin is capped at half the lifetime"

echo "# a transient failure falls back to a cached token that is still valid, then everyone backs off"
age_cached_token "$token" 100
server POST /_override/ok unavailable >/dev/null
run_kb get --profile main
expect_rc 0 "fallback get"
expect_eq "$OUT" "Authorization: Bearer $token" "fallback token"
expect_match "$ERR" "^keybearer: warning: token endpoint failed \(HTTP 503, retry after 120 s\)" "fallback warning"
expect_match "$ERR" "keybearer: warning: using the cached token of profile main, valid for (99|100) more s$" "fallback notice"
expect_eq "$(requests ok)" 4 "requests after the failed refresh"
run_kb get --profile main
expect_rc 0 "get during the back-off"
expect_eq "$OUT" "Authorization: Bearer $token" "token during the back-off"
expect_match "$ERR" "^keybearer: warning: the token endpoint of profile main failed [0-9] s ago \(token endpoint failed \(HTTP 503, retry after 120 s\): \"Service Unavailable\" — try again later\); keybearer asks again in 1[12][0-9] s — try again later$" "back-off warning"
expect_eq "$(requests ok)" 4 "no request during the back-off"
age_cached_token "$token" 100
server POST /_override/ok invalid-client >/dev/null
run_kb get --profile main
expect_rc 77 "a rejection is not papered over"
expect_eq "$OUT" "" "stdout on rejection"
age_cached_token "$token" 5
server POST /_override/ok unavailable >/dev/null
run_kb get --profile main
expect_rc 75 "no fallback to a token with 5 s left"
expect_eq "$OUT" "" "stdout without a usable fallback"
server POST /_override/ok "" >/dev/null
age_cached_token "$token" 3500 # the endpoint is back: forget the failure

echo "# invalidate, with and without --token-stdin"
run_kb get --profile main
token=${OUT#Authorization: Bearer }
n=$(requests ok)
printf 'Authorization: Bearer someone-elses-token\n' >"$WORK/stale"
KB_STDIN="$WORK/stale" run_kb invalidate --profile main --token-stdin
expect_rc 0 "invalidate of a token already replaced"
run_kb get --profile main
expect_eq "$OUT" "Authorization: Bearer $token" "token survives a stale invalidate"
expect_eq "$(requests ok)" "$n" "no request after a stale invalidate"
printf '%s\n' "$OUT" >"$WORK/current"
KB_STDIN="$WORK/current" run_kb invalidate --profile main --token-stdin
expect_rc 0 "invalidate of the current token"
run_kb get --profile main
expect_eq "$(requests ok)" $((n + 1)) "a new token after invalidate"
[ "$OUT" != "Authorization: Bearer $token" ] || fail "invalidate kept the token"
run_kb invalidate --profile main
expect_rc 0 "plain invalidate"
run_kb get --profile main
expect_eq "$(requests ok)" $((n + 2)) "a new token after a plain invalidate"
KB_STDIN=/dev/null run_kb invalidate --profile main --token-stdin
expect_rc 66 "--token-stdin with nothing on stdin"

echo "# status shows sources and lifetimes, never a token or secret"
run_kb status
expect_rc 0 status
expect_match "$OUT" "profile main$" "status lists main"
expect_match "$OUT" "secret        file:$WORK/secret \(present\)" "status secret source"
expect_match "$OUT" "token         valid for (59 min [0-9]+ s|1 h) \(until 20[0-9-]+T[0-9:]+Z\)" "status token state"
expect_match "$OUT" "profile aspose \(built in\)" "status lists aspose"
expect_no_match "$OUT" "$token" "status output"
expect_no_secret "$OUT" "status output"
run_kb status --profile short
expect_match "$OUT" "refresh due|valid for" "status of short"

echo "# inspect: header and claims of the cached JWT, or of stdin; never the signature"
run_kb inspect --profile main
expect_rc 0 inspect
expect_eq "$(printf '%s' "$OUT" | jq -r '.header.alg + " " + .claims.sub + " " + .claims.scope + " " + .claims.aud')" \
	"HS256 $CLIENT_ID read write api://test" "inspect fields"
expect_match "$(printf '%s' "$OUT" | jq -r .expires)" "^in (59 min [0-9]+ s|1 h)$" "inspect expiry"
expect_no_match "$OUT" "${token##*.}" "inspect output (signature)"
printf '%s\n' "$token" >"$WORK/token"
KB_STDIN="$WORK/token" run_kb inspect -
expect_rc 0 "inspect -"
expect_eq "$(printf '%s' "$OUT" | jq -r .claims.client_id)" "$CLIENT_ID" "inspect - claims"
run_kb inspect --profile opaque
expect_rc 65 "inspect of an opaque token"
expect_eq "$OUT" "" "stdout of a failed inspect"
write_profile never ok "token_url = $BASE/ok/token?never"
run_kb inspect --profile never
expect_rc 66 "inspect with nothing cached"
expect_match "$ERR" "^keybearer: no cached token for profile never — run keybearer get --profile never first$" "inspect message"

echo "# usage: --help everywhere, --version, errors with exit 64 and empty stdout"
for cmd in get invalidate status inspect; do
	run_kb "$cmd" --help
	expect_rc 0 "$cmd --help"
	expect_match "$OUT" "^usage: keybearer $cmd" "$cmd --help"
done
run_kb --version
expect_match "$OUT" "^keybearer [0-9]+\.[0-9]+\.[0-9]+$" "--version"
run_kb --help
expect_match "$OUT" "exit codes:" "--help"
for args in "frobnicate" "get --bogus" "get --format xml" "get --min-ttl -1" "get --profile" "status extra"; do
	# shellcheck disable=SC2086
	run_kb $args
	expect_rc 64 "keybearer $args"
	expect_eq "$OUT" "" "stdout of keybearer $args"
	expect_match "$ERR" "^keybearer: .* — (see|run) keybearer" "message of keybearer $args"
done
run_kb
expect_rc 64 "no arguments"
run_kb status --profile nosuch
expect_rc 78 "status of an unknown profile"
expect_eq "$OUT" "" "stdout of a failed status"
set +e
"$KB" get --profile main >/dev/full 2>"$WORK/err"
RC=$?
set -e
expect_rc 74 "get into a full disk"
expect_match "$(cat "$WORK/err")" "^keybearer: cannot write the answer: No space left on device" "full disk message"
set +e
"$KB" status >/dev/full 2>"$WORK/err"
RC=$?
set -e
expect_rc 74 "status into a full disk"
set +e
"$KB" get --profile main 2>&- >"$WORK/out"
RC=$?
set -e
expect_rc 0 "get with stderr closed"
expect_match "$(cat "$WORK/out")" "^Authorization: Bearer " "output with stderr closed"

echo "# the cached path never runs keybearer-fetch"
run_kb get --profile main
KEYBEARER_FETCH=/bin/false run_kb get --profile main
expect_rc 0 "cached get without a fetch binary"
if readelf -d "$KB_STAGE/bin/keybearer" | grep -Eq 'NEEDED.*(libcurl|libsecret|libglib|libgio)'; then
	fail "keybearer links a heavy library: $(readelf -d "$KB_STAGE/bin/keybearer" | grep NEEDED)"
fi
# libcurl: the system's, or the HTTP(S)-only one of packaging/libcurl-https.sh inside
fetch=$KB_STAGE/libexec/keybearer/keybearer-fetch
grep -q 'NEEDED.*libcurl' <<<"$(readelf -d "$fetch")" || grep -Eq ' [Tt] curl_easy_perform$' <<<"$(nm "$fetch")" ||
	fail "keybearer-fetch without libcurl?"
echo "cli: all passed"

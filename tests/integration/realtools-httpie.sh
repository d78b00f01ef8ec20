#!/usr/bin/env bash
# Debian's real HTTPie with keybearer's auth plugin as the package installs it (found on
# PYTHONPATH in the staged tree): the token of the profile claiming the URL, never in any
# argv; after a 401 one new token and one retry; a second 401 shown as it is; an unclaimed
# URL, a redirect to one, without a token; a streamed body not sent twice.
. "$(dirname "$0")/loopback-only.sh"

http=/usr/bin/http
if [ ! -x "$http" ]; then
	echo "skipped: httpie not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi

. "$(dirname "$0")/lib.sh"
echo "# $("$http" --version | sed 's/^/HTTPie /'), $("$PY" --version)"
export PYTHONPATH="$KB_STAGE/lib/python3/dist-packages" PATH="$KB_BIN:$PATH"
unset REQUESTS_CA_BUNDLE HTTPIE_CONFIG_DIR
export HTTPIE_CONFIG_DIR="$WORK/httpie"

# run_http ARGS...: HTTPie with the test CA, stdin from $HTTP_STDIN (default: none, as
# --ignore-stdin says); sets RC, OUT and ERR.
run_http() {
	local stdin_args=(--ignore-stdin)
	[ -z "${HTTP_STDIN:-}" ] || stdin_args=()
	set +e
	"$http" "${stdin_args[@]}" --verify="$CA" --check-status --print=b "$@" \
		<"${HTTP_STDIN:-/dev/null}" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	expect_no_secret "$OUT$ERR" "the output of http $*"
}

requests_seen() {
	server GET "/_requests/$1" | jq -r '.[] | "\(.method) \(.path) \(.auth) \(.status)"'
}

cached_token() { "$KB" get --profile api --format token; }

start_server
api="$BASE/guarded/api/"
write_profile api ok "urls = $api $BASE/guarded/deny $BASE/guarded/redirect/"

echo "# http --help lists the keybearer auth type"
"$http" --help >"$WORK/help"
expect_match "$(cat "$WORK/help")" '"keybearer": keybearer \(provided by keybearer-httpie\)' "http --help"

echo "# a request gets the token of the profile claiming its URL, never through argv"
# (LeakSanitizer cannot run under ptrace: a sanitized build checks leaks elsewhere)
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	strace -f -qq -e trace=execve -e signal=none -s 65536 -o "$WORK/strace" \
	"$http" --ignore-stdin --verify="$CA" --check-status --print=b \
	-A keybearer "${api}things?q=secret-query" >"$WORK/out" 2>"$WORK/err" ||
	fail "http -A keybearer: $(cat "$WORK/err")"
expect_eq "$(jq -r '.path + " " + .client_id' "$WORK/out")" "/guarded/api/things?q=secret-query $CLIENT_ID" "the answer"
expect_eq "$(requests ok)" 1 "token requests"
expect_eq "$(requests_seen guarded)" "GET /guarded/api/things?q=secret-query valid 200" "the resource's requests"
token=$(cached_token)
[ -n "$token" ] || fail "no cached token"
execs=$(grep -F 'execve(' "$WORK/strace")
expect_no_match "$execs" "$token" "the argv of every program run"
# (the URL is in the user's own command line, and in no other)
expect_no_match "$(grep -Fv "execve(\"$http\"" <<<"$execs")" "secret-query" "the argv of every program http ran"
expect_match "$execs" "execve\\(\"$KB_BIN/keybearer\", \\[\"$KB_BIN/keybearer\", \"httpie\", \"get\"\\]" "keybearer's argv"
expect_eq "$(cat "$WORK/err")" "" "stderr"

echo "# a session file records the auth type, never the token"
run_http --session="$WORK/session.json" -A keybearer "${api}things"
expect_rc 0 "http --session"
expect_eq "$(jq -cS .auth "$WORK/session.json")" '{"raw_auth":null,"type":"keybearer"}' "the session's auth"
expect_no_match "$(cat "$WORK/session.json")" "$token" "the session file"

echo "# a revoked token: one new token, one retry, the body sent again"
server POST /_reset >/dev/null
server POST /_revoke "$token" >/dev/null
run_http -A keybearer --raw 'the body' POST "${api}post"
expect_rc 0 "http POST after a revocation"
expect_eq "$(jq -r .body <<<"$OUT")" "the body" "the body the retry sent"
expect_eq "$(requests ok)" 1 "token requests after a revocation"
expect_eq "$(requests_seen guarded)" "POST /guarded/api/post invalid 401
POST /guarded/api/post valid 200" "the resource's requests"
[ "$(cached_token)" != "$token" ] || fail "the revoked token is still cached"
expect_eq "$ERR" "" "stderr after a retry"

echo "# a second 401 is the answer, shown as it is: no loop"
server POST /_reset >/dev/null
run_http -A keybearer "$BASE/guarded/deny"
expect_rc 4 "http to a resource that refuses every token" # --check-status: a 4xx
expect_eq "$OUT" '{"error": "invalid_token"}' "the answer shown"
expect_eq "$(requests ok)" 1 "token requests for the retry"
expect_eq "$(requests_seen guarded)" "GET /guarded/deny valid 401
GET /guarded/deny valid 401" "the resource's requests"

echo "# an unclaimed URL goes without a token, and stderr says why"
server POST /_reset >/dev/null
run_http -A keybearer "$BASE/guarded/open/x"
expect_rc 4 "http to an unclaimed URL"
expect_match "$ERR" "^keybearer: warning: no profile claims $BASE/guarded/open/x: .*\\(the request goes without a token\\)$" "stderr"
expect_eq "$(requests_seen guarded)" "GET /guarded/open/x none 401" "the resource's requests"
expect_eq "$(requests ok)" 0 "token requests for an unclaimed URL"

echo "# -a PROFILE: that profile, which must claim the URL"
write_profile other ok "urls = $BASE/guarded/other/"
run_http -A keybearer -a other "${api}things"
expect_rc 4 "http -a other to a URL of profile api"
expect_match "$ERR" "^keybearer: warning: .*profile other.*\\(the request goes without a token\\)$" "stderr"
expect_eq "$(requests_seen guarded | tail -1)" "GET /guarded/api/things none 401" "the request with -a other"
run_http -A keybearer -a api "${api}things"
expect_rc 0 "http -a api"
run_http -A keybearer -a nosuch "${api}things"
expect_rc 1 "http -a with an unknown profile"
expect_match "$ERR" '^keybearer: no profile named "nosuch"' "stderr for an unknown profile"
expect_eq "$(requests_seen guarded | tail -1)" "GET /guarded/api/things valid 200" "no request for an unknown profile"

echo "# a redirect to a URL no profile claims: followed without the token"
server POST /_reset >/dev/null
run_http -A keybearer --follow "$BASE/guarded/redirect/guarded/open/y"
expect_rc 4 "http --follow to an unclaimed redirect target"
expect_eq "$(requests_seen guarded)" "GET /guarded/redirect/guarded/open/y valid 302
GET /guarded/open/y none 401" "the resource's requests"
run_http -A keybearer --follow "$BASE/guarded/redirect/guarded/api/z"
expect_rc 0 "http --follow to a claimed redirect target"
expect_eq "$(requests_seen guarded | tail -2)" "GET /guarded/redirect/guarded/api/z valid 302
GET /guarded/api/z valid 200" "the resource's requests"

echo "# a streamed body cannot be sent twice: the token is dropped, the 401 shown"
server POST /_reset >/dev/null
token=$(cached_token)
server POST /_revoke "$token" >/dev/null
printf 'streamed' >"$WORK/body"
HTTP_STDIN=$WORK/body run_http -A keybearer --chunked POST "${api}upload"
expect_rc 4 "http --chunked after a revocation"
expect_match "$ERR" "^keybearer: ${api}upload refused the token, which is now dropped; the request's body was streamed and cannot be sent again — run the command again$" "stderr"
expect_eq "$(requests_seen guarded)" "POST /guarded/api/upload invalid 401" "the resource's requests"
expect_eq "$(requests ok)" 0 "token requests for a streamed body"
run_kb status --profile api
expect_match "$OUT" "no token|none" "the refused token, dropped"
HTTP_STDIN=$WORK/body run_http -A keybearer --chunked POST "${api}upload"
expect_rc 0 "http --chunked, run again"
expect_eq "$(jq -r .body <<<"$OUT")" "streamed" "the streamed body"

echo "# keybearer's failure: its message on stderr, no request, no token"
server POST /_reset >/dev/null
"$KB" invalidate --profile api
server POST /_override/ok invalid-client >/dev/null
run_http -A keybearer "${api}things"
expect_rc 1 "http when keybearer cannot mint"
expect_match "$ERR" "^keybearer: .* — " "keybearer's message"
expect_match "$ERR" "KeybearerError: keybearer get failed \\(exit status 77\\): see its message above" "HTTPie's line"
expect_eq "$(requests_seen guarded)" "" "requests when keybearer failed"
server POST /_override/ok "" >/dev/null

echo "realtools-httpie: all passed"

#!/usr/bin/env bash
# Every host tool's protocol: the golden cases (golden/*.case, one runner), then the real
# clients that install here — git (credential fill, ls-remote) and curl.
. "$(dirname "$0")/lib.sh"

start_server
write_profile main ok "urls = $BASE/api/ $BASE/git/ $BASE/registry/ $BASE/hang-body/"
write_profile gituser ok "token_url = $BASE/ok/token?gituser" "urls = https://gituser.test/" \
	"git_username = x-access-token"
write_profile tf ok "token_url = $BASE/ok/token?tf" "urls = https://localhost:$PORT/"
# (its secret in the keyring, which the golden cases never reach)
write_profile keyring ok "token_url = $BASE/ok/token?keyring" "urls = https://keyring.test/" "secret = "
token_of() { "$KB" get --profile "$1" --format json | jq -r "$2"; }
rfc3339() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

echo "# golden cases"
expires_at=$(token_of main .expires_at)
"$PY" "$TESTS/golden.py" --bin "$KB_BIN" \
	--subst "HOST=127.0.0.1:$PORT" --subst "BASE=$BASE" --subst "PORT=$PORT" \
	--subst "CLIENT_ID=$CLIENT_ID" --subst "WORK=$WORK" \
	--subst "TOKEN=$(token_of main .access_token)" --subst "EXPIRES_AT=$expires_at" \
	--subst "EXPIRES=$(rfc3339 "$expires_at")" \
	--subst "TOKEN_GITUSER=$(token_of gituser .access_token)" \
	--subst "EXPIRES_AT_GITUSER=$(token_of gituser .expires_at)" \
	--subst "TOKEN_TF=$(token_of tf .access_token)" \
	"$TESTS/golden" || fail "golden cases"
expect_eq "$(requests ok)" 3 "token requests for all golden cases (one per profile)"

echo "# real git: credential fill and ls-remote, the token as the password"
mkdir -p "$WORK/git"
git init -q --bare "$WORK/git/repo.git"
git -C "$WORK" init -q src
git -C "$WORK/src" -c user.email=t@example.com -c user.name=t commit -q --allow-empty -m one
git -C "$WORK/src" push -q "$WORK/git/repo.git" HEAD:refs/heads/main
head=$(git -C "$WORK/src" rev-parse HEAD)
(
	# The README's git block, word for word.
	export PATH="$KB_BIN:$PATH" GIT_CONFIG_NOSYSTEM=1 GIT_SSL_CAINFO="$CA" GIT_TERMINAL_PROMPT=0
	git config --global credential.helper keybearer
	git config --global credential.useHttpPath true
	token=$(token_of main .access_token)
	expect_eq "$(printf 'url=%s/git/repo.git\n\n' "$BASE" | git credential fill)" \
		"$(printf 'protocol=https\nhost=127.0.0.1:%s\npath=git/repo.git\nusername=%s\npassword=%s' "$PORT" "$CLIENT_ID" "$token")" \
		"git credential fill"
	expect_eq "$(git ls-remote "$BASE/git/repo.git")" "$head	refs/heads/main" "git ls-remote"
	expect_eq "$(requests ok)" 3 "ls-remote used the cached token"
	# A server that stops taking the token: git erases it, and the next call gets a new one.
	server POST /_revoke "$token"
	git ls-remote "$BASE/git/repo.git" >/dev/null 2>&1 && fail "ls-remote with a revoked token"
	expect_eq "$(requests ok)" 3 "no new token before git erased the refused one"
	expect_eq "$(git ls-remote "$BASE/git/repo.git")" "$head	refs/heads/main" "ls-remote after erase"
	expect_eq "$(requests ok)" 4 "one new token after git erased the refused one"
	# An erase of some other password leaves the cached token alone.
	printf 'protocol=https\nhost=127.0.0.1:%s\npath=git/repo.git\nusername=x\npassword=not-ours\n\n' "$PORT" |
		git-credential-keybearer erase
	git ls-remote "$BASE/git/repo.git" >/dev/null
	expect_eq "$(requests ok)" 4 "an erase of another password kept the token"
)

echo "# keybearer curl: header through a pipe, one retry after a 401, curl's exit status"
export CURL_CA_BUNDLE="$CA"
run_kb curl -sS "$BASE/api/hello"
expect_rc 0 "keybearer curl"
expect_eq "$OUT" '{"hello": "world", "client_id": "kb-test-client"}' "keybearer curl output"
echo "# the commands keybearer runs make their files under the caller's umask, not keybearer's 077"
(
	umask 022
	run_kb curl -sS -o "$WORK/hello.json" "$BASE/api/hello"
	expect_rc 0 "keybearer curl -o"
	expect_eq "$(file_mode "$WORK/hello.json")" 644 "the mode of the file curl wrote"
	run_kb exec --profile main -- sh -c umask
	expect_eq "$OUT" 0022 "the umask of keybearer exec's command"
	umask 027
	run_kb exec --token-file --profile main -- sh -c umask
	expect_eq "$OUT" 0027 "the umask of keybearer exec --token-file's command"
	umask 000 # keybearer's own files stay private whatever its caller's umask
	"$KB" invalidate --profile main
	run_kb exec --token-file --profile main -- sh -c 'stat -c %a "$KEYBEARER_TOKEN_FILE"'
	expect_eq "$OUT" 600 "the token file's mode under umask 000"
	[ -n "$(find "$XDG_RUNTIME_DIR/keybearer" -maxdepth 1 -name '*.json')" ] || fail "no cache file"
	expect_eq "$(find "$XDG_RUNTIME_DIR/keybearer" -maxdepth 1 -type f -perm /077 | wc -l)" 0 \
		"cache files others could read, under umask 000"
)
token=$(token_of main .access_token)
server POST /_revoke "$token"
n=$(requests ok)
run_kb curl -sS -i "$BASE/api/hello"
expect_rc 0 "keybearer curl after a revocation"
expect_eq "$(printf '%s\n' "$OUT" | grep -c '^HTTP/')" 1 "responses shown (the 401 is not)"
expect_match "$OUT" "^HTTP/1.1 200 OK" "the retried response"
expect_eq "$(requests ok)" $((n + 1)) "one new token for the retry"
[ "$(token_of main .access_token)" != "$token" ] || fail "the refused token is still cached"
n=$(requests ok)
run_kb curl -sS "$BASE/api/deny"
expect_rc 0 "a resource that refuses every token (curl without -f)"
expect_eq "$OUT" '{"error": "invalid_token"}' "only the retry's 401 body is shown"
expect_eq "$(requests ok)" $((n + 1)) "exactly one retry"
run_kb curl -sSf "$BASE/api/deny"
expect_rc 22 "curl's own exit status"
expect_match "$ERR" "curl: \(22\) The requested URL returned error: 401" "curl's message"
echo '{"echo": 1}' >"$WORK/body"
KB_STDIN="$WORK/body" run_kb curl -sS --data-binary @- -o /dev/null -w '%{http_code}' "$BASE/api/hello"
expect_eq "$OUT" 404 "curl read the user's stdin (POST to a GET resource)"
run_kb curl -sS https://example.com/
expect_rc 78 "a URL no profile claims"
expect_match "$ERR" "^keybearer: no profile claims https://example\.com/: no profile's urls are on example\.com \(the profiles: aspose https://api\.aspose\.cloud/; main .*\) — add https://example\.com/ to the urls of the profile meant for it, in its \[profile NAME\] of $CONFIG \(a urls line replaces what the profile claims by default: keep that in the line\)$" "unclaimed URL message"
run_kb curl --profile main -sS "$BASE/api/hello" "https://elsewhere.example/"
expect_rc 78 "one of two URLs not claimed"
run_kb curl -sS -o /dev/null
expect_rc 64 "no URL at all"
# The token is in no argv: look at curl's while it waits on a hanging answer.
"$KB" curl -sS -X POST --max-time 3 "$BASE/hang-body/token" >/dev/null 2>&1 &
curl_wrapper=$!
for _ in $(seq 50); do
	curl_pid=$(pgrep -f -n "^curl -q -K /dev/fd/3 -D /dev/fd/4 .*hang-body/token" || true)
	[ -n "$curl_pid" ] && break
	sleep 0.05
done
[ -n "$curl_pid" ] || fail "curl did not start"
argv=$(tr '\0' ' ' <"/proc/$curl_pid/cmdline")
expect_match "$argv" "^curl -q -K /dev/fd/3 -D /dev/fd/4 --suppress-connect-headers -sS -X POST --max-time 3 " "curl's argv"
expect_no_match "$argv" "$(token_of main .access_token)" "curl's argv"
wait "$curl_wrapper" || true
echo "# keybearer curl reads curl's arguments as curl does: every URL must be claimed"
curl_refuses() { # EXIT PATTERN ARGS...
	local code=$1 pattern=$2
	shift 2
	run_kb curl "$@"
	expect_rc "$code" "keybearer curl $*"
	expect_eq "$OUT" "" "stdout of keybearer curl $*"
	expect_match "$ERR" "$pattern" "message of keybearer curl $*"
}
n=$(requests ok)
curl_refuses 78 "does not claim http://127.0.0.1:$PORT/other \\(127.0.0.1:$PORT/other has no scheme" -sS "$BASE/api/hello" "127.0.0.1:$PORT/other"
curl_refuses 78 "does not claim" -sS "$BASE/api/hello" "HTTP:/127.0.0.1:$PORT/x"
curl_refuses 78 "does not claim" -sS "$BASE/api/hello" --url "$BASE/private"
curl_refuses 78 "no profile claims" -sS "$BASE/api/../private"
curl_refuses 78 "no profile claims" -sS "$BASE/api/%2e%2e/private"
curl_refuses 78 "does not claim" -sS "$BASE/api/hello" "$BASE/api-admin/x"
curl_refuses 64 "would expand the \{\} or \[\]" -sS "$BASE/api/{hello,../x}"
curl_refuses 64 "does not take --config" -sS -K /dev/null "$BASE/api/hello"
# (an abbreviation is refused as unknown, whatever it abbreviates: curlopts.sh has the rest)
curl_refuses 64 "does not know the curl option --conf:" -sS --conf /dev/null "$BASE/api/hello"
curl_refuses 64 "does not take --config" -sSK/dev/null "$BASE/api/hello"
curl_refuses 64 "does not take --location-trusted" -sS --location-trusted "$BASE/api/hello"
curl_refuses 64 "does not take --dump-header" -sS -D - "$BASE/api/hello"
curl_refuses 64 "does not know the curl option --locat:" -sS --locat "$BASE/api/hello"
curl_refuses 78 "with -L, profile main must claim all of" -sSL "$BASE/api/hello"
expect_eq "$(requests ok)" "$n" "no token minted for a refused command line"
run_kb curl --profile tf -sSL "https://localhost:$PORT/api/hello"
expect_eq "$OUT" '{"hello": "world", "client_id": "kb-test-client"}' "-L with the whole origin claimed"
run_kb curl -sSg -H "X-Note: https://example.com/" -o /dev/null -w '%{http_code}' "$BASE/api/hello"
expect_eq "$OUT" 200 "an option value that looks like a URL is not one"
run_kb curl -sS "$BASE/api/hello" "$BASE/api/deny"
expect_eq "$OUT" '{"hello": "world", "client_id": "kb-test-client"}{"error": "invalid_token"}' "a later 401's body is shown when no retry can follow"
n=$(requests ok)
printf 'payload' >"$WORK/payload"
KB_STDIN="$WORK/payload" run_kb curl -sS --data-binary @- "$BASE/api/deny"
expect_eq "$OUT" '{"error": "invalid_token"}' "a request that read stdin is not retried"
expect_eq "$(requests ok)" "$n" "no new token for a request that cannot be sent again"

echo "# keybearer curl after a 401: nothing of the refused attempt, on stdout or stderr"
# A curl on PATH that keeps each run's stderr, as the real curl wrote it, and passes it on.
mkdir -p "$WORK/stderr-curl"
cat >"$WORK/stderr-curl/curl" <<SCRIPT
#!/bin/sh
n=\$((\$(cat "$WORK/curl-runs" 2>/dev/null || echo 0) + 1))
echo "\$n" >"$WORK/curl-runs"
$(command -v curl) "\$@" 2>"$WORK/curl-stderr.\$n"
rc=\$?
cat "$WORK/curl-stderr.\$n" >&2
exit \$rc
SCRIPT
chmod 755 "$WORK/stderr-curl/curl"
# stderr_runs ARGS...: keybearer curl ARGS with that curl, stdin from $KB_STDIN; sets RC,
# OUT, ERR and RUNS (how many times curl ran).
stderr_runs() {
	rm -f "$WORK/curl-runs" "$WORK"/curl-stderr.*
	PATH="$WORK/stderr-curl:$PATH" run_kb curl "$@"
	RUNS=$(cat "$WORK/curl-runs")
}
hello='{"hello": "world", "client_id": "kb-test-client"}'
# Each case, tab-separated: what the refused attempt wrote on stderr (a regex), the
# retry's stdout, and curl's arguments before the URL (shell words).
while IFS=$'\t' read -r refused expected_out args; do
	eval "words=($args)"
	server POST /_revoke "$(token_of main .access_token)"
	n=$(requests ok)
	stderr_runs "${words[@]}" "$BASE/api/hello"
	what="keybearer curl $args after a revocation"
	expect_rc 0 "$what"
	expect_eq "$RUNS" 2 "curl runs of $what"
	expect_match "$(cat "$WORK/curl-stderr.1")" "$refused" "the refused attempt's stderr ($what)"
	# (a mint that takes a second says so: keybearer's own line, not curl's)
	expect_eq "$(without_notices "$ERR")" "$(cat "$WORK/curl-stderr.2")" "stderr of $what (the retry's)"
	expect_eq "$OUT" "$expected_out" "stdout of $what"
	expect_eq "$(requests ok)" $((n + 1)) "tokens minted for $what"
done <<CASES
returned error: 401	$hello	-f
^curl: \(22\) The requested URL returned error: 401$	$hello	-sS -f
^$	${hello}200	-s -f -w '%{http_code}\n'
^401$	$hello	-s -f -w '%{stderr}%{http_code}\n'
^curl: \(22\) The requested URL returned error: 401$	$hello	--fail-with-body -sS
CASES
# No retry can follow: curl's stderr and status, passed on unchanged.
KB_STDIN="$WORK/payload" stderr_runs -sS -f --data-binary @- "$BASE/api/deny"
expect_rc 22 "a request that read stdin, refused with -f"
expect_eq "$RUNS" 1 "curl runs for a request that read stdin"
expect_eq "$ERR" "curl: (22) The requested URL returned error: 401" "curl's message, not retried"
cmp -s "$WORK/err" "$WORK/curl-stderr.1" || fail "stderr [$ERR] is not curl's, byte for byte"
# A resource that refuses every token: the retry's message, once.
stderr_runs -sS -f "$BASE/api/deny"
expect_rc 22 "a resource that refuses every token, with -f"
expect_eq "$RUNS" 2 "curl runs for a resource that refuses every token"
expect_eq "$(without_notices "$ERR")" "curl: (22) The requested URL returned error: 401" "curl's message, retried"
# The real curl, its progress meter on stderr from the start: one meter, no 401.
server POST /_revoke "$(token_of main .access_token)"
run_kb curl -f "$BASE/api/hello"
expect_rc 0 "keybearer curl -f with a progress meter, after a revocation"
expect_eq "$OUT" "$hello" "its stdout"
expect_eq "$(grep -c '% Total' <<<"$ERR")" 1 "progress meters shown"
expect_no_match "$ERR" "returned error" "stderr of keybearer curl -f"

echo "# keybearer curl through a CONNECT proxy: its reply hides no 401"
"$PY" "$TESTS/connectproxy.py" --port-file "$WORK/proxy-port" --log "$WORK/proxy.log" &
SERVER_PIDS+=($!)
wait_for_file "$WORK/proxy-port" connectproxy.py
server POST /_revoke "$(token_of main .access_token)"
https_proxy="http://127.0.0.1:$(cat "$WORK/proxy-port")" run_kb curl -sS -i "$BASE/api/hello"
expect_rc 0 "keybearer curl -i through a proxy, after a revocation"
expect_eq "$(grep -c '^HTTP/' <<<"$OUT")" 1 "status lines shown"
expect_match "$OUT" "^HTTP/1.1 200 OK" "the retried response"
expect_eq "$(grep -c "^127.0.0.1:$PORT$" "$WORK/proxy.log")" 2 "tunnels through the proxy"
echo "plugins: all passed"

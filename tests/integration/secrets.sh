#!/usr/bin/env bash
# The secret and the token, followed through every command and plugin with strace: in no
# argv; the secret in no environment but keybearer-fetch's; neither in any message, debug
# output included. And the process that holds the secret cannot dump it.
. "$(dirname "$0")/lib.sh"

start_server
export CURL_CA_BUNDLE="$CA"
OTHER_SECRET='another-secret-Zq9'
TRACE="$WORK/trace"

# traced ARGS...: runs keybearer under strace -f; stdin from $KB_STDIN.
traced() {
	set +e
	# (LeakSanitizer cannot run under ptrace: a sanitizer build checks leaks elsewhere)
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		strace -f -qq -v -s 65536 -e trace=execve -o "$TRACE.$((++TRACES))" "$KB" "$@" \
		<"${KB_STDIN:-/dev/null}" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}
TRACES=0

# check_traces: every execve recorded so far, against the rules.
check_traces() {
	local token
	token=$("$KB" get --profile env-like --format token 2>/dev/null || true)
	"$PY" - "$SECRET" "$SECRET_ENCODED" "$OTHER_SECRET" "$@" "$WORK"/trace.* <<'PY'
import re, sys
secret, encoded, other = sys.argv[1:4]
tokens = [t for t in sys.argv[4:] if not t.startswith("/")]
files = [f for f in sys.argv[4:] if f.startswith("/")]
call = re.compile(r'execve\("([^"]*)", \[(.*?)\], \[(.*)\]')
problems, calls = [], 0
for name in files:
    first = True
    for line in open(name, encoding="utf-8", errors="replace"):
        m = call.search(line)
        if not m:
            continue
        if first:  # keybearer's own start: the test's environment, nobody's child
            first = False
            continue
        calls += 1
        path, argv, env = m.groups()
        for value in (secret, encoded, other) + tuple(tokens):
            if value and value in argv:
                problems.append("%s: a secret or token in the argv of %s" % (name, path))
        for value in (secret, encoded, other):
            if value in env and not path.endswith("/keybearer-fetch"):
                problems.append("%s: a secret in the environment of %s" % (name, path))
print("%d execve calls checked" % calls)
for p in problems:
    print("    " + p)
sys.exit(1 if problems or calls == 0 else 0)
PY
}

no_leak_in() { # TEXT WHAT
	expect_no_secret "$1" "$2"
	expect_no_match "$1" "$OTHER_SECRET" "$2"
}

# The environment a user might have: the env profile's secret, and another in a variable
# a file profile names.
export KEYBEARER_TOKEN_URL="$BASE/ok/token?envprofile" KEYBEARER_CLIENT_ID="$CLIENT_ID"
export KEYBEARER_CLIENT_SECRET="$SECRET" KEYBEARER_CA_FILE="$CA" OTHER_SECRET_VAR="$OTHER_SECRET"
write_profile main ok "urls = $BASE/api/" "secret = env:KEYBEARER_CLIENT_SECRET"
write_profile other ok "token_url = $BASE/ok/token?other" "secret = env:OTHER_SECRET_VAR"
printf '#!/bin/sh\nenv >"%s/command-env"\nprintf "%%s\\n" "%s"\n' "$WORK" "$SECRET" >"$WORK/secret-command"
chmod 700 "$WORK/secret-command"
write_profile viacmd ok "token_url = $BASE/ok/token?viacmd" "secret = command:$WORK/secret-command"
write_profile broken-for-check invalid-client "token_url = $BASE/invalid-client/token?check" "secret = env:OTHER_SECRET_VAR"

echo "# every command and plugin, traced"
traced get
expect_rc 0 "get (env profile, cold)"
traced get --profile main --format json
traced get --profile viacmd
expect_rc 0 "get with a secret command"
traced status
traced status --json
traced inspect --profile main
traced check --profile main
expect_rc 0 "check"
check_report=$OUT
traced check --profile viacmd
expect_rc 0 "check with a secret command"
check_report="$check_report
$OUT"
traced -v check --profile broken-for-check
expect_rc 77 "check of a rejected secret"
check_report="$check_report
$OUT
$ERR"
traced which "$BASE/api/x"
traced get --url "$BASE/api/x" --format json
traced invalidate --profile main
traced curl --profile main -sS "$BASE/api/hello"
expect_rc 0 "keybearer curl"
# (wget, built with GnuTLS, has no variable for the test CA: it stops at the certificate,
# after keybearer has handed it the token)
traced wget --profile main -q -O /dev/null "$BASE/api/hello"
expect_rc 5 "keybearer wget"
traced exec --profile main -- sh -c 'env >"$0"' "$WORK/exec-env"
expect_rc 0 "keybearer exec"
printf 'protocol=https\nhost=127.0.0.1:%s\npath=api/x\n\n' "$PORT" >"$WORK/git-in"
KB_STDIN="$WORK/git-in" traced git get
printf '{"uri":"%s/api/x"}' "$BASE" >"$WORK/bazel-in"
KB_STDIN="$WORK/bazel-in" traced bazel get
traced kubectl --profile main
KB_STDIN=/dev/null traced terraform get "127.0.0.1:$PORT"
traced goauth --profile main
expect_rc 0 "goauth --profile main"
printf 'HTTP/1.1 401 Unauthorized\n\n' >"$WORK/goauth-in"
KB_STDIN="$WORK/goauth-in" traced goauth "$BASE/api/x"
expect_rc 0 "goauth after a 401"
printf '%s' "$SECRET" >"$WORK/login-in"
KB_STDIN="$WORK/login-in" traced login --profile main --no-verify
traced get --profile nosuch
traced get --profile main --format xml
check_traces "$("$KB" get --profile main --format token)" "$("$KB" get --format token)" \
	"$("$KB" get --profile viacmd --format token)"

echo "# check's report, verbose and failing too: neither a secret nor a token"
no_leak_in "$check_report" "keybearer check's report"
for token in "$("$KB" get --profile main --format token)" "$("$KB" get --profile viacmd --format token)"; do
	expect_no_match "$check_report" "$token" "keybearer check's report (a token)"
	expect_no_match "$check_report" "${token##*.}" "keybearer check's report (a signature)"
done

echo "# children see no secret: keybearer exec's command, curl, the secret command"
grep -q "^KEYBEARER_TOKEN=" "$WORK/exec-env" || fail "exec's command got no token"
no_leak_in "$(cat "$WORK/exec-env")" "the environment of keybearer exec's command"
no_leak_in "$(cat "$WORK/command-env")" "the environment of the secret command"

echo "# debug output and failure messages"
"$KB" invalidate --profile main
KEYBEARER_DEBUG=1 run_kb get --profile main
expect_match "$ERR" "keybearer: debug: profile main: new token after 1 attempt" "debug output"
no_leak_in "$ERR" "debug output"
expect_no_match "$ERR" "$("$KB" get --profile main --format token)" "debug output (token)"
write_profile broken invalid-client "token_url = $BASE/invalid-client/token?x" "secret = env:OTHER_SECRET_VAR"
KEYBEARER_DEBUG=1 run_kb get --profile broken
expect_rc 77 "a rejected secret"
no_leak_in "$ERR" "the rejection, with debug output"

echo "# the process holding the secret: no core dumps, the secret locked in memory"
write_profile slow ok-slow "token_url = $BASE/ok-slow/token?held"
"$KB" get --profile slow >/dev/null &
getter=$!
locked="" limits=""
for _ in $(seq 200); do
	fetch_pid=$(pgrep -f -n "keybearer-fetch mint --profile slow" || true)
	if [ -n "$fetch_pid" ]; then
		# read both at once: the secret is locked only while it is held
		locked=$(grep '^VmLck' "/proc/$fetch_pid/status" 2>/dev/null || true)
		limits=$(grep '^Max core file size' "/proc/$fetch_pid/limits" 2>/dev/null || true)
		[[ "$locked" =~ [1-9] ]] && break
		# (a sanitizer build locks nothing: wait for the core limit alone)
		[ -n "${KB_SANITIZED:-}" ] && [[ "$limits" =~ size\ +0\ +0\  ]] && break
	fi
	sleep 0.005
done
expect_match "$limits" "^Max core file size +0 +0 " "keybearer-fetch's core limit"
if [ -z "${KB_SANITIZED:-}" ]; then # AddressSanitizer makes mlock a no-op
	expect_match "$locked" "^VmLck:[[:space:]]+[1-9][0-9]* kB" "memory locked by keybearer-fetch"
fi
wait "$getter"
echo "secrets: all passed"

#!/usr/bin/env bash
# keybearer exec --token-file: a job that outlives its token reads a file that always holds
# a live one, whole, refreshed as get's rules would; the file goes when the job ends,
# however it ends; signals and exit status are the job's. Plain exec stays a real exec and
# warns when the command outlives its token.
. "$(dirname "$0")/lib.sh"

READER="$TESTS/tokenfile-reader.py"
# 12 s tokens (keybearer takes none that lives less than 10 s) and a 4 s refresh margin:
# fresh for 8 s, a floor of 3 s (cache_floor: a quarter of a lifetime under 40 s)
LIFETIME=12 WINDOW=4

start_server
write_profile main ok
write_profile short short12 "refresh_margin = $WINDOW"
write_profile outage short12-outage "refresh_margin = $WINDOW" "timeout = 1"
write_profile warn short12-warn "refresh_margin = $WINDOW"
write_profile envsecret short12-warn "refresh_margin = $WINDOW" "scope = envsecret" \
	"secret = env:KB_TF_SECRET"
"$KB" get --profile main >/dev/null

# the token files (and temporary ones) of profile ${1:-main} left in the runtime directory
token_files() { find "$XDG_RUNTIME_DIR/keybearer" -name "*${1:-main}.*token*" | sort; }

# wait_for FILE: up to 20 s for FILE to exist
wait_for() {
	for _ in $(seq 400); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 never appeared"
}

echo "# three token lifetimes, the file read every 100 ms (in the background), and an outage"
# the long runs go side by side, each with a mode of its own
(
	set +e
	"$KB" exec --profile short --token-file -- \
		"$PY" "$READER" read KEYBEARER_TOKEN_FILE $((3 * LIFETIME)) "$WORK/reads" \
		2>"$WORK/reads.err"
	echo $? >"$WORK/reads.rc"
) &
long_run=$!
# the outage: the endpoint fails (503) from just after the first token on; the file keeps
# that token to its floor, then goes; the endpoint comes back, and after the backoff the
# recorded failure holds (30 s), so does a token in the file
(
	set +e
	"$KB" exec --profile outage --token-file -- \
		"$PY" "$READER" read KEYBEARER_TOKEN_FILE 52 "$WORK/outage-reads" \
		2>"$WORK/outage.err" &
	kb=$!
	for _ in $(seq 200); do
		[ "$(requests short12-outage 2>/dev/null)" != 1 ] || break
		sleep 0.05
	done
	server POST /_override/short12-outage down
	for _ in $(seq 300); do
		grep -q "removed the file" "$WORK/outage.err" && break
		sleep 0.1
	done
	requests short12-outage >"$WORK/outage.at-removal"
	server POST /_override/short12-outage ""
	sleep 10
	requests short12-outage >"$WORK/outage.held"
	wait "$kb"
	echo $? >"$WORK/outage.rc"
) &
outage_run=$!
SERVER_PIDS+=("$outage_run") # a failure elsewhere ends its loops too
# --env naming the very variable the profile's secret comes from: the command gets the
# path in it, keybearer-fetch the secret at each refresh
(
	set +e
	KB_TF_SECRET=$SECRET "$KB" exec --profile envsecret --token-file --env KB_TF_SECRET -- \
		"$PY" "$READER" read KB_TF_SECRET 14 "$WORK/envsecret-reads" 2>"$WORK/envsecret.err"
	echo $? >"$WORK/envsecret.rc"
) &
envsecret_run=$!
(
	set +e
	"$KB" exec --profile warn -- sh -c 'sleep 14' 2>"$WORK/warn.err"
	echo $? >"$WORK/warn.rc"
) &
warn_run=$!

echo "# the file: the token alone, 0600, in a 0700 directory of ours; no token in the environment"
run_kb exec --profile main --token-file -- sh -c \
	'stat -c "%a %u %F" "$KEYBEARER_TOKEN_FILE" "${KEYBEARER_TOKEN_FILE%/*}"; printf "[%s]" "${KEYBEARER_TOKEN-unset}"; cat "$KEYBEARER_TOKEN_FILE"'
expect_rc 0 "exec --token-file"
token=$("$KB" get --profile main --format token)
expect_eq "$OUT" "600 $(id -u) regular file
700 $(id -u) directory
[unset]$token" "the file, its directory and the environment"
expect_eq "$ERR" "" "stderr"
KEYBEARER_TOKEN_FILE=/elsewhere run_kb exec --profile main --token-file -- sh -c 'env | grep -c "^KEYBEARER_TOKEN_FILE=$XDG_RUNTIME_DIR/keybearer/main\.[0-9]*\.token$"'
expect_eq "$OUT" 1 "the caller's KEYBEARER_TOKEN_FILE, replaced"
run_kb exec --profile main --token-file --env MY_FILE -- sh -c 'printf "%s|%s" "${KEYBEARER_TOKEN_FILE-unset}" "${MY_FILE%/*}"'
expect_eq "$OUT" "unset|$XDG_RUNTIME_DIR/keybearer" "--env names the variable"

echo "# the file is gone when the command ends, however it ends; its status is ours"
# name|command|exit status seen by a parent (negative: the signal keybearer died of)
while IFS='|' read -r name command status; do
	set +e
	got=$("$PY" -c 'import subprocess, sys; print(subprocess.run(sys.argv[1:]).returncode)' \
		"$KB" exec --profile main --token-file -- sh -c "echo \"\$KEYBEARER_TOKEN_FILE\" >'$WORK/path'; $command" 2>"$WORK/err")
	set -e
	expect_eq "$got" "$status" "$name: exit status"
	expect_eq "$(cat "$WORK/err")" "" "$name: stderr"
	[ ! -e "$(cat "$WORK/path")" ] || fail "$name: the file is still there"
	expect_eq "$(token_files)" "" "$name: token files left"
done <<'EOF'
exits 0|exit 0|0
exits 3|exit 3|3
is killed (SIGKILL)|kill -KILL $$|-9
dies of SIGTERM|kill -TERM $$|-15
dies of SIGINT|kill -INT $$|-2
EOF
run_kb exec --profile main --token-file -- /nonexistent/tool
expect_rc 127 "a command that cannot run"
expect_eq "$ERR" "keybearer: cannot run /nonexistent/tool: No such file or directory — check the command and PATH" "its message"
expect_eq "$(token_files)" "" "token files after a command that cannot run"

echo "# SIGTERM to keybearer reaches the command once; keybearer waits for it and dies of it too"
rm -f "$WORK/ready"
set +e
"$KB" exec --profile main --token-file -- sh -c \
	'echo "$KEYBEARER_TOKEN_FILE" >"$0.path"; exec "$1" "$2" count-signal SIGTERM "$0" 0.5' \
	"$WORK/ready" "$PY" "$READER" &
kb=$!
set -e
wait_for "$WORK/ready"
kill -TERM "$kb"
set +e
wait "$kb"
rc=$?
set -e
expect_eq "$rc" 1 "the command's count of SIGTERMs (its exit status)"
[ ! -e "$(cat "$WORK/ready.path")" ] || fail "the file is still there after SIGTERM"
rm -f "$WORK/ready"
"$KB" exec --profile main --token-file -- "$PY" -c 'import sys, time; open(sys.argv[1], "w").close(); time.sleep(30)' "$WORK/ready" &
kb=$!
wait_for "$WORK/ready"
kill -TERM "$kb"
got=$("$PY" -c 'import os, sys; pid = int(sys.argv[1])
for _ in range(200):
    try: os.kill(pid, 0)
    except ProcessLookupError: print("gone"); break
    __import__("time").sleep(0.05)' "$kb")
expect_eq "$got" "gone" "keybearer after SIGTERM to a command that dies of it"
set +e
wait "$kb"
rc=$?
set -e
expect_eq "$rc" 143 "keybearer's status after SIGTERM (128 + 15)"
expect_eq "$(token_files)" "" "token files after SIGTERM"

echo "# ^C on the terminal reaches the command once (the terminal signals the whole group)"
rm -f "$WORK/ready"
got=$("$PY" "$READER" ctrl-c "$WORK/ready" -- "$KB" exec --profile main --token-file -- \
	"$PY" "$READER" count-signal SIGINT "$WORK/ready" 0.5)
expect_eq "$(tail -n 1 <<<"$got")" "exit 1" "the command's count of ^C"
expect_eq "$(token_files)" "" "token files after ^C"

echo "# keybearer holds no fd of the command's: a reader of its output ends when it does"
start=$(date +%s%N)
"$KB" exec --profile main --token-file -- sh -c 'echo out; sleep 0.2' | cat >"$WORK/piped"
took=$((($(date +%s%N) - start) / 1000000))
expect_eq "$(cat "$WORK/piped")" "out" "the command's output through a pipe"
[ "$took" -lt 1500 ] || fail "the pipe stayed open ${took} ms"
# the fds the command has are the ones it was given, and no others of keybearer's
run_kb exec --profile main --token-file -- sh -c 'ls /proc/$$/fd' 7</dev/null
expect_eq "$(sort -n <<<"$OUT" | tr '\n' ' ')" "$(sh -c 'ls /proc/$$/fd' 7</dev/null | sort -n | tr '\n' ' ')" \
	"the command's fds"

echo "# an unsafe XDG_RUNTIME_DIR is refused, nothing is run"
mkdir -p "$WORK/open" "$WORK/private" "$WORK/theirs"
chmod 755 "$WORK/open"
chmod 700 "$WORK/private" "$WORK/theirs"
ln -sfn "$WORK/private" "$WORK/link"
unsafe_cases="open|$WORK/open|XDG_RUNTIME_DIR \\($WORK/open\\) is accessible to group or others \\(mode 0755\\) — run chmod 700 on it
a symbolic link|$WORK/link|XDG_RUNTIME_DIR \\($WORK/link\\) is a symbolic link or not a directory — point XDG_RUNTIME_DIR at a directory of yours with mode 0700, or unset it
relative|run|XDG_RUNTIME_DIR \\(run\\) is not an absolute path — fix or unset it"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$WORK/theirs"
	unsafe_cases="$unsafe_cases
someone else's|$WORK/theirs|XDG_RUNTIME_DIR \\($WORK/theirs\\) does not belong to you — point XDG_RUNTIME_DIR at a directory of yours with mode 0700, or unset it"
fi
while IFS='|' read -r name dir message; do
	rm -f "$WORK/ran"
	set +e
	XDG_RUNTIME_DIR=$dir "$KB" exec --profile main --token-file -- touch "$WORK/ran" 2>"$WORK/err"
	RC=$?
	set -e
	ERR=$(cat "$WORK/err")
	expect_rc 74 "$name XDG_RUNTIME_DIR"
	expect_match "$ERR" "^keybearer: $message\$" "$name XDG_RUNTIME_DIR: the message"
	[ ! -e "$WORK/ran" ] || fail "$name XDG_RUNTIME_DIR: the command ran"
done <<<"$unsafe_cases"

echo "# without XDG_RUNTIME_DIR: a private directory of its own under TMPDIR, removed after"
mkdir -p "$WORK/tmp"
chmod 700 "$WORK/tmp"
set +e
out=$(env -u XDG_RUNTIME_DIR TMPDIR="$WORK/tmp" "$KB" exec --profile main --token-file -- sh -c \
	'stat -c "%a %F" "${KEYBEARER_TOKEN_FILE%/*}" "$KEYBEARER_TOKEN_FILE"; echo "${KEYBEARER_TOKEN_FILE%/*}"')
set -e
expect_eq "$(head -n 2 <<<"$out")" "700 directory
600 regular file" "the fallback directory and file"
expect_match "$(tail -n 1 <<<"$out")" "^$WORK/tmp/keybearer-exec\.[A-Za-z0-9]{6}\$" "the fallback directory"
expect_eq "$(ls -A "$WORK/tmp")" "" "left in TMPDIR"

echo "# plain exec stays a real exec: the command has keybearer's pid"
"$KB" exec --profile main -- sh -c 'echo $$' >"$WORK/pid" &
kb=$!
wait "$kb"
expect_eq "$(cat "$WORK/pid")" "$kb" "the command's pid"
echo "# ... and it has no child of keybearer's, nor does the watcher hold its stdout"
run_kb exec --profile main -- "$PY" -c 'import os, time; time.sleep(0.3); p = os.getpid(); print(repr(open("/proc/%d/task/%d/children" % (p, p)).read()))'
expect_eq "$OUT" "''" "the command's children"
start=$(date +%s%N)
"$KB" exec --profile main -- sh -c 'echo out' | cat >"$WORK/piped"
took=$((($(date +%s%N) - start) / 1000000))
[ "$took" -lt 1000 ] || fail "plain exec's pipe stayed open ${took} ms (the token lives an hour)"

echo "# the long runs"
wait "$warn_run"
expect_eq "$(cat "$WORK/warn.rc")" 0 "plain exec of a command outliving its token"
warn_err=$(cat "$WORK/warn.err")
expect_match "$warn_err" "^keybearer: the token in KEYBEARER_TOKEN expired at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z while sh \\(pid [0-9]+\\) still runs: its requests with it are refused from now on — use keybearer exec --token-file for jobs that outlive a token\$" \
	"the warning"
expect_eq "$(wc -l <<<"$warn_err")" 1 "warnings"
run_kb exec --profile warn -- sh -c 'sleep 1'
expect_rc 0 "plain exec of a command that ends in time"
expect_eq "$ERR" "" "stderr of a command that ends in time"
# the watchers of this test's commands (by the environment they share with it) are gone:
# each ends when its command does
sleep 0.5
watchers=0
for pid in $(pgrep -x keybearer-watch); do
	! grep -qz "^XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR\$" "/proc/$pid/environ" 2>/dev/null ||
		watchers=$((watchers + 1))
done
expect_eq "$watchers" 0 "watchers left after their commands ended"

wait "$envsecret_run"
expect_eq "$(cat "$WORK/envsecret.rc")" 0 "the reader with --env naming the secret's variable"
expect_eq "$(cat "$WORK/envsecret.err")" "" "keybearer's stderr with --env naming the secret's variable"
server GET /_issued >"$WORK/issued"
summary=$("$PY" "$READER" check "$WORK/envsecret-reads" "$WORK/issued" "$LIFETIME" "$WINDOW") ||
	fail "the reads with --env naming the secret's variable: $summary"
expect_match "$summary" "tokens 2," "the tokens with --env naming the secret's variable (one refresh)"

wait "$long_run"
expect_eq "$(cat "$WORK/reads.rc")" 0 "the reader's exit status"
expect_eq "$(cat "$WORK/reads.err")" "" "keybearer's stderr over three lifetimes"
server GET /_issued >"$WORK/issued"
summary=$("$PY" "$READER" check "$WORK/reads" "$WORK/issued" "$LIFETIME" "$WINDOW") ||
	fail "the reads: $summary"
echo "    $summary; $(requests short12) token requests"
tokens=$(sed -n 's/.*tokens \([0-9]*\),.*/\1/p' <<<"$summary")
expect_eq "$(requests short12)" "$tokens" "token requests (each one's token was read)"
[ "$tokens" -ge 4 ] || fail "only $tokens tokens in three lifetimes: no refresh before expiry"
expect_eq "$(token_files short)" "" "token files after the reader"

wait "$outage_run"
expect_eq "$(cat "$WORK/outage.rc")" 0 "the outage reader's exit status"
outage_err=$(cat "$WORK/outage.err")
server GET /_issued >"$WORK/issued"
summary=$("$PY" "$READER" check "$WORK/outage-reads" "$WORK/issued" "$LIFETIME" "$WINDOW" \
	--allow-missing) || fail "the reads during the outage: $summary"
echo "    outage: $summary; $(requests short12-outage) token requests"
# the first token, the recovery's 30 s later, and (depending on the moment the reader
# ends, 4 s after it is due) the refresh of that one 9 s later
expect_match "$summary" "tokens [23], missing [1-9]" "the outage's tokens and missing reads"
tokens=$(sed -n 's/.*tokens \([0-9]*\),.*/\1/p' <<<"$summary")
# the reads: the first token, then no file, then the next ones: one gap
expect_eq "$(awk '{ print ($2 == "ENOENT" ? "none" : $2) }' "$WORK/outage-reads" | uniq | wc -l)" \
	"$((tokens + 1))" "the outage's phases (token, no file, token...)"
at_removal=$(cat "$WORK/outage.at-removal")
expect_eq "$(cat "$WORK/outage.held")" "$at_removal" "token requests while the failure held"
expect_eq "$(requests short12-outage)" "$((at_removal + tokens - 1))" "token requests after the outage"
path_re="$XDG_RUNTIME_DIR/keybearer/outage\.[0-9]+\.token"
expect_eq "$(grep -c 'no new token for' <<<"$outage_err")" 1 "the failure, said once"
# (the failed request takes up to its 1 s timeout, and the floor comes 1 s after the
# window: the file may have gone while it ran, on a slow machine)
expect_match "$outage_err" "^keybearer: warning: no new token for $path_re(: it keeps the current one, valid [0-9]+ s more| yet); keybearer asks again in 30 s\$" \
	"what keybearer does about the failure"
expect_match "$outage_err" "503" "what failed"
expect_eq "$(grep -c 'removed the file' <<<"$outage_err")" 1 "the removal, said once"
expect_match "$outage_err" "^keybearer: warning: the token in $path_re is about to expire and no new one could be had: removed the file; keybearer goes on asking\$" \
	"the removal"
expect_eq "$(grep -c 'holds a new token again' <<<"$outage_err")" 1 "the recovery, said once"
expect_match "$outage_err" "^keybearer: $path_re holds a new token again\$" "the recovery"
expect_eq "$(token_files outage)" "" "token files after the outage"

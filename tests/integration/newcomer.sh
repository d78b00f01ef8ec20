#!/usr/bin/env bash
# What a new user meets when something is wrong, as a transcript. Each row below is a
# situation (=== NAME, made by setup), the command they type ($ ..., keybearer as they
# would write it), every line keybearer prints on stderr (grep -E, whole line, in order)
# and the exit code (exit N). stdout stays empty.
. "$(dirname "$0")/lib.sh"

start_server
closed_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# setup NAME: makes the situation a row is about
setup() {
	case "$1" in
	wrong-port)
		# 5 s: the retries' pauses (random halves of 250 ms, 500 ms, 1 s, 2 s...) pass a
		# second before they run out, however the noise falls; with 3 s they could end
		# after 0.9 s of waiting, rightly without a word
		write_profile wrong ok "token_url = https://127.0.0.1:$closed_port/token" "timeout = 5"
		;;
	stopped-server)
		# a second token server, stopped: the kernel accepts connections, nobody answers
		"$PY" "$TESTS/tokenserver.py" --port-file "$WORK/stopped-port" --client-id x \
			--secret-file "$WORK/secret" --cert "$WORK/tls/server.pem" \
			--key "$WORK/tls/server.key" &
		SERVER_PIDS+=($!)
		wait_for_file "$WORK/stopped-port" "the second token server"
		kill -STOP "${SERVER_PIDS[-1]}"
		write_profile stopped ok \
			"token_url = https://127.0.0.1:$(cat "$WORK/stopped-port")/ok/token" "timeout = 3"
		;;
	typo)
		KEYBEARER_CONFIG="$WORK/typo-config" && export KEYBEARER_CONFIG
		printf '[profile typo]\ntoken_url = %s/ok/token\nclient_id = x\nscop = read\n' \
			"$BASE" >"$KEYBEARER_CONFIG"
		chmod 600 "$KEYBEARER_CONFIG"
		;;
	git-no-path)
		unset KEYBEARER_CONFIG
		write_profile team ok "urls = $BASE/team/repo.git/"
		printf 'protocol=https\nhost=127.0.0.1:%s\n\n' "$PORT" >"$WORK/git-request"
		;;
	*) fail "no setup $1" ;;
	esac
}

# teardown NAME: undoes what setup made, where it would outlive the row
teardown() {
	case "$1" in
	stopped-server) kill -CONT "${SERVER_PIDS[-1]}" ;; # or it would never see its SIGTERM
	esac
}

# check_row: runs the row read so far and compares
check_row() {
	local i got
	set +e
	eval "${command//keybearer/\"\$KB\"}" >"$WORK/out" 2>"$WORK/err" </dev/null
	RC=$?
	set -e
	got=$(cat "$WORK/err")
	expect_eq "$RC" "$code" "$situation: exit of $command (stderr: $got)"
	expect_eq "$(cat "$WORK/out")" "" "$situation: stdout"
	expect_eq "$(wc -l <"$WORK/err")" "${#lines[@]}" "$situation: stderr lines [$got]"
	for i in "${!lines[@]}"; do
		expect_match "$(sed -n "$((i + 1))p" "$WORK/err")" "^${lines[$i]}\$" \
			"$situation: stderr line $((i + 1))"
	done
	teardown "$situation"
	echo "ok - $situation: $command -> $RC"
}

situation="" rows=0
while IFS= read -r line; do
	case "$line" in
	'#'* | '') ;;
	'=== '*) situation=${line#=== } lines=() && setup "$situation" ;;
	'$ '*) command=${line#\$ } ;;
	'exit '*) code=${line#exit } && check_row && rows=$((rows + 1)) ;;
	*) line=${line//CLOSED/$closed_port} && lines+=("${line//PORT/$PORT}") ;;
	esac
done <<'TRANSCRIPT'
# A wrong port: the connection is refused at once, and the retries say what they wait for.
=== wrong-port
$ keybearer get --profile wrong
keybearer: waiting for the token endpoint of profile wrong, which failed \(attempt [0-9]\): trying again for at most [0-9] s more
keybearer: cannot reach token endpoint https://127\.0\.0\.1:CLOSED/token: .* — check the network, proxy settings and token_url
exit 75

# A stopped server: the request goes out and nothing comes back.
=== stopped-server
$ keybearer get --profile stopped
keybearer: waiting for token endpoint https://127\.0\.0\.1:[0-9]+/ok/token to answer \(at most 2 s more\)
keybearer: token endpoint https://127\.0\.0\.1:[0-9]+/ok/token did not answer in time: .* — try again later, or raise timeout \(now 3 s\) in the profile
exit 75

# A mistyped key: the key it most likely meant, and where the keys are listed.
=== typo
$ keybearer get
keybearer: [^ ]*/typo-config:4: unknown key "scop" in \[profile typo\] — did you mean scope\? see man 5 keybearer-config for the keys
exit 78

# git asks without the repository's path unless credential.useHttpPath is set, and the
# profile claims only a path on that host: git shows the helper's stderr.
=== git-no-path
$ keybearer git get <"$WORK/git-request"
keybearer: no token for https://127\.0\.0\.1:PORT/: git sent no path, and profile team claims only https://127\.0\.0\.1:PORT/team/repo\.git/ on that host — run git config --global credential\.useHttpPath true, so that git sends the repository's path
exit 0
TRANSCRIPT
[ "$rows" -ge 4 ] || fail "only $rows rows ran"
echo "newcomer: all $rows rows passed"

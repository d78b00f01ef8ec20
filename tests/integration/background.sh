#!/usr/bin/env bash
# A token inside its refresh window is handed out at once while one detached
# keybearer-fetch refreshes it: no caller waits on a slow endpoint, the endpoint sees one
# request per refresh, nothing is left behind, and a failed refresh shows in status.
. "$(dirname "$0")/lib.sh"

start_server
# 30 s tokens from an endpoint that takes 2 s: fresh for 15 s (half the lifetime), then
# handed out while a background refresh runs, which lands with about 13 s to spare.
write_profile slow short-slow "timeout = 4"
run_kb get --profile slow
expect_rc 0 "the first get (waits for the endpoint)"
expect_eq "$(requests short-slow)" 1 "requests after the first get"

echo "# 40 s of gets every 50 ms: none waits for the 2 s endpoint"
end=$(($(date +%s) + 40))
slowest=0 calls=0 tokens=""
while [ "$(date +%s)" -lt "$end" ]; do
	start=$(date +%s%N)
	run_kb get --profile slow --format token
	took=$((($(date +%s%N) - start) / 1000000))
	expect_rc 0 "a get during the refreshes"
	expect_eq "$ERR" "" "stderr of a get during the refreshes"
	[ "$took" -le "$slowest" ] || slowest=$took
	calls=$((calls + 1))
	case " $tokens " in *" $OUT "*) ;; *) tokens="$tokens $OUT" ;; esac
	sleep 0.05
done
made=$(requests short-slow)
distinct=$(wc -w <<<"$tokens")
echo "    $calls gets, slowest ${slowest} ms, $made token requests, $distinct distinct tokens"
[ "$slowest" -lt 1000 ] || fail "a get waited ${slowest} ms: it must not wait for the endpoint"
# one request per refresh cycle (15 s fresh + 2 s to refresh): 3 or 4 in all
[ "$made" -ge 3 ] && [ "$made" -le 4 ] || fail "$made token requests in 40 s of 30 s tokens"
expect_eq "$distinct" "$((made))" "every token minted was handed out"

echo "# nothing left behind: no zombie, no stray keybearer-fetch once it is done"
# a refresh under way ends within the endpoint's 2 s (a loaded machine gets 15 s)
for _ in $(seq 150); do
	pgrep -f "keybearer-fetch mint --profile slow" >/dev/null || break
	sleep 0.1
done
pgrep -f "keybearer-fetch mint --profile slow" >/dev/null && fail "a background refresh is still running"
# (ours only, by the parent's environment: other tests on the machine have their own
# short-lived ones)
zombies=0
for zombie in $(ps -eo stat=,pid=,comm= | awk '$1 ~ /^Z/ && $3 ~ /keybearer/ { print $2 }'); do
	# a zombie reaped since the list was made is gone: ps then fails, and that is no fault
	parent=$(ps -o ppid= -p "$zombie" | tr -d ' ') || continue
	if [ -n "$parent" ] && grep -qz "^XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR\$" "/proc/$parent/environ" 2>/dev/null; then
		zombies=$((zombies + 1))
	fi
done
expect_eq "$zombies" 0 "zombie keybearer processes"

echo "# 20 callers at once in the refresh window start one refresh, which keeps none of their fds"
"$KB" invalidate --profile slow
run_kb get --profile slow --format token
sleep 16 # into its refresh window
printf '#!/bin/sh\necho "$*" >>%s\nexec %s "$@"\n' "$WORK/fetch-runs" \
	"${KEYBEARER_FETCH:-$KB_STAGE/libexec/keybearer/keybearer-fetch}" >"$WORK/counting-fetch"
chmod 755 "$WORK/counting-fetch"
start=$(date +%s%N)
# stdout is a pipe to cat, and fd 9 another end of it: a refresher that kept either would
# hold cat (and this line) for the endpoint's 2 s
for _ in $(seq 20); do
	KEYBEARER_FETCH="$WORK/counting-fetch" "$KB" get --profile slow --format token 9>&1 &
done | cat >"$WORK/crowd-tokens"
took=$((($(date +%s%N) - start) / 1000000))
[ "$took" -lt 1500 ] || fail "the callers' pipe stayed open ${took} ms: a refresher kept it"
expect_eq "$(sort -u "$WORK/crowd-tokens" | wc -l)" 1 "one token for all 20"
expect_match "$(cat "$WORK/fetch-runs")" "^mint --profile slow --background --lock-fd [0-9]+$" \
	"the one background refresh, with the lock handed down"
for _ in $(seq 150); do
	pgrep -f "keybearer-fetch mint --profile slow" >/dev/null || break
	sleep 0.1
done

echo "# a failed background refresh: the caller still gets its token, status says why"
"$KB" invalidate --profile slow
run_kb get --profile slow --format token # a new 30 s token
server POST /_override/short-slow down >/dev/null
sleep 16 # into its refresh window
run_kb get --profile slow --format token
expect_rc 0 "a get while the background refresh fails"
expect_eq "$ERR" "" "stderr of that get"
sleep 5 # the background refresh retries until the profile's 4 s timeout
run_kb status --profile slow
expect_match "$OUT" "last refresh failed [0-9]+ s ago: token endpoint failed \\(HTTP 503\\): \"Service Unavailable\" — try again later; next attempt in [0-9]+ s" "status after a failed refresh"
server POST /_override/short-slow "" >/dev/null
echo "# 20 callers looping for a minute on 20 s tokens from a 2 s endpoint: none waits for it"
write_profile twenty short20-slow
run_kb get --profile twenty
expect_rc 0 "the first 20 s token"
write_profile steady ok "token_url = $BASE/ok/token?steady"
run_kb get --profile steady
# loop PROFILE SECONDS OUT: gets every 50 ms, each one's time in microseconds to OUT
loop() {
	local end=$((${EPOCHREALTIME%.*} + $2)) start took
	while [ "${EPOCHREALTIME%.*}" -lt "$end" ]; do
		start=${EPOCHREALTIME/./}
		"$KB" get --profile "$1" --format token >/dev/null 2>>"$3.err" </dev/null ||
			echo "exit $?" >>"$3.err"
		took=$((${EPOCHREALTIME/./} - start))
		echo "$took" >>"$3"
		sleep 0.05
	done
}
slowest() { sort -n "$@" | tail -n 1; }
p99() { sort -n "$@" | awk '{ v[NR] = $1 } END { print v[int(NR * 0.99)] }'; }
# crowd PROFILE SECONDS: 20 loops at once, their times in $WORK/PROFILE.N
crowd() {
	local i pids=()
	for i in $(seq 20); do
		loop "$1" "$2" "$WORK/$1.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
}
before=$(requests short20-slow)
crowd twenty 60
made=$(($(requests short20-slow) - before))
# the same crowd on an hour's token: what a cache hit costs on this machine right now
crowd steady 10
calls=$(cat "$WORK"/twenty.[0-9]* | wc -l)
echo "    $calls gets, slowest $(($(slowest "$WORK"/twenty.[0-9]*) / 1000)) ms, p99 $(($(p99 "$WORK"/twenty.[0-9]*) / 1000)) ms; cache hits alone: slowest $(($(slowest "$WORK"/steady.[0-9]*) / 1000)) ms, p99 $(($(p99 "$WORK"/steady.[0-9]*) / 1000)) ms; $made token requests"
errors=$(cat "$WORK"/twenty.*.err 2>/dev/null)
[ -z "$errors" ] || fail "gets failed or warned: $(head -n 3 <<<"$errors")"
# Waiting for the endpoint is 2 s or more; a cache hit, even on a loaded machine, far less
# (under AddressSanitizer every process is slower to start: there, less than 1.8 s).
bound=1000000
[ -z "${KB_SANITIZED:-}" ] || bound=1800000
[ "$(slowest "$WORK"/twenty.[0-9]*)" -lt "$bound" ] ||
	fail "a get waited $(($(slowest "$WORK"/twenty.[0-9]*) / 1000)) ms: it must not wait for the 2 s endpoint"
# one refresh per token: fresh for 10 s, refreshed in the background within the next 5
[ "$made" -ge 4 ] && [ "$made" -le 7 ] || fail "$made token requests in a minute of 20 s tokens"
echo "background: all passed"

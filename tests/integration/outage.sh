#!/usr/bin/env bash
# Runs every row of outage.tsv: what a failing token endpoint costs it, in requests.
. "$(dirname "$0")/lib.sh"

start_server

# check_caller WHAT CODE PATTERN OUT ERR RC: one caller's ending, as a row wants it.
check_caller() {
	local what=$1 code=$2 pattern=$3 out=$4 err=$5 rc=$6
	[ "$rc" = "$code" ] || fail "$what: exited $rc, expected $code; stderr: $err"
	expect_eq "$out" "" "$what: stdout"
	expect_match "$err" "$pattern" "$what: stderr"
	expect_eq "$(printf '%s\n' "$err" | wc -l)" 1 "$what: stderr lines"
	expect_no_secret "$err" "$what: stderr"
}

# check_requests WHAT MODE BEFORE RANGE
check_requests() {
	local made=$(($(requests "$2") - $3)) least=${4%-*} most=${4#*-}
	[ "$made" -ge "$least" ] && [ "$made" -le "$most" ] ||
		fail "$1: $made requests, expected $4"
	echo "ok - $1 -> $made request(s)"
}

row=0
cold_rows=()
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	[[ "$line" =~ ^([a-z]+)\ +([^ ]+)\ +([0-9]+)\ +([0-9]+-[0-9]+)\ +(.*)$ ]] ||
		fail "bad row: $line"
	kind=${BASH_REMATCH[1]} mode=${BASH_REMATCH[2]} code=${BASH_REMATCH[3]}
	range=${BASH_REMATCH[4]} pattern=${BASH_REMATCH[5]}
	row=$((row + 1))
	name="row$row"
	write_profile "$name" "$mode" "token_url = $BASE/$mode/token?row=$row"
	before=$(requests "$mode")
	case "$kind" in
	cold)
		# started now, checked together below: each takes its 30 s
		"$KB" get --profile "$name" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null &
		cold_rows+=("$row $! $mode $before $code $range $pattern")
		;;
	*) fail "row $row: unknown kind $kind" ;;
	esac
done <"$TESTS/outage.tsv"

for entry in "${cold_rows[@]}"; do
	read -r row pid mode before code range pattern <<<"$entry"
	set +e
	wait "$pid"
	rc=$?
	set -e
	what="row $row (one cold get, $mode)"
	check_caller "$what" "$code" "$pattern" "$(cat "$WORK/row$row.out")" \
		"$(cat "$WORK/row$row.err")" "$rc"
	check_requests "$what" "$mode" "$before" "$range"
done
echo "outage: all $row rows passed"

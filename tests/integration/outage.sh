#!/usr/bin/env bash
# Runs every row of outage.tsv: what a failing token endpoint costs it, in requests.
. "$(dirname "$0")/lib.sh"

start_server

# check_caller WHAT CODE PATTERN OUT ERR RC: one caller's ending, as a row wants it.
check_caller() {
	local what=$1 code=$2 pattern=$3 out=$4 err=$5 rc=$6
	[ "$rc" = "$code" ] || fail "$what: exited $rc, expected $code; stderr: $err"
	expect_eq "$out" "" "$what: stdout"
	# a wait said of itself at most once, then the one line of the answer
	expect_notices "$err" 1000 "$what"
	expect_match "$(without_notices "$err")" "$pattern" "$what: stderr"
	expect_eq "$(without_notices "$err" | wc -l)" 1 "$what: stderr lines"
	expect_no_secret "$err" "$what: stderr"
}

# check_requests WHAT MODE BEFORE RANGE
check_requests() {
	local made=$(($(requests "$2") - $3)) least=${4%-*} most=${4#*-}
	[ "$made" -ge "$least" ] && [ "$made" -le "$most" ] ||
		fail "$1: $made requests, expected $4"
	echo "ok - $1 -> $made request(s)"
}

# run_crowd ROW MODE CODE RANGE PATTERN: 100 parallel cold gets, one answer for all.
run_crowd() {
	local row=$1 mode=$2 code=$3 range=$4 pattern=$5 name="row$1" i pids=() rc first
	local before
	before=$(requests "$mode")
	for i in $(seq 100); do
		"$KB" get --profile "$name" >"$WORK/$name.out.$i" 2>"$WORK/$name.err.$i" </dev/null &
		pids+=($!)
	done
	for i in $(seq 100); do
		set +e
		wait "${pids[$((i - 1))]}"
		rc=$?
		set -e
		check_caller "row $row ($mode), caller $i" "$code" "$pattern" \
			"$(cat "$WORK/$name.out.$i")" "$(cat "$WORK/$name.err.$i")" "$rc"
	done
	first=$(without_notices "$(cat "$WORK/$name.err.1")")
	for i in $(seq 2 100); do
		expect_eq "$(without_notices "$(cat "$WORK/$name.err.$i")")" "$first" \
			"row $row ($mode): caller $i's answer"
	done
	check_requests "row $row (100 callers, $mode)" "$mode" "$before" "$range"
}

# run_change ROW SOURCE:CHANGE CODE RANGE PATTERN
run_change() {
	local row=$1 source=${2%%:*} change=${2#*:} code=$3 range=$4 pattern=$5 name="row$1"
	local file="$WORK/$name.secret" variable="ROW$1_SECRET" before setup
	printf 'wrong-%s' "$row" >"$file"
	chmod 600 "$file"
	case "$source" in
	file) setup="secret = file:$file" ;;
	env) setup="secret = env:$variable" && export "$variable=wrong-$row" ;;
	command) setup="secret = command:cat $file" ;;
	esac
	write_profile "$name" ok "token_url = $BASE/ok/token?row=$row" "$setup"
	before=$(requests ok)
	run_kb get --profile "$name"
	expect_rc 77 "row $row: the wrong secret"
	check_requests "row $row (the wrong secret)" ok "$before" 1-1
	case "$change" in
	same) ;;
	rewritten) printf 'wrong-%s-again' "$row" >"$file" ;;
	replaced) printf 'wrong-%s-again' "$row" >"$file.new" && chmod 600 "$file.new" &&
		mv "$file.new" "$file" ;;
	other) printf 'wrong-%s-again' "$row" >"$file" && export "$variable=wrong-$row-again" ;;
	profile) printf '[profile %s]\ntimeout = 29\n\n' "$name" >>"$CONFIG" ;;
	invalidate) "$KB" invalidate --profile "$name" ;;
	fixed) printf '%s' "$SECRET" >"$file" ;;
	*) fail "row $row: unknown change $change" ;;
	esac
	before=$(requests ok)
	run_kb get --profile "$name"
	if [ "$code" = 0 ]; then
		expect_rc 0 "row $row ($source:$change)"
		expect_match "$OUT" "^Authorization: Bearer " "row $row: the token"
		expect_eq "$ERR" "" "row $row: stderr"
	else
		check_caller "row $row ($source:$change)" "$code" "$pattern" "$OUT" "$ERR" "$RC"
	fi
	check_requests "row $row ($source:$change)" ok "$before" "$range"
}

# The rows, read first: the cold ones run side by side from a config of their own, written
# whole before they start (the other rows go on appending profiles to the main one).
rows=()
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	[[ "$line" =~ ^([a-z]+)\ +([^ ]+)\ +([0-9]+)\ +([0-9]+-[0-9]+)\ +(.*)$ ]] ||
		fail "bad row: $line"
	rows+=("$line")
done <"$TESTS/outage.tsv"

# row_fields LINE: kind, mode, code, range and pattern of a row
row_fields() {
	[[ "$1" =~ ^([a-z]+)\ +([^ ]+)\ +([0-9]+)\ +([0-9]+-[0-9]+)\ +(.*)$ ]]
	kind=${BASH_REMATCH[1]} mode=${BASH_REMATCH[2]} code=${BASH_REMATCH[3]}
	range=${BASH_REMATCH[4]} pattern=${BASH_REMATCH[5]}
}

for row in "${!rows[@]}"; do
	row_fields "${rows[$row]}"
	[ "$kind" != cold ] || CONFIG="$WORK/cold-config" write_profile "row$row" "$mode" \
		"token_url = $BASE/$mode/token?row=$row"
done
# started now, checked together at the end: each takes its 30 s
cold_rows=()
for row in "${!rows[@]}"; do
	row_fields "${rows[$row]}"
	[ "$kind" = cold ] || continue
	before=$(requests "$mode")
	# (the exit status goes to a file: the rows in between start and reap hundreds of
	# processes, and a shell need not remember this one's status all that while)
	(
		set +e
		KEYBEARER_CONFIG="$WORK/cold-config" "$KB" get --profile "row$row" \
			>"$WORK/row$row.out" 2>"$WORK/row$row.err" </dev/null
		echo $? >"$WORK/row$row.rc.tmp" && mv "$WORK/row$row.rc.tmp" "$WORK/row$row.rc"
	) &
	cold_rows+=("$row $! $mode $before $code $range $pattern")
done
for row in "${!rows[@]}"; do
	row_fields "${rows[$row]}"
	case "$kind" in
	cold) ;;
	crowd)
		write_profile "row$row" "$mode" "token_url = $BASE/$mode/token?row=$row"
		run_crowd "$row" "$mode" "$code" "$range" "$pattern"
		;;
	change) run_change "$row" "$mode" "$code" "$range" "$pattern" ;;
	*) fail "row $row: unknown kind $kind" ;;
	esac
done

for entry in "${cold_rows[@]}"; do
	read -r row pid mode before code range pattern <<<"$entry"
	for _ in $(seq 1200); do # the get's own bound is its 30 s timeout
		[ -s "$WORK/row$row.rc" ] && break
		sleep 0.1
	done
	[ -s "$WORK/row$row.rc" ] || fail "row $row: the cold get did not end in 120 s"
	rc=$(cat "$WORK/row$row.rc")
	what="row $row (one cold get, $mode)"
	check_caller "$what" "$code" "$pattern" "$(cat "$WORK/row$row.out")" \
		"$(cat "$WORK/row$row.err")" "$rc"
	check_requests "$what" "$mode" "$before" "$range"
done
echo "outage: all ${#rows[@]} rows passed"

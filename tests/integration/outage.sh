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

# run_caller PREFIX N COMMAND...: runs COMMAND with its output in PREFIX.out.N and
# PREFIX.err.N, and its exit status in PREFIX.rc.N. The status goes to a file, not to the
# shell's memory: with hundreds of processes started and reaped (their pids wrap here at
# pid_max), bash can lose one and have wait answer 127 while it still runs.
run_caller() {
	local prefix=$1 i=$2
	shift 2
	set +e
	"$@" >"$prefix.out.$i" 2>"$prefix.err.$i" </dev/null
	echo $? >"$prefix.rc.$i.tmp" && mv "$prefix.rc.$i.tmp" "$prefix.rc.$i"
}

# caller_status PREFIX N: the exit status run_caller kept, once the caller has ended (its
# own bound: the profile's timeout and the lock's wait).
caller_status() {
	for _ in $(seq 1200); do
		[ -s "$1.rc.$2" ] && break
		sleep 0.1
	done
	[ -s "$1.rc.$2" ] || fail "$1 caller $2 did not end in 120 s"
	cat "$1.rc.$2"
}

# run_crowd ROW MODE CODE RANGE PATTERN: 100 parallel cold gets, one answer for all.
run_crowd() {
	local row=$1 mode=$2 code=$3 range=$4 pattern=$5 name="row$1" i pids=() rc first
	local before
	before=$(requests "$mode")
	for i in $(seq 100); do
		run_caller "$WORK/$name" "$i" "$KB" get --profile "$name" &
		pids+=($!)
	done
	wait "${pids[@]}" || true
	for i in $(seq 100); do
		rc=$(caller_status "$WORK/$name" "$i")
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
	KEYBEARER_CONFIG="$WORK/cold-config" run_caller "$WORK/cold$row" 1 "$KB" get \
		--profile "row$row" &
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
	rc=$(caller_status "$WORK/cold$row" 1)
	what="row $row (one cold get, $mode)"
	check_caller "$what" "$code" "$pattern" "$(cat "$WORK/cold$row.out.1")" \
		"$(cat "$WORK/cold$row.err.1")" "$rc"
	check_requests "$what" "$mode" "$before" "$range"
done
echo "outage: all ${#rows[@]} rows passed"

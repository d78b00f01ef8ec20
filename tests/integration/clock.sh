#!/usr/bin/env bash
# The wall clock may step either way between two calls: no token past its real expiry is
# handed out, and status never says it has more left than it has. A step is simulated by
# what it leaves behind — a cache record whose wall-clock times and boot-clock time no
# longer agree — since the clock itself is the machine's. One row per step, one runner.
. "$(dirname "$0")/lib.sh"

start_server
uptime=$(cut -d. -f1 /proc/uptime)
boot_id=$(cat /proc/sys/kernel/random/boot_id)

row=0
trim() { sed 's/^ *//; s/ *$//' <<<"$1"; }
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	[[ "$line" =~ ^(.+)\ @\ (.+)\ @\ (.+)\ @\ (.+)\ @\ +([0-9]+)$ ]] || fail "bad row: $line"
	name=$(trim "${BASH_REMATCH[1]}") mode=$(trim "${BASH_REMATCH[2]}")
	filter=$(trim "${BASH_REMATCH[3]}") status_pattern=$(trim "${BASH_REMATCH[4]}")
	made=${BASH_REMATCH[5]}
	row=$((row + 1))
	what="row $row ($name)"
	if [ "$uptime" -lt 200 ]; then
		echo "skipped $row - $what: the machine has been up only $uptime s"
		continue
	fi
	profile="clock$row"
	write_profile "$profile" "$mode" "token_url = $BASE/$mode/token?row=$row"
	run_kb get --profile "$profile" --format token
	expect_rc 0 "$what: the first get"
	old=$OUT
	file=$(grep -l -F -- "$old" "$CACHE_DIR"/*.json) || fail "$what: no cache file"
	jq --argjson now "$(date +%s)" --argjson boot "$(cut -d. -f1 /proc/uptime)" \
		--arg boot_id "$boot_id" "$filter" "$file" >"$WORK/edited" ||
		fail "$what: jq $filter"
	cat "$WORK/edited" >"$file"
	run_kb status --profile "$profile"
	expect_rc 0 "$what: status"
	line=$(grep '^  token ' <<<"$OUT")
	expect_match "$line" "$status_pattern" "$what: status"
	before=$(requests "$mode")
	run_kb get --profile "$profile" --format token
	expect_rc 0 "$what: the get after the step"
	expect_eq "$(($(requests "$mode") - before))" "$made" "$what: token requests of that get"
	if [ "$made" = 1 ]; then
		[ "$OUT" != "$old" ] || fail "$what: the untrustworthy token was handed out"
	else
		expect_eq "$OUT" "$old" "$what: the cached token"
		# what a caller is told it has left: no more than status said
		said=$(sed -n 's/.*valid for \(\([0-9]*\) h\)\{0,1\} *\(\([0-9]*\) min\)\{0,1\} *\(\([0-9]*\) s\)\{0,1\} (until.*/\2 \4 \6/p' <<<"$line")
		read -r h m sec <<<"$said"
		said=$(( ${h:-0} * 3600 + ${m:-0} * 60 + ${sec:-0} ))
		run_kb get --profile "$profile" --format json
		told=$(jq -r .expires_in <<<"$OUT")
		[ "$told" -le "$((said + 1))" ] || fail "$what: get says $told s left, status $said s"
	fi
	echo "ok $row - $what -> $made request(s); status: ${line#  token }"
done <<'ROWS'
# name @ mode @ jq filter on the record ($now: wall clock, $boot: boot clock, in s) @
#   status pattern (grep -E) @ token requests of the next get
no step                 @ ok    @ .                                                                       @ valid for (59 min 5[0-9] s|1 h) \(until                                       @ 0
# The clock stepped back an hour after the token came: the record is from the future.
stepped back an hour    @ ok    @ .obtained_at += 3600 | .expires_at += 3600                              @ not trusted: received 3[56][0-9]{2} s in the future \(the clock was set back\)  @ 1
stepped back a second   @ ok    @ .obtained_at += 2 | .expires_at += 2                                    @ not trusted: received [12] s in the future                                      @ 1
# Stepped back, but not past the receipt: 50 s have really passed of a 40 s token, the
# wall clock says 10 — the token is dead, though the wall clock gives it 30 s.
stepped back, dead      @ short @ .obtained_at = $now - 10 | .expires_at = $now + 30 | .obtained_boot = $boot - 50 @ expired 1[0-9] s ago                                                  @ 1
# ... 15 s really passed: 25 s left, not the 30 the wall clock says.
stepped back, alive     @ short @ .obtained_at = $now - 10 | .expires_at = $now + 30 | .obtained_boot = $boot - 15 @ valid for 2[45] s \(until                                        @ 0
# Stepped forward: the wall clock says less, and is believed.
stepped forward         @ ok    @ .obtained_at = $now - 3000 | .expires_at = $now + 600                   @ valid for (9 min 5[0-9] s|10 min) \(until                                        @ 0
# A record of another boot, or of a keybearer that did not note the boot: nobody can tell
# how long ago it came.
another boot            @ ok    @ .boot_id = "00000000-0000-4000-8000-000000000000"                       @ not trusted: received before this boot                                          @ 1
no boot clock           @ ok    @ del(.boot_id, .obtained_boot)                                           @ not trusted: received before this boot                                          @ 1
ROWS
[ "$row" -ge 8 ] || fail "only $row rows ran"

echo "# a token's life is what its claims allow, whatever the Date header or expires_in say"
while read -r mode least most; do
	case "$mode" in '#'* | '') continue ;; esac
	write_profile "$mode" "$mode"
	run_kb get --profile "$mode" --format json
	expect_rc 0 "$mode: get"
	left=$(jq -r .expires_in <<<"$OUT")
	[ "$left" -ge "$least" ] && [ "$left" -le "$most" ] ||
		fail "$mode: the token lives $left s, expected $least to $most"
	echo "ok - $mode -> $left s"
done <<'ROWS'
# mode                    expires_in between
jwt-date-behind           18 20
jwt-date-behind-no-iat    18 20
expires-in-lies           18 20
jwt-skewed                1798 1800
jwt-old-iat               598 600
ROWS
echo "clock: all $row rows passed"

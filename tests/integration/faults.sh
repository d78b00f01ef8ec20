#!/usr/bin/env bash
# Runs every row of faults.tsv against the test token server: one runner, the cases are data.
. "$(dirname "$0")/lib.sh"

start_server
printf '%s' 'not-the-secret' >"$WORK/wrong-secret"
chmod 600 "$WORK/wrong-secret"
# A JSON echo escapes '"' and '\', ensure_ascii writes U+00E9 as \u00e9: what SECRET lacks.
QUOTE_SECRET='q"u\o/t+e= &%é'
printf '%s' "$QUOTE_SECRET" >"$WORK/quote-secret"
chmod 600 "$WORK/quote-secret"
EXTRA_SECRETS=("$QUOTE_SECRET") # expect_no_secret checks its forms too

# A token cached for another profile must come through every fault untouched.
write_profile good ok
run_kb get --profile good
expect_rc 0 "seeding get"
# Lock files come and go per profile; every other file is compared by name, mode and content.
snapshot() {
	(cd "$CACHE_DIR" && find . -type f ! -name '*.lock' -printf '%p %m %s\n' | sort &&
		sha256sum -- *.json) 2>&1
}
before=$(snapshot)

row=0
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	[[ "$line" =~ ^([^ ]+)\ +([0-9]+)\ +([^ ]+)\ +([0-9]+)(-([0-9]+))?\ +(.*)$ ]] ||
		fail "bad row: $line"
	mode=${BASH_REMATCH[1]} code=${BASH_REMATCH[2]} setup=${BASH_REMATCH[3]}
	least=${BASH_REMATCH[4]} most=${BASH_REMATCH[6]:-${BASH_REMATCH[4]}}
	pattern=${BASH_REMATCH[7]}
	row=$((row + 1))
	extra=()
	IFS=, read -r -a items <<<"${setup#-}"
	for item in ${items[@]+"${items[@]}"}; do
		case "$item" in
		timeout=*) extra+=("timeout = ${item#timeout=}") ;;
		secret=wrong) extra+=("secret = file:$WORK/wrong-secret") ;;
		secret=quote) extra+=("secret = file:$WORK/quote-secret") ;;
		auth=basic) extra+=("auth_method = client_secret_basic") ;;
		ca=other) extra+=("ca_file = $WORK/tls/other-ca.pem") ;;
		ca=system) extra+=("ca_file = /etc/ssl/certs/ca-certificates.crt") ;;
		*) fail "row $row: unknown setup $item" ;;
		esac
	done
	# The query string keeps each row's cache key apart from the seeded profile's.
	extra+=("token_url = $BASE/$mode/token?row=$row")
	[ "$mode" != closed-port ] || extra+=("token_url = https://127.0.0.1:1/closed-port/token")
	write_profile "fault$row" "$mode" "${extra[@]}"
	before_requests=$(requests "$mode")
	start=$(date +%s%N)
	run_kb get --profile "fault$row"
	elapsed_ms=$((($(date +%s%N) - start) / 1000000))
	elapsed=$((elapsed_ms / 1000))
	made=$(($(requests "$mode") - before_requests))
	what="row $row ($mode, $setup)"
	expect_rc "$code" "$what"
	expect_eq "$OUT" "" "$what: stdout"
	# the error, one line, after what a long wait said of itself
	expect_notices "$ERR" "$elapsed_ms" "$what"
	expect_match "$(without_notices "$ERR")" "$pattern" "$what: stderr"
	expect_eq "$(without_notices "$ERR" | wc -l)" 1 "$what: stderr lines"
	expect_no_secret "$ERR" "$what: stderr"
	expect_eq "$(snapshot)" "$before" "$what: cache directory"
	[ "$elapsed" -le 10 ] || fail "$what: took ${elapsed}s"
	[ "$made" -ge "$least" ] && [ "$made" -le "$most" ] ||
		fail "$what: $made requests, expected $least to $most"
	# The failure record beside the cache, and status, which shows it.
	failed=$(without_notices "$ERR")
	expect_no_secret "$(cat "$CACHE_DIR"/*.lock)" "$what: lock files"
	run_kb status --profile "fault$row"
	expect_rc 0 "$what: status"
	expect_no_secret "$OUT" "$what: status"
	if [ "$code" = 75 ]; then
		# what failed and why, as stderr said it
		reason=${failed#keybearer: }
		reason=${reason%% — *}
		grep -Fq -- "last refresh failed" <<<"$OUT" && grep -Fq -- "$reason" <<<"$OUT" ||
			fail "$what: status [$OUT] does not say the refresh failed: $reason"
	fi
	echo "ok $row - $mode ($setup) -> $code after $made request(s) in ${elapsed}s"
done <"$TESTS/faults.tsv"

[ "$row" -ge 34 ] || fail "only $row fault rows ran"
# The seeding get and the wrong-secret row reach /ok/token; a followed redirect would too.
expect_eq "$(requests ok)" 2 "requests to /ok/token"
expect_eq "$(requests redirect)" 1 "requests to /redirect/token"
echo "all $row fault cases passed"

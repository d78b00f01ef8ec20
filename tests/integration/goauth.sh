#!/usr/bin/env bash
# keybearer goauth, Go's GOAUTH command (go help goauth, Go 1.24; no such go installs
# here): every row of goauth.tsv against the test token server, one runner, the cases are
# data. Each answer must also read as go reads it (goauth-grammar.py, modelled on
# cmd/go/internal/auth), and go's prefix lookup must send each token where its profile's
# urls say.
. "$(dirname "$0")/lib.sh"

start_server
write_profile api ok "token_url = $BASE/ok/token?api" \
	"urls = https://api.go.test/ https://API.go.test:8443/mods/ http://127.0.0.1:$PORT/plain/"
write_profile mods ok "token_url = $BASE/ok/token?mods" "urls = https://mods.go.test/private/"
write_profile plain ok "token_url = $BASE/ok/token?plain" "urls = http://127.0.0.1:$PORT/only/"
PROFILES=(api mods plain)
GRAMMAR=("$PY" "$TESTS/goauth-grammar.py")

# Each profile's cache file, found by the token a first get put there: what a row's
# tokens are read from, without a keybearer that could mint.
declare -A CACHE_FILE
for p in "${PROFILES[@]}"; do
	token=$("$KB" get --profile "$p" --format token)
	CACHE_FILE[$p]=$(grep -l -F -- "$token" "$CACHE_DIR"/*.json) || fail "no cache file for $p"
done
cached() { jq -r '.access_token // empty' "${CACHE_FILE[$1]}" 2>/dev/null || true; }
tokens() {
	local p
	for p in "${PROFILES[@]}"; do printf '%s=%s\n' "$p" "$(cached "$p")"; done
}

setup() {
	local item p
	if [ "$1" != keep ]; then
		for p in "${PROFILES[@]}"; do "$KB" invalidate --profile "$p"; done
	fi
	[ "$1" != none ] && [ "$1" != keep ] || return 0
	IFS=, read -r -a items <<<"$1"
	for item in "${items[@]}"; do
		p=${item#*=}
		[ "${item%%=*}" = fresh ] || [ -n "$(cached "$p")" ] || fail "setup $item: $p has no token"
		case "$item" in
		fresh=*) "$KB" get --profile "$p" >/dev/null ;;
		soon=*) age_cached_token "$(cached "$p")" 200 ;;
		dead=*) age_cached_token "$(cached "$p")" 5 ;;
		tamper=*)
			jq '.access_token = "abc def"' "${CACHE_FILE[$p]}" >"$WORK/tampered"
			cat "$WORK/tampered" >"${CACHE_FILE[$p]}"
			;;
		*) fail "unknown setup $item" ;;
		esac
	done
}

# expand TEXT: printf %b of TEXT with {P} as P's cached token
expand() {
	local text=$1 p
	for p in "${PROFILES[@]}"; do text=${text//\{$p\}/$(cached "$p")}; done
	printf '%b' "$text"
}

row=0
while IFS=$'\t' read -r name setup args stdin code stdout stderr made changed; do
	case "$name" in '#'* | '') continue ;; esac
	# (a tab is white space to read: an empty field would vanish, so none is empty)
	[ -n "$changed" ] || fail "bad row (not 9 tab-separated fields): $name"
	row=$((row + 1))
	what="row $row ($name)"
	setup "$setup"
	case "$stdin" in
	-) input=/dev/null ;;
	@empty) input="$WORK/stdin" && : >"$input" ;;
	@big | @max) # a 401 of 1 MiB and one byte, or of 1 MiB exactly
		input="$WORK/stdin"
		"$PY" -c 'import sys; sys.stdout.write("HTTP/1.1 401 Unauthorized\nX-Pad: " + "a" * int(sys.argv[1]) + "\n\n")' \
			$((1024 * 1024 - 35 + $([ "$stdin" = @big ] && echo 1 || echo 0))) >"$input"
		;;
	*) input="$WORK/stdin" && printf '%b' "$stdin" >"$input" ;;
	esac
	case "$stdin" in
	@big) expect_eq "$(stat -c %s "$input")" 1048577 "$what: bytes of @big" ;;
	@max) expect_eq "$(stat -c %s "$input")" 1048576 "$what: bytes of @max" ;;
	esac
	before=$(tokens)
	requests_before=$(requests ok)
	words=()
	[ "$args" = - ] || read -r -a words <<<"$args"
	KB_STDIN=$input run_kb goauth "${words[@]}"
	# a refresh started behind the caller's back would show by now
	sleep 0.3
	expect_rc "$code" "$what"
	[ "$stdout" = - ] && : >"$WORK/expected" || expand "$stdout" >"$WORK/expected"
	cmp -s "$WORK/out" "$WORK/expected" ||
		fail "$what: stdout [$(cat -A "$WORK/out")], expected [$(cat -A "$WORK/expected")]"
	if [ "$stderr" = - ]; then
		expect_eq "$ERR" "" "$what: stderr"
	else
		expect_match "$ERR" "$stderr" "$what: stderr"
		expect_eq "$(wc -l <"$WORK/err")" 1 "$what: stderr lines"
	fi
	expect_eq "$(($(requests ok) - requests_before))" "$made" "$what: token requests"
	after=$(tokens)
	for p in "${PROFILES[@]}"; do
		old=$(sed -n "s/^$p=//p" <<<"$before") new=$(cached "$p")
		if [[ ",$changed," == *",$p,"* ]]; then
			[ -n "$new" ] && [ "$new" != "$old" ] || fail "$what: the token of $p did not change"
		else
			expect_eq "$new" "$old" "$what: the token of $p"
		fi
	done
	for p in "${PROFILES[@]}"; do
		token=$(cached "$p")
		[ -z "$token" ] || expect_no_match "$ERR" "$token" "$what: stderr"
	done
	# what go would read of it
	"${GRAMMAR[@]}" "$WORK/out" >"$WORK/parsed" 2>"$WORK/parse.err" ||
		fail "$what: go's grammar refuses the answer: $(cat "$WORK/parse.err")"
	echo "ok $row - $name"
done <"$TESTS/goauth.tsv"
[ "$row" -ge 50 ] || fail "only $row goauth rows ran"

echo "# go's prefix lookup of the answer sends each token only where its profile claims"
setup fresh=api,fresh=mods
run_kb goauth
expect_rc 0 "first call"
"${GRAMMAR[@]}" "$WORK/out" \
	--lookup https://api.go.test/example/mod/@v/list \
	--lookup https://api.go.test:8443/mods/x/@v/list \
	--lookup https://api.go.test:8443/other \
	--lookup https://mods.go.test/private/lib/@v/list \
	--lookup https://mods.go.test/private \
	--lookup https://mods.go.test/privatex/lib \
	--lookup https://mods.go.test/ \
	--lookup https://127.0.0.1:$PORT/plain/x >"$WORK/looked" || fail "lookup"
api=$(jq -cn --arg t "Bearer $(cached api)" '{Authorization: [$t]}')
mods=$(jq -cn --arg t "Bearer $(cached mods)" '{Authorization: [$t]}')
expect_eq "$(tail -n +2 "$WORK/looked")" "https://api.go.test/example/mod/@v/list -> $api
https://api.go.test:8443/mods/x/@v/list -> $api
https://api.go.test:8443/other -> none
https://mods.go.test/private/lib/@v/list -> $mods
https://mods.go.test/private -> $mods
https://mods.go.test/privatex/lib -> none
https://mods.go.test/ -> none
https://127.0.0.1:$PORT/plain/x -> none" "go's lookup of the answer"

echo "# the first call never reads stdin: a pipe that stays open, or a terminal, is not waited on"
n=$(requests ok)
for args in "" "--profile api"; do
	exec 3< <(sleep 20)
	holder=$!
	start=$SECONDS
	# shellcheck disable=SC2086 # no arguments, or two
	out=$(timeout 10 "$KB" goauth $args <&3) || fail "goauth $args with an open stdin failed"
	[ $((SECONDS - start)) -le 3 ] || fail "goauth $args waited $((SECONDS - start)) s on stdin"
	exec 3<&-
	kill "$holder" 2>/dev/null || true
	expect_match "$out" "^https://api.go.test/$" "goauth $args with an open stdin"
done
expect_eq "$(requests ok)" "$n" "token requests of the first calls with an open stdin"

echo "# --verbose says why a profile is not answered, and never shows a token"
setup fresh=mods
run_kb --verbose goauth
expect_rc 0 "first call, verbose"
expect_match "$ERR" "profile api: no fresh cached token, not answered \(run keybearer get --profile api, or name it with --profile\)" "verbose stderr"
expect_no_match "$ERR" "$(cached mods)" "verbose stderr"
printf '%b' 'HTTP/1.1 401 Unauthorized\n\n' >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb --verbose goauth https://mods.go.test/private/x
expect_rc 0 "second call, verbose"
expect_match "$ERR" "profile mods: go's server refused the token: dropped it" "verbose stderr"
expect_no_match "$ERR" "$(cached mods)" "verbose stderr of a second call"

echo "# the README's recipe, word for word, run as go runs it (the words of \$GOAUTH)"
expect_eq "$(readme_block "**Go modules**")" "export GOAUTH='keybearer goauth'" "README recipe"
setup fresh=api
run_kb goauth
(
	eval "$(readme_block "**Go modules**")"
	export PATH="$KB_BIN:$PATH"
	read -r -a words <<<"$GOAUTH"
	"${words[@]}" </dev/null >"$WORK/recipe.out"
) || fail "the README's GOAUTH failed"
cmp -s "$WORK/recipe.out" "$WORK/out" || fail "the README's GOAUTH answered [$(cat "$WORK/recipe.out")]"
expect_match "$(cat "$WORK/out")" "^Authorization: Bearer $(cached api)$" "the README's GOAUTH"
second=$(readme_block "**Go modules**" 2)
expect_match "$second" "^export GOAUTH='keybearer goauth --profile [a-z]+ --profile [a-z]+'$" "README's --profile recipe"

echo "all $row goauth cases passed"

#!/usr/bin/env bash
# Clients that hold no reusable secret: every row of federated.tsv against the strict token
# server and a fake CI issuer (one runner, the cases are data), then what takes more than
# one mint: a cached token reused, a projected token file rotated between two mints, and a
# refused assertion that is held until the kubelet rotates it.
. "$(dirname "$0")/lib.sh"

start_server
CI_TOKEN="ci-request-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$CI_TOKEN" >"$WORK/ci-request-token"
port_file="$WORK/ci.port"
"$PY" "$TESTS/ci_issuer.py" --port-file "$port_file" --request-token-file "$WORK/ci-request-token" \
	--log "$WORK/ci.log" &
SERVER_PIDS+=($!)
wait_for_file "$port_file" "CI issuer"
CI="http://127.0.0.1:$(cat "$port_file")"
SUBJECT_AUDIENCE=https://exchange.keybearer.test/
server POST /_trust "$(jq -c --arg iss "$CI" --arg aud "$SUBJECT_AUDIENCE" \
	'{jwks: ., issuer: $iss, subject: "repo:keybearer/test:ref:refs/heads/main",
	  subject_audience: $aud}' <<<"$(curl -sS "$CI/.well-known/jwks.json")")" >/dev/null
ci_count() { curl -sS "$CI/_count/$1" | tr -d '\n'; }
# mint AUD LIFE [NBF]: a fresh ID token of the fake CI issuer, valid from NBF s from now
mint() { curl -sS "$CI/_mint?aud=$(jq -rn --arg a "$1" '$a|@uri')&exp=$2&nbf=${3:-0}" | tr -d '\n'; }
GITHUB_VARS=(ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN CI_ID_TOKEN)
SEEN_TOKENS=() # every assertion and subject token handed out: none may show anywhere

# A projected service-account token volume as the kubelet writes it: DIR/token is a link
# to ..data/token, ..data a link to a timestamped directory, replaced by one rename.
project_token() { # DIR TOKEN
	local dir=$1 stamp
	stamp="..$(date +%s%N)"
	mkdir -p "$dir/$stamp"
	printf '%s' "$2" >"$dir/$stamp/token"
	chmod 644 "$dir/$stamp/token"
	ln -sfn "$stamp" "$dir/..data.tmp"
	mv -T "$dir/..data.tmp" "$dir/..data"
	[ -L "$dir/token" ] || ln -s ..data/token "$dir/token"
}

expect_nothing_handed_out() { # TEXT WHAT
	local t
	expect_no_match "$1" "$CI_TOKEN" "$2 (the request token)"
	for t in ${SEEN_TOKENS[@]+"${SEEN_TOKENS[@]}"}; do
		expect_no_match "$1" "$t" "$2 (an assertion or subject token)"
		expect_no_match "$1" "${t##*.}" "$2 (an assertion's signature)"
	done
}

row=0
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	[[ "$line" =~ ^([^ ]+)\ +([0-9]+)\ +([^ ]+)\ +([0-9]+)\ +([0-9]+)(-([0-9]+))?\ +(.*)$ ]] ||
		fail "bad row: $line"
	mode=${BASH_REMATCH[1]} code=${BASH_REMATCH[2]} setup=${BASH_REMATCH[3]}
	want_token=${BASH_REMATCH[4]} ci_least=${BASH_REMATCH[5]}
	ci_most=${BASH_REMATCH[7]:-${BASH_REMATCH[5]}} pattern=${BASH_REMATCH[8]}
	row=$((row + 1))
	url="$BASE/$mode/token?row=$row"
	extra=("token_url = $url" "secret = " "timeout = 3")
	unset "${GITHUB_VARS[@]}"
	cimode=ok
	dir="$WORK/projected$row"
	IFS=, read -r -a items <<<"$setup"
	for item in "${items[@]}"; do
		kind=${item#*:}
		[ "$kind" != "$item" ] || kind=""
		case "${item%%:*}" in
		a=gha | a=gha-unset | a=gha-nourl | a=gha-notoken | a=gha-badtoken | a=gha-plainhttp | s=gha)
			cimode=${kind:-ok}
			if [ "${item%%=*}" = a ]; then
				extra+=("auth_method = client_assertion" "assertion = github-actions")
			else
				extra+=("grant_type = token_exchange" "subject_token = github-actions"
					"assertion_audience = $SUBJECT_AUDIENCE")
			fi
			export ACTIONS_ID_TOKEN_REQUEST_URL="$CI/$cimode/idtoken?api-version=2.0"
			export ACTIONS_ID_TOKEN_REQUEST_TOKEN="$CI_TOKEN"
			case "${item%%:*}" in
			a=gha-unset) unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN ;;
			a=gha-nourl) unset ACTIONS_ID_TOKEN_REQUEST_URL ;;
			a=gha-notoken) unset ACTIONS_ID_TOKEN_REQUEST_TOKEN ;;
			a=gha-badtoken) export ACTIONS_ID_TOKEN_REQUEST_TOKEN=not-the-request-token ;;
			a=gha-plainhttp) export ACTIONS_ID_TOKEN_REQUEST_URL="http://ci.example.com/idtoken?api-version=2.0" ;;
			esac
			;;
		a=env | a=file | a=cmd | s=env | s=file)
			aud=$url
			[ "${item%%=*}" = a ] || aud=$SUBJECT_AUDIENCE
			life=300 nbf=0
			case "$kind" in
			expired) life=-60 ;;
			soon) life=10 ;;
			notyet) nbf=120 life=600 ;;
			wrongaud) aud=https://wrong.example/ ;;
			esac
			value=$(mint "$aud" "$life" "$nbf")
			[ "$kind" != notjwt ] || value="not.a-jwt"
			SEEN_TOKENS+=("$value")
			case "${item%%=*}:${item%%:*}" in
			a:a=env | s:s=env) source_line="env:CI_ID_TOKEN" ;;
			a:a=cmd) source_line="command:cat $dir/token" ;;
			*) source_line="file:$dir/token" ;;
			esac
			if [[ "$source_line" == env:* ]]; then
				[ "$kind" = missing ] || export CI_ID_TOKEN="$value"
			else
				mkdir -p "$dir"
				[ "$kind" = missing ] || project_token "$dir" "$value"
				[ "$kind" != writable ] || chmod 666 "$dir/..data/token"
				# (mode 000 stops no root: a directory in its place stops anyone)
				[ "$kind" != unreadable ] || { rm "$dir/..data/token" && mkdir "$dir/..data/token"; }
			fi
			if [ "${item%%=*}" = a ]; then
				extra+=("auth_method = client_assertion" "assertion = $source_line")
			else
				extra+=("grant_type = token_exchange" "subject_token = $source_line")
			fi
			;;
		auth=none) extra+=("auth_method = none") ;;
		auth=post) extra+=("auth_method = client_secret_post" "secret = file:$WORK/secret") ;;
		req=jwt) extra+=("requested_token_type = urn:ietf:params:oauth:token-type:jwt") ;;
		req=access) extra+=("requested_token_type = urn:ietf:params:oauth:token-type:access_token") ;;
		aud=*) extra+=("assertion_audience = ${item#aud=}") ;;
		*) fail "row $row: unknown setup $item" ;;
		esac
	done
	write_profile "fed$row" "$mode" "${extra[@]}"
	before_token=$(requests "$mode")
	before_ci=$(ci_count "$cimode")
	run_kb get --profile "fed$row" --format token
	made_token=$(($(requests "$mode") - before_token))
	made_ci=$(($(ci_count "$cimode") - before_ci))
	what="row $row ($mode, $setup)"
	expect_rc "$code" "$what"
	if [ "$code" = 0 ]; then
		expect_match "$OUT" "$pattern" "$what: stdout"
		expect_eq "$ERR" "" "$what: stderr"
	else
		expect_eq "$OUT" "" "$what: stdout"
		expect_match "$(without_notices "$ERR")" "$pattern" "$what: stderr"
		expect_eq "$(without_notices "$ERR" | wc -l)" 1 "$what: stderr lines"
	fi
	expect_eq "$made_token" "$want_token" "$what: requests to the token endpoint"
	[ "$made_ci" -ge "$ci_least" ] && [ "$made_ci" -le "$ci_most" ] ||
		fail "$what: $made_ci requests to the ID-token endpoint, expected $ci_least to $ci_most"
	if [ "$made_ci" -gt 0 ] && [ "${setup#*badtoken}" = "$setup" ]; then
		last=$(curl -sS "$CI/_last/$cimode")
		expect_eq "$(jq -r .auth <<<"$last")" valid "$what: the request token sent"
		want_aud=$url
		[[ "$setup" != *s=gha* ]] || want_aud=$SUBJECT_AUDIENCE
		[[ "$setup" != *aud=elsewhere* ]] || want_aud=elsewhere
		expect_eq "$(jq -r .audience <<<"$last")" "$want_aud" "$what: the audience asked for"
	fi
	if [ "$made_token" -gt 0 ]; then
		sent=$(server GET "/_last/$mode" | jq -r .body)
		# every assertion handed out is in the record of the ID-token endpoint's log
		SEEN_TOKENS+=($(sed -n 's/.*client_assertion=\([^&]*\).*/\1/p;s/.*subject_token=\([^&]*\).*/\1/p' <<<"$sent"))
	fi
	expect_nothing_handed_out "$ERR" "$what: stderr"
	expect_nothing_handed_out "$(cat "$CACHE_DIR"/*.lock 2>/dev/null | tr -d '\0')" "$what: lock files"
	expect_no_secret "$ERR" "$what: stderr"
	echo "ok $row - $mode ($setup) -> $code, $made_token + $made_ci request(s)"
done <"$TESTS/federated.tsv"
unset "${GITHUB_VARS[@]}"
[ "$row" -ge 37 ] || fail "only $row rows ran"

echo "# a token minted from an assertion is cached like any other: no new assertion asked for"
export ACTIONS_ID_TOKEN_REQUEST_URL="$CI/ok/idtoken?api-version=2.0" ACTIONS_ID_TOKEN_REQUEST_TOKEN="$CI_TOKEN"
write_profile cached assertion "secret = " "auth_method = client_assertion" "assertion = github-actions"
run_kb get --profile cached --format token
expect_rc 0 "first get"
first=$OUT
before_ci=$(ci_count ok)
before_token=$(requests assertion)
run_kb get --profile cached --format token
expect_rc 0 "second get"
expect_eq "$OUT" "$first" "the cached token"
expect_eq "$(ci_count ok)" "$before_ci" "ID-token requests of a cached get"
expect_eq "$(requests assertion)" "$before_token" "token requests of a cached get"
# a command keybearer runs gets the token, never the runner's request token
run_kb exec --profile cached -- sh -c 'printf "%s" "${ACTIONS_ID_TOKEN_REQUEST_TOKEN-unset}"'
expect_rc 0 "exec"
expect_eq "$OUT" unset "the request token in a command keybearer exec runs"
unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

echo "# a projected token file rotated between two mints: the second sends the new one"
dir="$WORK/rotating"
url="$BASE/assertion/token?rotating=1"
project_token "$dir" "$(mint "$url" 300)"
write_profile rotating assertion "token_url = $url" "secret = " \
	"auth_method = client_assertion" "assertion = file:$dir/token"
run_kb get --profile rotating --format token
expect_rc 0 "mint with the first projected token"
first_jti=$(server GET /_last/assertion | jq -r .assertion_jti)
age_cached_token "$OUT" 100 # due for a refresh
project_token "$dir" "$(mint "$url" 300)"
run_kb get --profile rotating --format token
expect_rc 0 "mint with the rotated token"
second_jti=$(server GET /_last/assertion | jq -r .assertion_jti)
[ "$first_jti" != "$second_jti" ] && [ -n "$second_jti" ] && [ "$second_jti" != null ] ||
	fail "the second mint sent assertion $second_jti, the first sent $first_jti"

echo "# a refused assertion is the answer for everyone, until the kubelet rotates the file"
dir="$WORK/refused"
url="$BASE/assertion/token?refused=1"
project_token "$dir" "$(mint https://wrong.example/ 300)"
write_profile refused assertion "token_url = $url" "secret = " \
	"auth_method = client_assertion" "assertion = file:$dir/token"
run_kb get --profile refused
expect_rc 77 "a refused assertion"
refusal=$ERR
before=$(requests assertion)
run_kb get --profile refused
expect_rc 77 "the same assertion again"
expect_eq "$ERR" "$refusal" "the answer repeated"
expect_eq "$(requests assertion)" "$before" "requests while the refusal stands"
project_token "$dir" "$(mint "$url" 300)"
run_kb get --profile refused --format token
expect_rc 0 "the rotated assertion is tried at once"
expect_eq "$(requests assertion)" "$((before + 1))" "requests after the rotation"

echo "# a refused GitHub identity stands too: not even an ID token is asked for again"
export ACTIONS_ID_TOKEN_REQUEST_URL="$CI/ok/idtoken?api-version=2.0" ACTIONS_ID_TOKEN_REQUEST_TOKEN="$CI_TOKEN"
write_profile gha-refused assertion "token_url = $BASE/assertion/token?gha-refused=1" \
	"secret = " "auth_method = client_assertion" "assertion = github-actions" \
	"assertion_audience = https://wrong.example/"
run_kb get --profile gha-refused
expect_rc 77 "a refused GitHub assertion"
before_ci=$(ci_count ok)
before=$(requests assertion)
run_kb get --profile gha-refused
expect_rc 77 "again"
expect_eq "$(ci_count ok)" "$before_ci" "ID-token requests while the refusal stands"
expect_eq "$(requests assertion)" "$before" "token requests while the refusal stands"
unset ACTIONS_ID_TOKEN_REQUEST_URL ACTIONS_ID_TOKEN_REQUEST_TOKEN

echo "# status and check name the method and never show an assertion"
run_kb status --profile rotating
expect_rc 0 "status"
expect_match "$OUT" "auth_method +client_assertion" "status names the method"
expect_match "$OUT" "secret +none \(auth_method = client_assertion, assertion = file:$WORK/rotating/token\)" "status: no secret, the assertion's source"
expect_nothing_handed_out "$OUT" "status"
echo "federated: all $row rows and the sequences passed"

#!/usr/bin/env bash
# The commands a user reaches for: profiles, which (rows in which.tsv), get --url,
# status (text and --json), check, and --verbose, through the installed binaries.
. "$(dirname "$0")/lib.sh"

start_server
B64TOKEN='[A-Za-z0-9._~+/-]+=*'
quote_re() { sed 's/[][\.*^$()+?{}|/]/\\&/g' <<<"$1"; }
token_of() { jq -r .access_token "$CACHE_DIR"/*.json | grep -Fx -- "$1" >/dev/null; }

echo "# status without a config file says where it looked"
run_kb status
expect_rc 0 "status without a file"
expect_eq "$(head -n 1 <<<"$OUT")" "config file     (none) — looked for $CONFIG (\$XDG_CONFIG_HOME/keybearer/config; set KEYBEARER_CONFIG for another file)" "where status looked (XDG_CONFIG_HOME)"
expect_match "$OUT" "^profile aspose \(built in\) \[default\]$" "aspose, built in"
XDG_CONFIG_HOME= run_kb status
expect_eq "$(head -n 1 <<<"$OUT")" "config file     (none) — looked for $HOME/.config/keybearer/config (~/.config/keybearer/config, XDG_CONFIG_HOME being unset; set KEYBEARER_CONFIG for another file)" "where status looked (HOME)"
env -u HOME -u XDG_CONFIG_HOME "$KB" status >"$WORK/out" 2>"$WORK/err" || true
expect_eq "$(head -n 1 "$WORK/out")" "config file     (none: neither KEYBEARER_CONFIG, XDG_CONFIG_HOME nor HOME is set)" "status without HOME"
run_kb status --json
expect_rc 0 "status --json without a file"
expect_eq "$(jq -c '[.format, .config_file, .config_searched]' <<<"$OUT")" \
	"[\"keybearer-status/1\",null,[{\"path\":\"$CONFIG\",\"from\":\"XDG_CONFIG_HOME\",\"exists\":false}]]" \
	"status --json: where it looked"
expect_eq "$(jq -c '.profiles[] | [.name, .source, .in_file, .selected, .secret, .token]' <<<"$OUT")" \
	'["aspose","built-in",false,true,{"source":"keyring","state":"missing","detail":"no client_id yet"},{"state":"none"}]' \
	"status --json of the built-in profile alone"

write_profile main ok "urls = $BASE/api/"
write_profile billing ok "token_url = $BASE/ok/token?billing" "urls = $BASE/api/billing/"
write_profile other ok "token_url = $BASE/ok/token?other"
write_profile plain ok "token_url = $BASE/ok/token?plain" "urls = http://127.0.0.1:$PORT/plain/"

echo "# profiles: the names, one a line, as --profile takes them"
run_kb profiles
expect_rc 0 profiles
expect_eq "$OUT" "$(printf 'aspose\nmain\nbilling\nother\nplain')" "profiles"
expect_eq "$ERR" "" "stderr of profiles"
KEYBEARER_CLIENT_ID=ci run_kb profiles
expect_eq "$(tail -n 1 <<<"$OUT")" env "profiles with the env profile"
KEYBEARER_CONFIG="$WORK/nowhere" run_kb profiles
expect_rc 78 "profiles without the file KEYBEARER_CONFIG names"
expect_eq "$OUT" "" "stdout of a failed profiles"

echo "# which: every row of which.tsv"
rows=0
while IFS=$'\t' read -r code want pattern url; do
	case "$code" in '#'* | '') continue ;; esac
	rows=$((rows + 1))
	url=${url//\{BASE\}/$BASE} url=${url//\{PORT\}/$PORT}
	[ "$want" != - ] || want=""
	want=${want//\{BASE\}/$BASE} want=${want//\{PORT\}/$PORT}
	pattern=${pattern//\{BASE\}/$(quote_re "$BASE")} pattern=${pattern//\{PORT\}/$PORT}
	pattern=${pattern//\{CONFIG\}/$(quote_re "$CONFIG")}
	run_kb which "$url"
	expect_rc "$code" "which $url"
	expect_eq "$OUT" "$want" "stdout of which $url"
	expect_match "$ERR" "$pattern" "stderr of which $url"
	expect_eq "$(printf '%s' "$ERR" | grep -c '')" "$([ "$pattern" = '^$' ] && echo 0 || echo 1)" "stderr lines of which $url"
	if [ "$code" = 0 ]; then # the plugins agree: bazel gets this profile's token, or none
		printf '{"uri":"%s"}' "$url" >"$WORK/bazel-in"
		KB_STDIN="$WORK/bazel-in" run_kb bazel get
		[[ "$url" == *://* ]] || continue
		expected=$("$KB" get --profile "${want%% *}" --format token)
		expect_eq "$(jq -r '.headers.Authorization[0]' <<<"$OUT")" "Bearer $expected" "bazel's token for $url"
	fi
done <"$TESTS/which.tsv"
[ "$rows" -ge 15 ] || fail "which.tsv: only $rows rows read"
requests_before=$(requests ok)
for args in "which" "which a b" "which --profile main $BASE/api/" "profiles extra" "profiles --json"; do
	# shellcheck disable=SC2086
	run_kb $args
	expect_rc 64 "keybearer $args"
	expect_eq "$OUT" "" "stdout of keybearer $args"
	expect_match "$ERR" "^keybearer: (which|profiles) arguments: .* — see keybearer (which|profiles) --help$" "message of keybearer $args"
done

{ cat "$CONFIG" && printf '[profile twin]\ntoken_url = %s/ok/token?twin\nurls = %s/api/\n' "$BASE" "$BASE"; } >"$WORK/twin-config"
chmod 600 "$WORK/twin-config"
KEYBEARER_CONFIG="$WORK/twin-config" run_kb which "$BASE/api/x"
expect_rc 0 "which with two profiles claiming alike"
expect_eq "$OUT" "main $BASE/api/" "which: the first of two equal claims"
expect_eq "$ERR" "keybearer: warning: profile twin claims it as well (with $BASE/api/): main comes first in keybearer profiles, so its token goes there" "which: the tie, said"
for args in "which" "get --url"; do
	# shellcheck disable=SC2086
	run_kb $args ""
	expect_rc 64 "keybearer $args ''"
	expect_match "$ERR" "^keybearer: (which|get) arguments: an empty URL — see keybearer (which|get) --help$" "message of keybearer $args ''"
done
run_kb which "$BASE/api/x
keybearer: all is well"
expect_rc 78 "which of a URL with a newline"
expect_eq "$ERR" "keybearer: no profile claims $BASE/api/x?keybearer: all is well: it has a space or a control character in it, and no profile claims such a URL — percent-encode it" "a URL's newline does not end the message's line"

echo "# which without a config file: only the built-in profile, no target to suggest"
mv "$CONFIG" "$WORK/config.saved"
run_kb which https://example.com/
expect_rc 78 "which without a file"
expect_eq "$ERR" "keybearer: no profile claims https://example.com/: no profile's urls are on example.com (the profiles: aspose https://api.aspose.cloud/) — add https://example.com/ to the urls of the profile meant for it, in its [profile NAME] of $CONFIG (a urls line replaces what the profile claims by default: keep that in the line)" "which without a file: message"
mv "$WORK/config.saved" "$CONFIG"

echo "# get --url: the token of the profile that claims the URL"
run_kb get --profile main --format token
main_token=$OUT
run_kb get --url "$BASE/api/x" --format token
expect_rc 0 "get --url"
expect_eq "$OUT" "$main_token" "get --url picks main"
KEYBEARER_PROFILE=billing run_kb get --url "$BASE/api/x" --format token
expect_eq "$OUT" "$main_token" "get --url goes by the URL, not KEYBEARER_PROFILE"
run_kb get --url "$BASE/api/billing/x" --profile billing --format token
expect_rc 0 "get --url with the profile that claims it"
[ "$OUT" != "$main_token" ] || fail "get --url --profile billing gave main's token"
n=$(requests ok)
run_kb get --url "$BASE/api/x" --profile billing
expect_rc 78 "get --url with a profile that does not claim it"
expect_eq "$OUT" "" "stdout of a refused get --url"
expect_eq "$ERR" "keybearer: profile billing does not claim $BASE/api/x: it claims $BASE/api/billing/; profile main claims it (with $BASE/api/) — use profile main, or add $BASE/api/ to the urls of profile billing" "the refusal says why"
run_kb get --url "https://example.com/"
expect_rc 78 "get --url no profile claims"
expect_match "$ERR" "^keybearer: no profile claims https://example\.com/: no profile's urls are on example\.com \(the profiles: aspose " "get --url: why"
run_kb get --url "$BASE/api/../private" --format token
expect_rc 78 "get --url with a dot segment"
expect_eq "$(requests ok)" "$n" "no token minted for a refused --url"
run_kb get --url "$BASE/api/x" --profile nosuch
expect_rc 78 "get --url --profile nosuch"
expect_match "$ERR" '^keybearer: no profile named "nosuch"' "get --url --profile nosuch: message"

echo "# kubectl: a cluster no profile claims is explained the same way"
KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"https://k8s.example:6443"}}}' \
	run_kb kubectl
expect_rc 78 "kubectl with an unclaimed cluster"
expect_match "$ERR" "^keybearer: no profile claims https://k8s\.example:6443: no profile's urls are on k8s\.example \(the profiles: aspose https://api\.aspose\.cloud/; main " "kubectl: why"
KUBERNETES_EXEC_INFO='{"apiVersion":"client.authentication.k8s.io/v1","spec":{"cluster":{"server":"'"$BASE"'/api/x"}}}' \
	run_kb kubectl --profile billing
expect_rc 78 "kubectl --profile with a cluster that profile does not claim"
expect_match "$ERR" "^keybearer: profile billing does not claim $(quote_re "$BASE")/api/x: it claims " "kubectl --profile: why"

echo "# status --json: the same facts, field names fixed"
run_kb status --json --profile main
expect_rc 0 "status --json --profile main"
expect_eq "$(jq -c '.profiles | length' <<<"$OUT")" 1 "one profile"
expect_eq "$(jq -c '.profiles[0] | keys_unsorted' <<<"$OUT")" \
	'["name","source","in_file","selected","inherits","inherited","issuer","token_url","discovered_token_url","jwks_url","client_id","scope","audience","resource","auth_method","urls","secret","private_key","client_certificate","token","last_failure"]' \
	"the fields of a profile"
expect_eq "$(jq -c '.profiles[0] | [.name, .source, .in_file, .selected, .token_url, .client_id, .auth_method, .urls, .secret, .last_failure]' <<<"$OUT")" \
	"[\"main\",\"file\",true,true,\"$BASE/ok/token\",\"$CLIENT_ID\",\"client_secret_post\",[\"$BASE/api/\"],{\"source\":\"file:$WORK/secret\",\"state\":\"present\",\"detail\":null},null]" \
	"the facts of main"
expect_eq "$(jq -c '.profiles[0].token | keys_unsorted' <<<"$OUT")" \
	'["state","obtained_at","expires_at","seconds_left","seconds_left_wall_clock","seconds_left_boot_clock"]' \
	"the fields of a cached token"
expect_eq "$(jq -r '.profiles[0].token | [.state, .expires_at - .obtained_at, (.seconds_left >= 3590), (.seconds_left_wall_clock - .seconds_left | fabs <= 1), (.seconds_left_boot_clock - .seconds_left | fabs <= 1)] | map(tostring) | join(" ")' <<<"$OUT")" \
	"valid 3600 true true true" "a valid token by both clocks"
expect_no_match "$OUT" "$main_token" "status --json"
expect_no_secret "$OUT" "status --json"
age_cached_token "$main_token" 100
run_kb status --json --profile main
expect_eq "$(jq -r '.profiles[0].token | [.state, (.seconds_left | . >= 98 and . <= 100)] | map(tostring) | join(" ")' <<<"$OUT")" \
	"refresh-due true" "a token inside the refresh margin"
age_cached_token "$main_token" -30
run_kb status --json --profile main
expect_eq "$(jq -r '.profiles[0].token | [.state, .seconds_left, (.seconds_left_wall_clock | . >= -31 and . <= -29)] | map(tostring) | join(" ")' <<<"$OUT")" \
	"expired 0 true" "an expired token"
file=$(grep -l -F -- "$main_token" "$CACHE_DIR"/*.json)
jq '.obtained_at = (now | floor) + 600 | .expires_at = .obtained_at + 3600' "$file" >"$WORK/future" && cat "$WORK/future" >"$file"
run_kb status --json --profile main
expect_eq "$(jq -c '.profiles[0].token | [.state, .reason, .seconds_left]' <<<"$OUT")" \
	'["not-trusted","from-the-future",0]' "a token from the future"
run_kb status --profile main
expect_match "$OUT" "^  token         not trusted: received (599|600) s in the future" "the same in words"
chmod 755 "$CACHE_DIR"
run_kb status --json --profile main
chmod 700 "$CACHE_DIR"
expect_eq "$(jq -c '.profiles[0].token' <<<"$OUT")" \
	"{\"state\":\"unusable\",\"detail\":\"cache directory $CACHE_DIR is accessible to group or others (mode 0755) — run chmod 700 $CACHE_DIR\"}" \
	"a cache directory others can read"
"$KB" invalidate --profile main
write_profile rejected invalid-client "token_url = $BASE/invalid-client/token?rejected"
run_kb get --profile rejected
expect_rc 77 "a rejected secret"
rejection=${ERR#keybearer: }
run_kb status --json --profile rejected
expect_eq "$(jq -c '.profiles[0].last_failure | [.kind, .source, .exit_code, (.seconds_ago <= 2), (.next_attempt_in >= 298 and .next_attempt_in <= 300), (.failed_at <= now)]' <<<"$OUT")" \
	'["refresh","endpoint",77,true,true,true]' "a recorded rejection"
expect_eq "$(jq -r '.profiles[0].last_failure.message' <<<"$OUT")" "$rejection" "the recorded message"
expect_no_secret "$OUT" "status --json of a rejection"
chmod 644 "$WORK/secret"
KEYBEARER_CLIENT_ID=ci run_kb status --json
chmod 600 "$WORK/secret"
expect_eq "$(jq -c '.profiles[] | select(.name == "main" or .name == "env") | [.name, .source, .selected, .secret.state, .secret.detail]' <<<"$OUT")" \
	"$(printf '%s\n%s' '["main","file",false,"refused","mode 0644, must be 600"]' '["env","environment",true,"missing",null]')" \
	"secret states, and the env profile selected"

echo "# check: a doctor, step by step, minting once past the cache"
run_kb get --profile main --format token
before_token=$OUT
n=$(requests ok)
run_kb check --profile main
expect_rc 0 "check"
expect_eq "$ERR" "" "stderr of a good check"
expect_eq "$(awk '{print $1 " " $2}' <<<"$OUT" | paste -sd ' ')" \
	"ok config ok profile ok endpoint ok cache ok lock ok secret ok mint ok store ok token check: ok" \
	"the steps of check, in order"
expect_match "$OUT" "^ok    config    $(quote_re "$CONFIG"): mode 0600, yours; neither it nor a directory above it can be changed by anyone else \([0-9]+\.[0-9] ms\)$" "check: config"
expect_match "$OUT" "^ok    profile   main \(chosen with --profile\): client_id $CLIENT_ID, client_secret_post, secret file:$(quote_re "$WORK")/secret; its token goes to $(quote_re "$BASE")/api/ \(" "check: profile"
expect_match "$OUT" "^ok    endpoint  $(quote_re "$BASE")/ok/token: https, its certificate checked against $(quote_re "$CA") \(" "check: endpoint"
expect_match "$OUT" "^ok    secret    read from file:$(quote_re "$WORK")/secret \(not shown\) \(" "check: secret"
expect_match "$OUT" "^ok    mint      a new token from $(quote_re "$BASE")/ok/token, for 3600 s \(" "check: mint"
expect_match "$OUT" "^ok    token     a JWT signed HS256 \(not verified here: keybearer inspect --verify\); expires 20[0-9-]+T[0-9:]+Z, in 1 h; iss $(quote_re "$BASE"); sub $CLIENT_ID; client_id $CLIENT_ID \(" "check: token"
expect_eq "$(tail -n 1 <<<"$OUT")" "check: ok — profile main mints tokens, and the cache holds the new one" "check: verdict"
expect_eq "$(requests ok)" $((n + 1)) "check mints once, past a fresh cached token"
check_report=$OUT
run_kb get --profile main --format token
[ "$OUT" != "$before_token" ] || fail "the cache does not hold check's new token"
expect_eq "$(requests ok)" $((n + 1)) "get takes check's token from the cache"
expect_no_match "$check_report" "$OUT" "check's output (the token)"
expect_no_match "$check_report" "${OUT##*.}" "check's output (the signature)"
expect_no_secret "$check_report" "check's output"

echo "# check during a recorded failure: it says so, mints once, and the record follows"
server POST /_override/ok unavailable >/dev/null
"$KB" invalidate --profile main
run_kb get --profile main
expect_rc 75 "the endpoint fails"
n=$(requests ok)
run_kb check --profile main
expect_rc 75 "check while the endpoint fails"
expect_match "$OUT" "^note  hold      the token endpoint failed [0-9] s ago \(token endpoint failed \(HTTP 503, retry after 120 s\): \"Service Unavailable\" — try again later\); every other caller waits 1[12][0-9] s more, but check mints once now, as you asked$" "check: the hold, said"
expect_match "$OUT" "^FAIL  mint      token endpoint failed \(HTTP 503, retry after 120 s\): \"Service Unavailable\" — try again later \(" "check: the mint fails"
expect_eq "$(tail -n 1 <<<"$OUT")" "check: FAILED at mint (exit 75)" "check: verdict of a failure"
expect_eq "$ERR" 'keybearer: token endpoint failed (HTTP 503, retry after 120 s): "Service Unavailable" — try again later' "check: the failure on stderr"
expect_eq "$(requests ok)" $((n + 1)) "one request during the hold"
run_kb get --profile main
expect_rc 75 "get after check: the failure still holds"
expect_eq "$(requests ok)" $((n + 1)) "no request from get during the hold"
server POST /_override/ok "" >/dev/null
run_kb check --profile main
expect_rc 0 "check once the endpoint is back, during the hold"
expect_match "$OUT" "^note  hold      " "check: the hold, said again"
run_kb status --json --profile main
expect_eq "$(jq -c '.profiles[0] | [.token.state, .last_failure]' <<<"$OUT")" '["valid",null]' "a good check clears the record"
run_kb get --profile main
expect_rc 0 "get after a good check"
expect_eq "$(requests ok)" $((n + 2)) "get takes the token check left"

echo "# check stops at the first failing step, with its exit code"
check_fails() { # STEP CODE MESSAGE-REGEX ARGS...
	local step=$1 code=$2 pattern=$3
	shift 3
	run_kb check "$@"
	expect_rc "$code" "check $* (fails at $step)"
	expect_match "$(grep '^FAIL' <<<"$OUT")" "^FAIL  $step +$pattern \([0-9]+\.[0-9] ms\)$" "check $*: the FAIL line"
	expect_eq "$(grep -c '^FAIL' <<<"$OUT")" 1 "check $*: one FAIL line"
	expect_eq "$(tail -n 1 <<<"$OUT")" "check: FAILED at $step (exit $code)" "check $*: verdict"
	expect_match "$ERR" "^keybearer: $pattern$" "check $*: stderr"
	expect_no_secret "$OUT" "check $*"
}
write_profile nosecret ok "token_url = $BASE/ok/token?nosecret" "secret = env:KB_TEST_MISSING_SECRET"
check_fails secret 78 "no client secret for profile nosecret: environment variable KB_TEST_MISSING_SECRET is not set — export it \(in CI, from a masked secret variable\)" --profile nosecret
write_profile noid ok "token_url = $BASE/ok/token?noid" "client_id = "
check_fails profile 78 "profile noid has no client_id — set client_id in \[profile noid\] in $(quote_re "$CONFIG") or KEYBEARER_CLIENT_ID" --profile noid
check_fails profile 78 'no profile named "nosuch" — known profiles: .*' --profile nosuch
check_fails profile 78 "several profiles are configured \(.*\) — choose one with --profile NAME or KEYBEARER_PROFILE"
n=$(requests invalid-client)
check_fails mint 77 ".*invalid_client.*" --profile rejected
expect_eq "$(requests invalid-client)" $((n + 1)) "check asks even during a rejection's hold"
run_kb get --profile rejected
expect_rc 77 "get repeats the rejection check recorded"
expect_eq "$(requests invalid-client)" $((n + 1)) "without asking again"
chmod 620 "$CONFIG"
check_fails config 78 ".*config file $(quote_re "$CONFIG").*" --profile main
chmod 600 "$CONFIG"
write_profile disc ok "token_url = " "issuer = $BASE/issuer/ok"
run_kb check --profile disc
expect_rc 0 "check of an issuer profile"
expect_match "$OUT" "^ok    endpoint  issuer $(quote_re "$BASE")/issuer/ok: its discovery document names the token endpoint \(read next\) \(" "check: the issuer"
expect_match "$OUT" "^ok    discovery the token endpoint of issuer $(quote_re "$BASE")/issuer/ok is $(quote_re "$BASE")/ok/token \(" "check: discovery"
KEYBEARER_FETCH="$WORK/no-fetch" check_fails fetch 70 "KEYBEARER_FETCH \($(quote_re "$WORK")/no-fetch\) is not an executable file — fix or unset it" --profile main
mkdir -p "$WORK/run2" && chmod 700 "$WORK/run2" && : >"$WORK/run2/keybearer" # not a directory
XDG_RUNTIME_DIR="$WORK/run2" check_fails cache 74 "cache directory $(quote_re "$WORK")/run2/keybearer is a symbolic link or not a directory — remove it; keybearer recreates it" --profile main

echo "# --verbose (and -v), before or after the command, reaches keybearer-fetch"
"$KB" invalidate --profile main
for flags in "-v get --profile main" "--verbose get --profile main" "get -v --profile main" "get --profile main --verbose"; do
	"$KB" invalidate --profile main
	# shellcheck disable=SC2086
	run_kb $flags
	expect_rc 0 "keybearer $flags"
	expect_match "$OUT" "^Authorization: Bearer $B64TOKEN$" "stdout of keybearer $flags"
	expect_match "$ERR" "keybearer: debug: profile main: timing: cache lookup [0-9.]+ ms: no usable cached token: keybearer-fetch asks for one" "keybearer's own debug line ($flags)"
	expect_match "$ERR" "keybearer: debug: profile main: new token after 1 attempt\(s\), 3600 s to live" "keybearer-fetch's debug line ($flags)"
	expect_match "$ERR" "keybearer: debug: timing: keybearer-fetch main to exit [0-9.]+ ms" "keybearer-fetch's timing ($flags)"
	expect_no_secret "$ERR" "debug output of $flags"
	expect_no_match "$ERR" "${OUT#Authorization: Bearer }" "debug output of $flags (the token)"
done
run_kb get --profile main -v
expect_match "$ERR" "^keybearer: debug: profile main: timing: cache lookup [0-9.]+ ms: fresh enough, no request$" "a cached get, verbose"
expect_match "$ERR" "keybearer: debug: profile main: the cached token has (3599|3600) s left" "what is left"
run_kb get --profile main
expect_eq "$ERR" "" "no debug output without --verbose"
printf 'protocol=https\nhost=example.com\npath=x\n\n' >"$WORK/git-in"
KB_STDIN="$WORK/git-in" run_kb -v git get
expect_rc 0 "git get of a URL no profile claims"
expect_eq "$OUT" "" "git: no credential"
expect_match "$ERR" "^keybearer: debug: no token: no profile claims https://example\.com/x: no profile's urls are on example\.com" "git, verbose: why no token"
KB_STDIN="$WORK/git-in" run_kb git get
expect_eq "$ERR" "" "git without --verbose says nothing"
run_kb logout --verbose --profile main
expect_no_match "$ERR" "verbose" "logout takes --verbose itself"
run_kb -v
expect_rc 64 "--verbose without a command"

echo "# --help of the new commands"
for cmd in profiles which check status; do
	run_kb "$cmd" --help
	expect_rc 0 "$cmd --help"
	expect_match "$OUT" "^usage: keybearer $cmd" "$cmd --help"
	expect_match "$OUT" "-v, --verbose" "$cmd --help names --verbose"
done
run_kb --help
expect_match "$OUT" "^usage: keybearer \[-v \| --verbose\] <command> \[options\]$" "--help: the usage line"
expect_match "$OUT" "^  -v, --verbose  " "--help: --verbose"
echo "commands: all passed"

#!/usr/bin/env bash
# Ten thousand profiles: the file loads (1.3 MiB), every host tool's cached answer (and
# keybearer curl's request) is the token of the profile that claims its URL, read through
# the config index once the file has settled; an edit takes effect at once (the index is
# the file's no more), and a key given twice in a profile no command uses is still refused
# by every command.
. "$(dirname "$0")/lib.sh"

start_server
write_profile main ok "urls = $BASE/api/ $BASE/git/ $BASE/registry/"
token=$("$KB" get --profile main --format token)
# other profiles before and after main's, each claiming a host of its own
generate() { # FIRST LAST
	/usr/bin/python3 - "$1" "$2" "$BASE" <<'EOF'
import sys
first, last, base = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
sys.stdout.write("".join(
    f"[profile p{i}]\ntoken_url = {base}/ok/token?p{i}\nclient_id = client-{i}\n"
    f"secret = env:SECRET_P{i}\nurls = https://p{i}.example/\n\n" for i in range(first, last)))
EOF
}
{ generate 1 5000 && cat "$CONFIG" && generate 5000 10000; } >"$WORK/config.new"
mv "$WORK/config.new" "$CONFIG"
chmod 600 "$CONFIG"
# stamped a minute ahead: however slow the reads below, the file has not settled for them
touch -m -d "@$(($(date +%s) + 60))" "$CONFIG"
expect_eq "$(grep -c '^\[profile' "$CONFIG")" 10000 "profiles in the file"
[ "$(stat -c %s "$CONFIG")" -gt $((1024 * 1024)) ] || fail "the generated file is under 1 MiB"

printf 'protocol=https\nhost=127.0.0.1:%s\npath=git/repo.git\n\n' "$PORT" >"$WORK/git.in"
printf '{"uri":"%s/api/artifacts/a.tar.gz"}\n' "$BASE" >"$WORK/bazel.in"
printf '{"v":1,"kind":"get","operation":"read","registry":{"index-url":"sparse+%s/registry/","name":"corp"},"args":[]}\n' \
	"$BASE" >"$WORK/cargo.in"
answers() { # WHAT [GIT_TOKEN]: each host tool answers with main's cached token (git: or this)
	run_with "$KB" get --profile main --format token
	expect_rc 0 "$1: get"
	expect_eq "$OUT" "$token" "$1: get"
	KB_STDIN="$WORK/git.in" run_with "$KB_BIN/git-credential-keybearer" get
	expect_rc 0 "$1: git get"
	expect_eq "$(sed -n 's/^password=//p' <<<"$OUT")" "${2:-$token}" "$1: git get"
	KB_STDIN="$WORK/bazel.in" run_with "$KB_BIN/keybearer-bazel" get
	expect_rc 0 "$1: bazel get"
	expect_eq "$(jq -r '.headers.Authorization[0]' <<<"$OUT")" "Bearer $token" "$1: bazel get"
	KB_STDIN="$WORK/cargo.in" run_with "$KB_BIN/cargo-credential-keybearer" --cargo-plugin
	expect_rc 0 "$1: cargo get"
	expect_eq "$(sed -n 2p <<<"$OUT" | jq -r .Ok.token)" "Bearer $token" "$1: cargo get"
	run_with "$KB" get --url "$BASE/api/v1/x" --format token
	expect_rc 0 "$1: get --url"
	expect_eq "$OUT" "$token" "$1: get --url"
	run_with "$KB" which "$BASE/api/v1/x"
	expect_rc 0 "$1: which"
	expect_eq "$OUT" "main $BASE/api/" "$1: which"
	# keybearer curl picks the profile by its URL too: main's token reaches the API
	CURL_CA_BUNDLE="$CA" run_with "$KB" curl -sS "$BASE/api/hello"
	expect_rc 0 "$1: keybearer curl"
	expect_eq "$OUT" '{"hello": "world", "client_id": "kb-test-client"}' "$1: keybearer curl"
	# another profile's host is that profile's (whose secret variable is not set)
	printf 'protocol=https\nhost=p9999.example\n\n' >"$WORK/other.in"
	KB_STDIN="$WORK/other.in" run_with "$KB_BIN/git-credential-keybearer" get
	expect_rc 78 "$1: git get for p9999"
	expect_eq "$OUT" "" "$1: git get for p9999"
	expect_match "$ERR" "no client secret for profile p9999: environment variable SECRET_P9999" \
		"$1: git get for p9999"
}

# keybearer curl and wget keep only the claimers of their URL, and still keep every other
# profile's secret variable from the tool they run (a shim that saves its environment)
mkdir "$WORK/shims"
for tool in curl wget; do
	printf '#!/bin/sh\nenv >"%s/shim-env.%s"\n' "$WORK" "$tool" >"$WORK/shims/$tool"
	chmod 755 "$WORK/shims/$tool"
done
no_variables_reach_tools() { # WHAT
	local tool
	for tool in curl wget; do
		rm -f "$WORK/shim-env.$tool"
		SECRET_P7777=hidden PATH="$WORK/shims:$PATH" run_with "$KB" "$tool" "$BASE/api/hello"
		expect_rc 0 "$1: keybearer $tool, a shim"
		grep -q '^PATH=' "$WORK/shim-env.$tool" || fail "$1: the $tool shim did not run"
		! grep -q '^SECRET_P7777=' "$WORK/shim-env.$tool" ||
			fail "$1: another profile's secret variable reached $tool"
	done
}

echo "# 10000 profiles, read whole (the file is new: no index yet)"
answers "read whole"
no_variables_reach_tools "read whole"
index_dir="$XDG_CACHE_HOME/keybearer/config-index"
[ ! -d "$index_dir" ] || [ -z "$(ls -A "$index_dir")" ] || fail "an index of a file not settled"

echo "# once the file has settled: written once, then read"
touch -m -d "@$(($(date +%s) - 60))" "$CONFIG"
sleep 2.5 # and so has its ctime, which that touch set
answers "writing the index"
expect_eq "$(stat -c %a "$index_dir")" 700 "index directory mode"
expect_eq "$(find "$index_dir" -type f -printf '%m %f\n' | sed 's/config-[0-9a-f]*\.index/INDEX/')" \
	"600 INDEX" "the index, and nothing else"
grep -q -F -- "$token" "$index_dir"/*.index && fail "the token is in the index"
grep -q -F -- "$SECRET" "$index_dir"/*.index && fail "the secret is in the index"
answers "from the index"
no_variables_reach_tools "from the index"
# Only the claimers of the first URL are loaded: a second URL that another profile claims
# must still be refused before the tool runs, so main's token never goes to p9999's host.
for tool in curl wget; do
	rm -f "$WORK/shim-env.$tool"
	PATH="$WORK/shims:$PATH" run_with "$KB" "$tool" "$BASE/api/hello" "https://p9999.example/x"
	expect_rc 78 "keybearer $tool with a URL of another profile's"
	[ ! -e "$WORK/shim-env.$tool" ] || fail "keybearer $tool ran $tool with a URL main does not claim"
	expect_match "$ERR" "p9999\.example" "keybearer $tool with a URL of another profile's"
done
expect_eq "$(requests ok)" 1 "token requests (main's one mint)"

echo "# an edit takes effect at once: a new profile claims the git path"
printf '[profile late]\ntoken_url = %s/ok/token?late\nclient_id = %s\nsecret = file:%s\nca_file = %s\nurls = %s/git/repo.git\n' \
	"$BASE" "$CLIENT_ID" "$WORK/secret" "$CA" "$BASE" >>"$CONFIG"
KB_STDIN="$WORK/git.in" run_with "$KB_BIN/git-credential-keybearer" get
expect_rc 0 "git get after the edit"
late=$(sed -n 's/^password=//p' <<<"$OUT")
[ -n "$late" ] && [ "$late" != "$token" ] || fail "the new, longer claim did not answer: $OUT"
expect_eq "$(requests ok)" 2 "token requests (late's mint)"

echo "# the secret variables of every profile stay out of a child's environment"
SECRET_P7777=hidden run_with "$KB" exec --profile main -- /usr/bin/env
expect_rc 0 "exec"
[[ "$OUT" != *SECRET_P7777* ]] || fail "a dropped profile's secret variable reached the child"

echo "# nor that of a secret command keybearer-fetch runs to mint"
printf '#!/bin/sh\nenv >"%s"\ncat "%s"\n' "$WORK/cmd-env" "$WORK/secret" >"$WORK/secret-cmd"
chmod 700 "$WORK/secret-cmd"
printf '[profile cmd]\ntoken_url = %s/ok/token?cmd\nclient_id = %s\nsecret = command:%s\nca_file = %s\n' \
	"$BASE" "$CLIENT_ID" "$WORK/secret-cmd" "$CA" >>"$CONFIG"
SECRET_P7777=hidden SECRET_P1=hidden2 run_with "$KB" get --profile cmd --format token
expect_rc 0 "get by a secret command"
[ -s "$WORK/cmd-env" ] || fail "the secret command did not run"
! grep '^SECRET_P' "$WORK/cmd-env" || fail "a profile's secret variable reached the secret command"

echo "# a repeated key in a profile no command uses is an error for every command"
sleep 2.5 # the edited file settles and is indexed again
answers "indexed again" "$late"
printf '[profile p42]\nscope = x\n[profile p42]\nscope = y\n' >>"$CONFIG"
run_with "$KB" get --profile main
expect_rc 78 "get with a broken p42"
expect_match "$ERR" "scope is given twice for profile p42" "get with a broken p42"
KB_STDIN="$WORK/git.in" run_with "$KB_BIN/git-credential-keybearer" get
expect_rc 78 "git get with a broken p42"
echo "ok"

#!/usr/bin/env bash
# keybearer pnpm --link and the link it makes, without pnpm: each case a row (the
# directory, what is there already, exit code, stdout, stderr), then the link's answers.
. "$(dirname "$0")/lib.sh"

start_server --http
write_profile npm ok "urls = $BASE/npm/ $BASE/other/" "ca_file = "
write_profile bare ok "ca_file = "
mkdir -p "$HOME/.local/bin" "$WORK/open/mine" "$WORK/spaced dir" "$WORK/taken" "$WORK/mine"
chmod 700 "$HOME/.local/bin" "$WORK/open/mine" "$WORK/spaced dir" "$WORK/taken" "$WORK/mine"
chmod 777 "$WORK/open"
ln -s /bin/true "$WORK/taken/keybearer-pnpm-npm"
self=$(readlink -f "$KB")
lines() { printf '//127.0.0.1:%s/npm/:tokenHelper=%s\n//127.0.0.1:%s/other/:tokenHelper=%s' \
	"$PORT" "$1/keybearer-pnpm-npm" "$PORT" "$1/keybearer-pnpm-npm"; }

# arguments | exit | stdout | stderr
cases=(
	"--link npm|0|$(lines "$HOME/.local/bin")|"
	"--link npm|0|$(lines "$HOME/.local/bin")|" # again: the very link is there
	"--link npm $WORK/mine|0|$(lines "$WORK/mine")|"
	"--link npm $WORK/taken|74||keybearer: pnpm --link: $WORK/taken/keybearer-pnpm-npm exists and is not a link to $self — remove it, or name another directory"
	"--link npm /tmp|74||keybearer: pnpm --link: others can change /tmp (owner 0, mode 1777), and so what pnpm runs — use a directory that is yours alone, such as ~/.local/bin"
	"--link npm $WORK/open/mine|74||keybearer: pnpm --link: the directory $WORK/open/mine: directory $WORK/open is writable by group or others (mode 0777), who could replace the file — run chmod go-w $WORK/open"
	"--link npm $WORK/none|74||keybearer: pnpm --link: cannot use the directory $WORK/none: No such file or directory — create it (mkdir -p) or name another"
	"--link nosuch|78||keybearer: no profile named \"nosuch\" — known profiles: aspose, npm, bare; add [profile nosuch] to $CONFIG"
	# (a profile without urls claims its token endpoint's origin, and no more)
	"--link bare $WORK/open/mine/..|74||keybearer: pnpm --link: others can change $WORK/open (owner $(id -u), mode 0777), and so what pnpm runs — use a directory that is yours alone, such as ~/.local/bin"
	"--link bare|0|//127.0.0.1:$PORT/:tokenHelper=$HOME/.local/bin/keybearer-pnpm-bare|"
	"--link|64||keybearer: pnpm arguments: expected --profile P, or --link P [DIR] — see keybearer pnpm --help"
	"--profile|64||keybearer: pnpm arguments: expected --profile P, or --link P [DIR] — see keybearer pnpm --help"
	"--token x|64||keybearer: pnpm arguments: expected --profile P, or --link P [DIR] — see keybearer pnpm --help"
)
for row in "${cases[@]}"; do
	args=${row%%|*} rest=${row#*|}
	rc=${rest%%|*} rest=${rest#*|}
	out=${rest%%|*} err=${rest#*|} # (stdout may have several lines)
	# shellcheck disable=SC2086 # the arguments are words
	run_kb pnpm $args
	expect_rc "$rc" "keybearer pnpm $args"
	expect_eq "$OUT" "$out" "stdout of keybearer pnpm $args"
	expect_eq "$ERR" "$err" "stderr of keybearer pnpm $args"
done
# a directory whose path the shell would split: refused before anything is made
mv "$WORK/mine" "$WORK/spaced dir/mine"
run_kb pnpm --link npm "$WORK/spaced dir/mine"
expect_rc 64 "keybearer pnpm --link into a path with a space"
expect_eq "$ERR" "keybearer: pnpm --link: pnpm runs its tokenHelper through a shell, which would split the path $WORK/spaced dir/mine — use a directory whose path has only letters, digits and /._+,@%=:-" "stderr"
expect_eq "$(requests ok)" 0 "token requests for --link"

echo "# the link answers as pnpm runs it: no arguments, Bearer and the token"
helper="$HOME/.local/bin/keybearer-pnpm-npm"
out=$(sh -c "$helper" </dev/null)
token=$("$KB" get --profile npm --format token)
expect_eq "$out" "Bearer $token" "the link's answer"
expect_eq "$("$KB" pnpm --profile npm)" "Bearer $token" "keybearer pnpm --profile npm"
expect_eq "$(requests ok)" 1 "token requests"
set +e
"$helper" extra >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_eq "$RC" 64 "the link with an argument"
expect_eq "$(cat "$WORK/out")" "" "its stdout"
expect_eq "$(cat "$WORK/err")" "keybearer: keybearer-pnpm-npm takes no arguments: it is pnpm's tokenHelper for profile npm — see keybearer pnpm --help" "its stderr"
ln -s "$KB" "$HOME/.local/bin/keybearer-pnpm-nosuch"
set +e
"$HOME/.local/bin/keybearer-pnpm-nosuch" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_eq "$RC" 78 "a link for an unknown profile"
expect_eq "$(cat "$WORK/out")" "" "its stdout"
expect_match "$(cat "$WORK/err")" '^keybearer: no profile named "nosuch"' "its stderr"

echo "pnpmlink: all passed"

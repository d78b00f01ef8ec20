#!/usr/bin/env bash
# The man pages and shell completions of the installed tree: valid, complete (every command,
# option, config key and exit code the binaries know is documented) and working.
. "$(dirname "$0")/lib.sh"

MAN1="$KB_STAGE/share/man/man1/keybearer.1"
MAN5="$KB_STAGE/share/man/man5/keybearer-config.5"
BASH_COMPLETION="$KB_STAGE/share/bash-completion/completions/keybearer"
ZSH_COMPLETION="$KB_STAGE/share/zsh/vendor-completions/_keybearer"
FISH_COMPLETION="$KB_STAGE/share/fish/vendor_completions.d/keybearer.fish"

for tool in scdoc zsh fish; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (packaging/deps.sh installs it)"
done

# roff_text PAGE: the page's roff source with the escapes scdoc writes undone, for grep.
roff_text() {
	sed -e 's/\\-/-/g' -e 's/\\&//g' "$1"
}

# has_entry PAGE WORD: the page has a definition-list entry that starts with WORD in bold.
has_entry() {
	awk -v entry="\\\\fB$2\\\\fR" '
		at_entry && /^\.RS/ { found = 1 }
		{ at_entry = index($0, entry) == 1 }
		END { exit !found }' "$1"
}

echo "# the scdoc sources are valid"
for page in keybearer.1 keybearer-config.5; do
	scdoc <"$KB_SOURCE/packaging/man/$page.scd" >"$WORK/$page" 2>"$WORK/scdoc.err" ||
		fail "scdoc rejects packaging/man/$page.scd: $(cat "$WORK/scdoc.err")"
done

echo "# the man pages are installed and render"
for page in "$MAN1" "$MAN5"; do
	[ -s "$page" ] || fail "$page is not installed (cmake builds the man pages only when it finds scdoc)"
	if command -v man >/dev/null; then
		MANWIDTH=80 man -l "$page" >"$WORK/rendered" 2>"$WORK/man.err" ||
			fail "man -l $page failed: $(cat "$WORK/man.err")"
		expect_eq "$(cat "$WORK/man.err")" "" "man's warnings about $page"
		grep -q '^NAME' "$WORK/rendered" || fail "man -l $page renders no NAME section"
	fi
done
roff_text "$MAN1" >"$WORK/man1"
roff_text "$MAN5" >"$WORK/man5"

echo "# every command of keybearer --help has an entry in keybearer.1"
"$KB" --help >"$WORK/help"
commands=$(sed -n '/^commands:/,/^keybearer <command> --help/s/^  \([a-z][a-z-]*\) .*/\1/p' "$WORK/help")
[ "$(printf '%s\n' "$commands" | wc -l)" -ge 13 ] || fail "found only these commands in keybearer --help: $commands"
for command in $commands; do
	has_entry "$WORK/man1" "$command" || fail "keybearer.1 has no entry for the command $command"
done

echo "# every long option of every command's --help appears in keybearer.1"
options=0
for command in "" $commands; do
	# shellcheck disable=SC2086 # no command: keybearer --help itself
	"$KB" $command --help >"$WORK/help" || fail "keybearer${command:+ $command} --help failed"
	for option in $(grep -oE -- '--[a-z][a-z0-9_-]*' "$WORK/help" | sort -u); do
		grep -Eq -- "(^|[^a-z0-9_-])$option([^a-z0-9_-]|\$)" "$WORK/man1" ||
			fail "keybearer.1 does not mention $option (from keybearer${command:+ $command} --help)"
		options=$((options + 1))
	done
done
[ "$options" -ge 10 ] || fail "found only $options long options in the --help texts"

echo "# every exit code of keybearer --help has an entry in keybearer.1"
codes=$("$KB" --help | sed -n '/^exit codes:/,$p' | grep -oE '(^|[ ,:])[0-9]+ [a-z]' | grep -oE '[0-9]+')
[ "$(printf '%s\n' "$codes" | wc -l)" -ge 10 ] || fail "found only these exit codes in keybearer --help: $codes"
for code in $codes; do
	has_entry "$WORK/man1" "$code" || fail "keybearer.1 has no entry for exit code $code"
done

echo "# every key of config.c's key_rules has an entry in keybearer-config.5"
keys=$(sed -n '/key_rules\[\] = {/,/^};/s/^[[:space:]]*{ "\([a-z_]*\)".*/\1/p' "$KB_SOURCE/helper/config.c")
[ "$(printf '%s\n' "$keys" | wc -l)" -ge 13 ] || fail "found only these keys in key_rules: $keys"
for key in $keys; do
	has_entry "$WORK/man5" "$key" || fail "keybearer-config.5 has no entry for the key $key"
done

echo "# the completions are installed and parse"
for file in "$BASH_COMPLETION" "$ZSH_COMPLETION" "$FISH_COMPLETION"; do
	[ -s "$file" ] || fail "$file is not installed"
done
bash -n "$BASH_COMPLETION" || fail "bash -n rejects $BASH_COMPLETION"
zsh -n "$ZSH_COMPLETION" || fail "zsh -n rejects $ZSH_COMPLETION"
fish --no-execute "$FISH_COMPLETION" || fail "fish --no-execute rejects $FISH_COMPLETION"

echo "# bash completes commands, options, formats, and the profiles of the config file"
cat >"$CONFIG" <<'EOF'
; two profiles, and a comment that looks like a third
[profile alpha]
token_url = https://alpha.example/token
client_id = a
# [profile gamma]
[profile beta]
token_url = https://beta.example/token
client_id = b
EOF
chmod 600 "$CONFIG"
# complete_bash WORD...: what the bash completion offers for the last WORD, one a line
complete_bash() {
	bash -c '. "$1" && shift &&
		COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMP_LINE="$*" && COMP_POINT=${#COMP_LINE} &&
		_keybearer && printf "%s\n" "${COMPREPLY[@]}"' complete "$BASH_COMPLETION" "$@"
}
expect_eq "$(complete_bash keybearer get --profile '' | paste -sd ' ')" "alpha beta" \
	"bash completion of keybearer get --profile"
expect_eq "$(complete_bash keybearer get --profile b | paste -sd ' ')" "beta" \
	"bash completion of keybearer get --profile b"
expect_eq "$(complete_bash keybearer get --format '' | paste -sd ' ')" "header token curl wget json" \
	"bash completion of keybearer get --format"
words=$(complete_bash keybearer '')
grep -qx get <<<"$words" || fail "bash completion of keybearer offers no get: $words"
grep -qx inspect <<<"$words" || fail "bash completion of keybearer offers no inspect: $words"
words=$(complete_bash keybearer login --)
for option in --profile --client-id --token-url --no-verify; do
	grep -qx -- "$option" <<<"$words" || fail "bash completion of keybearer login -- offers no $option: $words"
done

echo "# fish completes the same"
complete_fish() {
	# shellcheck disable=SC2016 # fish expands $argv
	fish --no-config -c 'source $argv[1]; complete --do-complete=$argv[2]' "$FISH_COMPLETION" "$1" | cut -f1
}
expect_eq "$(complete_fish 'keybearer get --profile ' | paste -sd ' ')" "alpha beta" \
	"fish completion of keybearer get --profile"
words=$(complete_fish 'keybearer ')
grep -qx inspect <<<"$words" || fail "fish completion of keybearer offers no inspect: $words"

echo "docs: ok"

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

echo "# the README names every package packaging/deps.sh installs"
# the words of deps.sh's package lists: packages=( ... ), packages+=( ... ) and +=(name)
deps_packages=$(awk '
	/packages\+?=\(/ { open = 1; sub(/.*packages\+?=\(/, "") }
	open { line = $0; sub(/#.*/, "", line); closed = sub(/\).*/, "", line)
		n = split(line, w, /[ \t]+/); for (i = 1; i <= n; i++) if (w[i] != "") print w[i]
		if (closed) open = 0 }' "$KB_SOURCE/packaging/deps.sh" | sort -u)
[ "$(wc -l <<<"$deps_packages")" -ge 30 ] || fail "read too few packages from deps.sh: $deps_packages"
for package in $deps_packages; do
	grep -Eq "(^|[\` ])$package([\` ,]|\$)" "$KB_SOURCE/README.md" ||
		fail "README.md does not name $package, which packaging/deps.sh installs"
done

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

# expect_entries PAGE-TEXT PAGE WHAT MINIMUM ITEMS: at least MINIMUM items were found (else
# the extraction broke), and each has an entry in the page
expect_entries() {
	local text=$1 page=$2 what=$3 minimum=$4 items=$5 item
	[ "$(printf '%s\n' "$items" | wc -l)" -ge "$minimum" ] || fail "found only these ${what}s: $items"
	for item in $items; do
		has_entry "$text" "$item" || fail "$page has no entry for the $what $item"
	done
}

echo "# every command of keybearer --help has an entry in keybearer.1"
"$KB" --help >"$WORK/help"
commands=$(sed -n '/^commands:/,/^keybearer <command> --help/s/^  \([a-z][a-z-]*\) .*/\1/p' "$WORK/help")
expect_entries "$WORK/man1" keybearer.1 command 16 "$commands"

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
expect_entries "$WORK/man1" keybearer.1 "exit code" 10 "$codes"

echo "# every key of config.c's key_rules has an entry in keybearer-config.5"
keys=$(sed -n '/key_rules\[\] = {/,/^};/s/^[[:space:]]*{ "\([a-z_]*\)".*/\1/p' "$KB_SOURCE/helper/config.c")
expect_entries "$WORK/man5" keybearer-config.5 key 13 "$keys"

echo "# the completions are installed and parse"
for file in "$BASH_COMPLETION" "$ZSH_COMPLETION" "$FISH_COMPLETION"; do
	[ -s "$file" ] || fail "$file is not installed"
done
bash -n "$BASH_COMPLETION" || fail "bash -n rejects $BASH_COMPLETION"
zsh -n "$ZSH_COMPLETION" || fail "zsh -n rejects $ZSH_COMPLETION"
fish --no-execute "$FISH_COMPLETION" || fail "fish --no-execute rejects $FISH_COMPLETION"

echo "# bash completes commands, options, formats, and the profiles keybearer profiles lists"
export PATH="$KB_BIN:$PATH" # the completions ask the keybearer on PATH
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
expect_eq "$(complete_bash keybearer get --profile '' | paste -sd ' ')" "aspose alpha beta" \
	"bash completion of keybearer get --profile"
expect_eq "$(complete_bash keybearer -v check --profile a | paste -sd ' ')" "aspose alpha" \
	"bash completion of keybearer -v check --profile a"
expect_eq "$(complete_bash keybearer get --profile b | paste -sd ' ')" "beta" \
	"bash completion of keybearer get --profile b"
expect_eq "$(complete_bash keybearer get --format '' | paste -sd ' ')" "header token curl wget json" \
	"bash completion of keybearer get --format"
expect_eq "$(complete_bash keybearer goauth --profile alpha --profile b | paste -sd ' ')" "beta" \
	"bash completion of keybearer goauth's second --profile"
expect_eq "$(complete_bash keybearer goauth --p)" "--profile" "bash completion of keybearer goauth --p"
words=$(complete_bash keybearer '')
grep -qx get <<<"$words" || fail "bash completion of keybearer offers no get: $words"
grep -qx inspect <<<"$words" || fail "bash completion of keybearer offers no inspect: $words"
for command in profiles which check wget pnpm httpie --verbose; do
	grep -qx -- "$command" <<<"$words" || fail "bash completion of keybearer offers no $command: $words"
done
expect_eq "$(complete_bash keybearer pnpm '' | paste -sd ' ')" "--profile --link --help" \
	"bash completion of keybearer pnpm"
expect_eq "$(complete_bash keybearer pnpm --link '' | paste -sd ' ')" "$(complete_bash keybearer get --profile '' | paste -sd ' ')" \
	"bash completion of keybearer pnpm --link (the profiles)"
expect_eq "$(complete_bash keybearer httpie '' | paste -sd ' ')" "get erase --help" \
	"bash completion of keybearer httpie"
expect_eq "$(complete_bash keybearer status --j)" "--json" "bash completion of keybearer status --j"
expect_eq "$(complete_bash keybearer get --u)" "--url" "bash completion of keybearer get --u"
expect_eq "$(complete_bash keybearer --verbose get --form)" "--format" "bash completion after --verbose"
expect_eq "$(complete_bash keybearer exec --t)" "--token-file" "bash completion of keybearer exec --t"
expect_eq "$(complete_bash keybearer exec --token-file --e)" "--env" \
	"bash completion of keybearer exec --token-file --e"
words=$(complete_bash keybearer login --)
for option in --profile --client-id --token-url --no-verify; do
	grep -qx -- "$option" <<<"$words" || fail "bash completion of keybearer login -- offers no $option: $words"
done

echo "# fish completes the same"
complete_fish() {
	# shellcheck disable=SC2016 # fish expands $argv
	fish --no-config -c 'source $argv[1]; complete --do-complete=$argv[2]' "$FISH_COMPLETION" "$1" | cut -f1
}
# (fish sorts what it offers)
expect_eq "$(complete_fish 'keybearer get --profile ' | paste -sd ' ')" "alpha aspose beta" \
	"fish completion of keybearer get --profile"
expect_eq "$(complete_fish 'keybearer -v check --profile ' | paste -sd ' ')" "alpha aspose beta" \
	"fish completion of keybearer -v check --profile"
words=$(complete_fish 'keybearer ')
for command in inspect profiles which check wget pnpm httpie; do
	grep -qx "$command" <<<"$words" || fail "fish completion of keybearer offers no $command: $words"
done
expect_eq "$(complete_fish 'keybearer httpie ' | paste -sd ' ')" "erase get" "fish completion of keybearer httpie"
expect_eq "$(complete_fish 'keybearer status --j')" "--json" "fish completion of keybearer status --j"
expect_eq "$(complete_fish 'keybearer exec --tok')" "--token-file" "fish completion of keybearer exec --tok"
expect_eq "$(complete_fish 'keybearer goauth --profile alpha --profile ' | paste -sd ' ')" "alpha aspose beta" \
	"fish completion of keybearer goauth's second --profile"

echo "# zsh completes them too (a line typed in an interactive zsh, then a tab)"
# complete_zsh LINE: the line as zsh's completion leaves it (a widget writes the buffer out)
complete_zsh() {
	rm -f "$WORK/zbuffer"
	# shellcheck disable=SC2016 # zsh expands what is in single quotes
	zsh -f -c '
		zmodload zsh/zpty
		zpty z zsh -f -i
		zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -d $2/zcompdump"
		zpty -w z "dump() { print -r -- \$BUFFER >|$2/zbuffer.tmp && mv $2/zbuffer.tmp $2/zbuffer }"
		zpty -w z "zle -N dump; bindkey \"^X\" dump"
		zpty -n -w z "$3"$'"'"'\t\x18'"'"'
		for i in {1..100}; do
			zpty -r -t z chunk
			[[ -e $2/zbuffer ]] && break
			sleep 0.05
		done
		zpty -d z
	' complete "$(dirname "$ZSH_COMPLETION")" "$WORK" "$1"
	[ -e "$WORK/zbuffer" ] || fail "zsh did not complete [$1]"
	sed 's/ *$//' "$WORK/zbuffer"
}
expect_eq "$(complete_zsh 'keybearer wh')" "keybearer which" "zsh completion of keybearer wh"
expect_eq "$(complete_zsh 'keybearer pn')" "keybearer pnpm" "zsh completion of keybearer pn"
expect_eq "$(complete_zsh 'keybearer httpie er')" "keybearer httpie erase" "zsh completion of keybearer httpie er"
expect_eq "$(complete_zsh 'keybearer -v status --j')" "keybearer -v status --json" "zsh completion of keybearer -v status --j"
expect_eq "$(complete_zsh 'keybearer check --profile be')" "keybearer check --profile beta" "zsh completion of profiles"
expect_eq "$(complete_zsh 'keybearer exec --tok')" "keybearer exec --token-file" "zsh completion of keybearer exec --tok"
echo "# keybearer.1 names the variable keybearer exec --token-file sets"
has_entry "$WORK/man1" KEYBEARER_TOKEN_FILE || fail "keybearer.1 has no entry for KEYBEARER_TOKEN_FILE"
expect_eq "$(complete_zsh 'keybearer goauth --profile alpha --profile be')" \
	"keybearer goauth --profile alpha --profile beta" "zsh completion of goauth's second --profile"

echo "docs: ok"

#!/usr/bin/env bash
# The directories above a config file, a secret file and a ca_file count, as OpenSSH's
# StrictModes has it: one that another user can change lets them swap the file. Each row
# builds one layout and expects the get to be refused (or served) as it says.
. "$(dirname "$0")/lib.sh"

start_server
ME=$(id -u)

# layout NAME DIR: builds the layout under DIR and prints the path the file goes to.
layout() {
	local name=$1 d=$2
	mkdir -p "$d"
	case "$name" in
	plain) echo "$d/file" ;;
	dir-0777) mkdir -m 0777 "$d/open" && echo "$d/open/file" ;;
	dir-0775) mkdir -m 0775 "$d/group" && echo "$d/group/file" ;;
	dir-0757) mkdir -m 0757 "$d/other" && echo "$d/other/file" ;;
	grandparent-0777) mkdir -m 0777 "$d/open" && mkdir -m 0700 "$d/open/mine" &&
		echo "$d/open/mine/file" ;;
	dir-nobody) mkdir -m 0755 "$d/theirs" && chown nobody "$d/theirs" && echo "$d/theirs/file" ;;
	sticky-file) mkdir -m 1777 "$d/tmp" && echo "$d/tmp/file" ;;
	sticky-dir) mkdir -m 1777 "$d/tmp" && mkdir -m 0700 "$d/tmp/mine" && echo "$d/tmp/mine/file" ;;
	sticky-link-nobody)
		# a link in a shared directory that another user owns: they may point it elsewhere
		mkdir -m 1777 "$d/tmp" && mkdir -m 0700 "$d/real" && ln -s "$d/real" "$d/tmp/link" &&
			chown -h nobody "$d/tmp/link" && echo "$d/tmp/link/file"
		;;
	link-into-0777) mkdir -m 0777 "$d/open" && mkdir -m 0700 "$d/mine" &&
		ln -s ../open "$d/mine/link" && echo "$d/mine/link/file" ;;
	link-from-0777) mkdir -m 0700 "$d/real" && mkdir -m 0777 "$d/open" &&
		ln -s "$d/real/file" "$d/open/link" && echo "$d/open/link" ;;
	dotdot-into-0777) mkdir -m 0777 "$d/open" && mkdir -m 0700 "$d/open/mine" &&
		echo "$d/open/mine/../mine/file" ;;
	*) fail "unknown layout $name" ;;
	esac
}

# place WHICH PATH: writes the file a row tests (a symlink's target when PATH is one).
place() {
	local target=$2
	[ -L "$target" ] && target=$(readlink -f "$target")
	case "$1" in
	config) printf '[profile p]\ntoken_url = %s/ok/token?parents\nclient_id = %s\nsecret = file:%s\nca_file = %s\n' \
		"$BASE" "$CLIENT_ID" "$WORK/secret" "$CA" >"$target" ;;
	secret) cp "$WORK/secret" "$target" ;;
	ca) cp "$CA" "$target" ;;
	esac
	chmod 600 "$target"
}

row=0
while read -r which name code pattern; do
	case "$which" in '#'* | '') continue ;; esac
	row=$((row + 1))
	what="row $row ($which in $name)"
	if [ "$ME" != 0 ] && [[ "$name" == *nobody* ]]; then
		echo "skipped $row - $what: needs root to make another user's directory"
		continue
	fi
	path=$(layout "$name" "$WORK/layout$row")
	place "$which" "$path"
	rm -f "$CONFIG"
	env=()
	case "$which" in
	config) env=(KEYBEARER_CONFIG="$path") ;;
	secret) write_profile p ok "token_url = $BASE/ok/token?parents" "secret = file:$path" ;;
	ca) write_profile p ok "token_url = $BASE/ok/token?parents" "ca_file = $path" ;;
	esac
	rm -rf "$CACHE_DIR"
	before=$(requests ok)
	set +e
	env "${env[@]}" "$KB" get --profile p >"$WORK/out" 2>"$WORK/err" </dev/null
	RC=$?
	set -e
	OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
	expect_rc "$code" "$what"
	if [ "$code" = 0 ]; then
		expect_match "$OUT" "^Authorization: Bearer " "$what: the token"
		expect_eq "$(($(requests ok) - before))" 1 "$what: requests"
	else
		expect_eq "$OUT" "" "$what: stdout"
		expect_match "$ERR" "^keybearer: ${pattern//PATH/$path}" "$what: stderr"
		expect_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "$what: stderr lines"
		expect_eq "$(requests ok)" "$before" "$what: no request with a file others can swap"
	fi
	echo "ok $row - $what -> $RC"
done <<'ROWS'
# file   layout              exit  stderr pattern (PATH: the file's path as configured)
config   plain               0
config   dir-0777            78    config file PATH: directory [^ ]*/open is writable by group or others \(mode 0777\), who could replace the file — run chmod go-w [^ ]*/open$
config   dir-0775            78    config file PATH: directory [^ ]*/group is writable by group or others \(mode 0775\)
config   dir-0757            78    config file PATH: directory [^ ]*/other is writable by group or others \(mode 0757\)
config   grandparent-0777    78    config file PATH: directory [^ ]*/open is writable by group or others \(mode 0777\)
config   dir-nobody          78    config file PATH: directory [^ ]*/theirs belongs to uid [0-9]+, not to you or root, who could replace the file — keep it in a directory of yours$
config   sticky-file         0
config   sticky-dir          0
config   sticky-link-nobody  78    config file PATH: its path goes through the shared directory [^ ]*/tmp by an entry of uid [0-9]+, who could replace it
config   link-into-0777      78    config file PATH: directory [^ ]*/open is writable by group or others
config   link-from-0777      78    config file PATH: directory [^ ]*/open is writable by group or others
config   dotdot-into-0777    78    config file PATH: directory [^ ]*/open is writable by group or others
secret   plain               0
secret   dir-0777            78    secret file PATH: directory [^ ]*/open is writable by group or others \(mode 0777\)
secret   link-into-0777      78    secret file PATH: directory [^ ]*/open is writable by group or others
secret   dir-nobody          78    secret file PATH: directory [^ ]*/theirs belongs to uid [0-9]+
secret   sticky-dir          0
ca       plain               0
ca       dir-0777            78    ca_file PATH: directory [^ ]*/open is writable by group or others \(mode 0777\)
ca       sticky-link-nobody  78    ca_file PATH: its path goes through the shared directory
ROWS
[ "$row" -ge 20 ] || fail "only $row rows ran"
echo "parents: all $row rows passed"

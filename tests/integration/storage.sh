#!/usr/bin/env bash
# A cache directory that cannot take a new token (a full disk, a quota, a read-only mount)
# or cannot be locked: the caller still gets a good token, status says what failed, and
# the next callers neither mint again nor lose a token that is still valid. One row per
# fault, one runner.
. "$(dirname "$0")/lib.sh"

start_server
ROOT=0
[ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null && ROOT=1

# The steps of a row, run in a mount namespace of their own when the fault needs one:
# seed a token, age it, break the directory, then ten gets and a status, each kept in
# $WORK/ROW.N.{rc,out,err}.
cat >"$WORK/steps.sh" <<'STEPS'
set -u
kb=$1 fault=$2 left=$3 profile=$4 dir=$5 out=$6 shim=$7
case "$fault" in
full-tmpfs)
	mount -t tmpfs -o size=1m,mode=0700 tmpfs "$XDG_RUNTIME_DIR" || exit 90
	;;
esac
"$kb" get --profile "$profile" --format token >"$out.seed" 2>"$out.seed-err" || exit 91
file=$(grep -l -F -- "$(cat "$out.seed")" "$dir"/*.json) || exit 92
# (the wall clock's view: the boot clock, which says "just now", never says more)
jq --argjson left "$left" '.expires_at = (now | floor) + $left |
	.obtained_at = .expires_at - 3600' "$file" >"$out.aged" && cat "$out.aged" >"$file" || exit 93
env=()
case "$fault" in
full-tmpfs)
	# every byte of the file system taken: only blocks a file already has can be written
	dd if=/dev/zero of="$XDG_RUNTIME_DIR/filler" bs=64k 2>/dev/null
	dd if=/dev/zero of="$XDG_RUNTIME_DIR/filler2" bs=1 2>/dev/null
	;;
enospc) env=(LD_PRELOAD="$shim" ENOSPC_MATCH=".json.") ;;
edquot) env=(LD_PRELOAD="$shim" ENOSPC_MATCH=".json." ENOSPC_ERRNO=EDQUOT) ;;
readonly-mount) mount --bind -o ro "$dir" "$dir" || exit 94 ;;
readonly-mode) chmod 500 "$dir" && rm -f "$dir"/*.lock ;;
lock-is-dir) rm -f "$dir"/*.lock && mkdir "${file%.json}.lock" ;;
esac
for i in $(seq 10); do
	# (a sanitizer build wants its runtime first; the shim only wraps write)
	env ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" "${env[@]}" \
		"$kb" get --profile "$profile" --format token >"$out.$i.out" 2>"$out.$i.err"
	echo $? >"$out.$i.rc"
	# a refresh started in the background ends before the next get
	for _ in $(seq 100); do
		pgrep -f "keybearer-fetch mint --profile $profile " >/dev/null || break
		sleep 0.1
	done
done
"$kb" status --profile "$profile" >"$out.status" 2>&1
case "$fault" in readonly-mode) chmod 700 "$dir" ;; esac
exit 0
STEPS

row=0
while read -r fault left most first_err status_pattern; do
	case "$fault" in '#'* | '') continue ;; esac
	row=$((row + 1))
	what="row $row ($fault, $left s left)"
	needs_root=0
	case "$fault" in full-tmpfs | readonly-mount) needs_root=1 ;; esac
	if [ "$needs_root" = 1 ] && [ "$ROOT" = 0 ]; then
		echo "skipped $row - $what: needs root and mount namespaces"
		continue
	fi
	if [ "$fault" = readonly-mode ] && [ "$(id -u)" = 0 ]; then
		echo "skipped $row - $what: root writes to a directory of mode 500 anyway"
		continue
	fi
	profile="storage$row"
	write_profile "$profile" ok "token_url = $BASE/ok/token?row=$row"
	out="$WORK/row$row"
	before=$(requests ok)
	runner=(bash)
	[ "$needs_root" = 0 ] || runner=(unshare -m --propagation private bash)
	set +e
	"${runner[@]}" "$WORK/steps.sh" "$KB" "$fault" "$left" "$profile" "$CACHE_DIR" "$out" \
		"$KB_ENOSPC_LIB"
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "$what: the setup failed at step $rc: $(cat "$out.seed-err" 2>/dev/null)"
	# the seeding get made one request; the ten gets may make at most $most more
	made=$(($(requests ok) - before - 1))
	[ "$made" -le "$most" ] || fail "$what: 10 gets made $made token requests, at most $most"
	tokens=""
	for i in $(seq 10); do
		expect_eq "$(cat "$out.$i.rc")" 0 "$what: get $i's exit (stderr: $(cat "$out.$i.err"))"
		token=$(cat "$out.$i.out")
		[ -n "$token" ] || fail "$what: get $i printed no token"
		expect_no_secret "$(cat "$out.$i.err")" "$what: get $i's stderr"
		case " $tokens " in *" $token "*) ;; *) tokens="$tokens $token" ;; esac
	done
	# no token minted was lost: every later get hands out one the first ones had
	[ "$(wc -w <<<"$tokens")" -le $((made + 1)) ] ||
		fail "$what: $(wc -w <<<"$tokens") different tokens from $made requests"
	[ "$first_err" = - ] || expect_match "$(cat "$out.1.err")" "${first_err//_/ }" "$what: the first get's stderr"
	[ "$status_pattern" = - ] || expect_match "$(cat "$out.status")" "${status_pattern//_/ }" "$what: status"
	echo "ok $row - $what -> 10 tokens, $made token request(s)"
done <<'ROWS'
# fault: enospc, edquot (writes of the cache file fail), full-tmpfs (a real full file system),
# readonly-mount, readonly-mode, lock-is-dir (the lock cannot be taken)
# left: what the cached token has left of its hour (100: a get waits for a refresh; 200:
# the refresh runs in the background). most: token requests allowed for the 10 gets.
# The patterns are grep -E, with _ for a space.
# fault         left  most  first get's stderr                                              status
enospc          100   1     ^keybearer:_warning:_cannot_write_the_token_cache_in_.*:_No_space_left_on_device   the_last_new_token_could_not_be_cached_[0-9]+_s_ago:_cannot_write_the_token_cache_in_.*No_space_left_on_device
enospc          200   1     ^$                                                              the_last_new_token_could_not_be_cached
edquot          100   1     ^keybearer:_warning:_cannot_write_the_token_cache_in_.*:_Disk_quota_exceeded   the_last_new_token_could_not_be_cached
full-tmpfs      100   1     ^keybearer:_warning:_cannot_(create_a_file_in|write_the_token_cache_in)_.*No_space_left_on_device   the_last_new_token_could_not_be_cached
full-tmpfs      200   1     ^$                                                              the_last_new_token_could_not_be_cached
readonly-mount  100   0     ^keybearer:_warning:_cannot_(open_the_lock_file|create).*Read-only_file_system.*\n?   refresh_due,_valid_for
readonly-mode   100   0     ^keybearer:_warning:_cannot_open_the_lock_file_.*Permission_denied   refresh_due,_valid_for
lock-is-dir     100   0     ^keybearer:_warning:_cannot_open_the_lock_file_.*Is_a_directory   refresh_due,_valid_for
ROWS
echo "storage: all $row rows passed"

#!/usr/bin/env bash
# The token cache: modes, refusals, corruption, atomic replacement, single flight, bounded lock.
. "$(dirname "$0")/lib.sh"

start_server
write_profile main ok
cache_file() { ls "$CACHE_DIR"/*.json; }

echo "# a private directory and a private file"
run_kb get --profile main
expect_rc 0 "first get"
token=$OUT
expect_eq "$(file_mode "$CACHE_DIR")" 700 "cache directory mode"
expect_eq "$(file_mode "$(cache_file)")" 600 "cache file mode"
expect_match "$(basename "$(cache_file)")" '^[0-9a-f]{32}\.json$' "cache file name"
expect_no_secret "$(cat "$(cache_file)")" "cache file"
[ -z "$(find "$CACHE_DIR" -name '.*tmp')" ] || fail "a temp file was left behind"

echo "# refused: wrong modes, symlinks, foreign owners (exit 74, stdout empty)"
refused() { # WHAT PATTERN
	run_kb get --profile main
	expect_rc 74 "$1"
	expect_eq "$OUT" "" "stdout when $1"
	expect_match "$ERR" "$2" "message when $1"
}
chmod 755 "$CACHE_DIR"
refused "directory 0755" "^keybearer: cache directory $CACHE_DIR is accessible to group or others \(mode 0755\) — run chmod 700 $CACHE_DIR$"
chmod 700 "$CACHE_DIR"
file=$(cache_file)
chmod 640 "$file"
refused "file 0640" "^keybearer: cache file [0-9a-f]{32}\.json is accessible to group or others \(mode 0640\)"
chmod 600 "$file"
cp -p "$file" "$WORK/elsewhere.json"
rm "$file"
ln -s "$WORK/elsewhere.json" "$file"
refused "file is a symlink" "cache file [0-9a-f]{32}\.json is a symbolic link — replace it with a regular file"
rm "$file"
mv "$WORK/elsewhere.json" "$file"
mv "$CACHE_DIR" "$WORK/real-cache"
ln -s "$WORK/real-cache" "$CACHE_DIR"
refused "directory is a symlink" "cache directory $CACHE_DIR is a symbolic link or not a directory — remove it"
rm "$CACHE_DIR"
mv "$WORK/real-cache" "$CACHE_DIR"
if [ "$(id -u)" = 0 ]; then
	chown nobody "$file"
	refused "file owned by nobody" "cache file [0-9a-f]{32}\.json belongs to uid [0-9]+, not to you"
	chown root "$file"
	chown nobody "$CACHE_DIR"
	refused "directory owned by nobody" "cache directory $CACHE_DIR does not belong to you"
	chown root "$CACHE_DIR"
fi
run_kb get --profile main
expect_eq "$OUT" "$token" "cache usable again"
expect_eq "$(requests ok)" 1 "requests so far"

echo "# corrupt or foreign files are a miss, then replaced"
for content in 'garbage' '{"format":"other/1"}' '' '{"format":"keybearer-cache/1","key":"x"}'; do
	printf '%s' "$content" >"$file"
	run_kb get --profile main
	expect_rc 0 "get over [$content]"
	expect_match "$OUT" "^Authorization: Bearer " "token over [$content]"
	jq -e '.format == "keybearer-cache/1"' "$file" >/dev/null || fail "cache not replaced after [$content]"
done
expect_eq "$(requests ok)" 5 "one request per corrupt file"

echo "# a token close to expiry is refreshed; the margin decides"
jq '.expires_at = (now | floor) + 100 | .obtained_at = (now | floor) - 3500' "$file" >"$WORK/edited"
cat "$WORK/edited" >"$file"
old=$("$KB" get --profile main --format token 2>/dev/null)
expect_eq "$(requests ok)" 6 "refresh inside the 300 s margin"
jq '.expires_at = (now | floor) + 400 | .obtained_at = (now | floor) - 3200' "$file" >"$WORK/edited"
cat "$WORK/edited" >"$file"
run_kb get --profile main
expect_eq "$(requests ok)" 6 "no refresh outside the margin"

echo "# 50 parallel cold gets: one keybearer-fetch, one token request, one token"
write_profile crowd ok-slow
# keybearer-fetch behind a wrapper that counts its runs
printf '#!/bin/sh\necho "$*" >>%s\nexec %s "$@"\n' "$WORK/fetch-runs" \
	"${KEYBEARER_FETCH:-$KB_STAGE/libexec/keybearer/keybearer-fetch}" >"$WORK/counting-fetch"
chmod 755 "$WORK/counting-fetch"
pids=()
for i in $(seq 50); do
	KEYBEARER_FETCH="$WORK/counting-fetch" "$KB" get --profile crowd \
		>"$WORK/crowd.$i" 2>"$WORK/crowd-err.$i" </dev/null &
	pids+=($!)
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || fail "parallel get $((i + 1)) failed: $(cat "$WORK/crowd-err.$((i + 1))")"
done
expect_match "$(cat "$WORK/fetch-runs")" "^mint --profile crowd --lock-fd [0-9]+$" \
	"the one keybearer-fetch the crowd started, with the lock handed down"
expect_eq "$(requests ok-slow)" 1 "token requests for 50 parallel gets"
crowd_key=$(basename "$(grep -l -F -- "$(cut -d' ' -f3 "$WORK/crowd.1")" "$CACHE_DIR"/*.json)" .json)
for handed in /dev/null "$CACHE_DIR/$crowd_key.lock"; do # not the lock; the lock, held by another
	flock "$CACHE_DIR/$crowd_key.lock" sleep 5 &
	holder=$!
	sleep 0.2
	out=$("$KB_STAGE/libexec/keybearer/keybearer-fetch" mint --profile crowd --lock-fd 3 \
		3<"$handed" 2>&1) && fail "keybearer-fetch took $handed for the lock"
	expect_match "$out" "^keybearer: keybearer-fetch was not handed the lock of .*/$crowd_key.lock — " \
		"a lock fd that is not the lock"
	kill "$holder"
	wait "$holder" 2>/dev/null || true
done
expect_eq "$(cat "$WORK"/crowd.* | sort -u | wc -l)" 1 "distinct tokens printed"
expect_eq "$(cat "$WORK"/crowd-err.*)" "" "stderr of the parallel gets"

echo "# readers never see half a file while writers replace it"
write_profile churn ok "token_url = $BASE/ok/token?churn"
"$KB" get --profile churn >/dev/null
(for _ in $(seq 40); do
	"$KB" invalidate --profile churn && "$KB" get --profile churn >/dev/null 2>&1 || exit 1
done) &
writer=$!
bad=0
for _ in $(seq 400); do
	line=$("$KB" get --profile churn 2>&1) || bad=$((bad + 1))
	[[ "$line" =~ ^Authorization:\ Bearer\ [A-Za-z0-9._~+/-]+=*$ ]] || bad=$((bad + 1))
done
wait "$writer" || fail "the writer loop failed"
expect_eq "$bad" 0 "torn or failed reads"

echo "# the wait for another refresher is bounded; a still-valid token stands in"
write_profile locked ok "token_url = $BASE/ok/token?locked" "timeout = 1"
run_kb get --profile locked
locked_token=${OUT#Authorization: Bearer }
key=$(basename "$(grep -l -F -- "$locked_token" "$CACHE_DIR"/*.json)" .json)
flock "$CACHE_DIR/$key.lock" sleep 30 &
holder=$!
sleep 0.2
age_cached_token "$locked_token" 100
start=$(date +%s)
run_kb get --profile locked
elapsed=$(($(date +%s) - start))
expect_rc 0 "lock held, token still valid"
expect_eq "$OUT" "Authorization: Bearer $locked_token" "the cached token stands in"
expect_match "$ERR" "^keybearer: waiting for another keybearer refreshing profile locked \(at most 5 s more\)
keybearer: warning: another keybearer has been refreshing profile locked for more than 6 s" "lock warning"
[ "$elapsed" -ge 5 ] && [ "$elapsed" -le 9 ] || fail "lock wait took ${elapsed}s"
rm "$CACHE_DIR/$key.json"
run_kb get --profile locked
kill "$holder"
wait "$holder" 2>/dev/null || true
expect_rc 75 "lock held, nothing cached"
expect_eq "$OUT" "" "stdout after the lock wait"
expect_eq "$ERR" "keybearer: waiting for another keybearer refreshing profile locked (at most 5 s more)
keybearer: another keybearer has been refreshing profile locked for more than 6 s — try again; if it persists, look for a stuck keybearer-fetch" "lock message"

echo "# without XDG_RUNTIME_DIR the cache lives in XDG_CACHE_HOME"
(
	unset XDG_RUNTIME_DIR
	run_kb get --profile main
	expect_rc 0 "get without XDG_RUNTIME_DIR"
	expect_eq "$(file_mode "$XDG_CACHE_HOME/keybearer")" 700 "cache home mode"
	ls "$XDG_CACHE_HOME"/keybearer/*.json >/dev/null || fail "no cache file in XDG_CACHE_HOME"
)
echo "cache: all passed"

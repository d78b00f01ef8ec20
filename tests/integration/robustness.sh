#!/usr/bin/env bash
# Faults on our side and the endpoint's: an outage met by 100 callers, kill -9 at any moment,
# a full disk, hostile files. Each must end bounded, with the cache old or new, never torn.
. "$(dirname "$0")/lib.sh"

start_server

echo "# 100 parallel cold gets while the endpoint answers 503: a handful of requests in all"
write_profile outage down "timeout = 3"
start=$(date +%s)
pids=()
for i in $(seq 100); do
	"$KB" get --profile outage >"$WORK/outage.$i" 2>"$WORK/outage-err.$i" </dev/null &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" && fail "a get succeeded during the outage" || failed=$((failed + 1))
done
elapsed=$(($(date +%s) - start))
made=$(requests down)
echo "    100 callers, $made token requests, ${elapsed}s"
[ "$made" -ge 2 ] && [ "$made" -le 10 ] || fail "$made token requests during the outage"
[ "$elapsed" -le 15 ] || fail "the outage took ${elapsed}s to report"
expect_eq "$(cat "$WORK"/outage.* | wc -c)" 0 "stdout of the callers"
expect_eq "$(grep -L '^keybearer: ' "$WORK"/outage-err.* | wc -l)" 0 "callers without a message"
expect_eq "$(grep -l 'keybearer asks again in' "$WORK"/outage-err.* | wc -l)" 99 "callers told to wait out the back-off"
run_kb get --profile outage
expect_rc 75 "a get inside the back-off"
expect_eq "$(requests down)" "$made" "no request inside the back-off"

echo "# kill -9 of keybearer-fetch at any moment: the old token or the new one, never a torn file"
write_profile crash ok-slow "token_url = $BASE/ok-slow/token?crash"
run_kb get --profile crash
crash_file=$(grep -l -F -- "${OUT#Authorization: Bearer }" "$CACHE_DIR"/*.json)
for i in $(seq 20); do
	age_cached_token "$(jq -r .access_token "$crash_file")" 100 # due for a refresh it waits for
	"$KB" get --profile crash >/dev/null 2>&1 &
	getter=$!
	sleep "0.$((RANDOM % 7))$((RANDOM % 10))"
	pkill -KILL -f "keybearer-fetch mint --profile crash" || true
	wait "$getter" || true
	jq -e '.format == "keybearer-cache/1" and (.access_token | length > 20)' "$crash_file" >/dev/null ||
		fail "round $i: the cache file is torn: $(head -c 200 "$crash_file")"
done
start=$(date +%s%N)
run_kb get --profile crash --min-ttl 3590
expect_rc 0 "a get after 20 killed refreshes"
[ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ] || fail "a killed refresh left the lock held"
[ -z "$(find "$CACHE_DIR" -name '.*.tmp')" ] || fail "temp files left behind: $(ls -a "$CACHE_DIR")"

echo "# a full disk: the write fails, the old cache stays, the new token is still handed out"
write_profile full ok "token_url = $BASE/ok/token?full"
run_kb get --profile full
old=$OUT
full_file=$(grep -l -F -- "${old#Authorization: Bearer }" "$CACHE_DIR"/*.json)
age_cached_token "${old#Authorization: Bearer }" 100
before=$(sha256sum <"$full_file")
# (a sanitizer build wants its runtime first; the shim only wraps write)
ASAN_OPTIONS="verify_asan_link_order=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	LD_PRELOAD="$KB_ENOSPC_LIB" ENOSPC_MATCH=".json." run_kb get --profile full
expect_rc 0 "get with the disk full"
[ "$OUT" != "$old" ] || fail "the old token was handed out instead of the new one"
expect_match "$ERR" "^keybearer: warning: cannot write the token cache in $CACHE_DIR: No space left on device — check free space$" "full-disk warning"
expect_eq "$(sha256sum <"$full_file")" "$before" "the old cache file"
[ -z "$(find "$CACHE_DIR" -name '.*.tmp')" ] || fail "a temp file left by the full disk"

echo "# hostile files: refused, nothing followed, nothing overwritten"
write_profile huge ok "token_url = $BASE/ok/token?hugefile"
run_kb get --profile huge
huge_file=$(grep -l -F -- "${OUT#Authorization: Bearer }" "$CACHE_DIR"/*.json)
truncate -s 100M "$huge_file"
n=$(requests ok)
run_kb get --profile huge
expect_rc 74 "a 100 MB cache file"
expect_match "$ERR" "^keybearer: cache file [0-9a-f]{32}\.json is too large \(104857600 bytes, at most 65536\)" "huge file message"
expect_eq "$(stat -c %s "$huge_file")" 104857600 "the huge file, untouched"
expect_eq "$(requests ok)" "$n" "no request for a refused cache"
rm "$huge_file"
echo "precious" >"$WORK/precious"
ln -s "$WORK/precious" "$huge_file"
run_kb get --profile huge
expect_rc 74 "a cache file that is a symlink"
expect_eq "$(cat "$WORK/precious")" "precious" "the symlink's target"
rm "$huge_file"
echo "robustness: all passed"

#!/usr/bin/env bash
# The real git and git-lfs, configured with the README's git block as written, push a
# repository with an LFS object to a server on 127.0.0.1 (git http-backend and a Git LFS
# API that answer only a valid token) and clone it back, byte for byte.
. "$(dirname "$0")/loopback-only.sh"

if ! command -v git >/dev/null; then
	echo "skipped: git not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi
if ! git lfs version >/dev/null 2>&1; then
	echo "skipped: git-lfs not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi

. "$(dirname "$0")/lib.sh"
echo "# $(git --version); $(git lfs version)"
# Nothing from the machine's git setup: its system config names a credential helper of its
# own, and GIT_SSL_CAINFO would beat the http.sslCAInfo below.
unset GIT_SSL_CAINFO GIT_ASKPASS SSH_ASKPASS GIT_CONFIG_GLOBAL GIT_DIR GIT_WORK_TREE
export GIT_CONFIG_NOSYSTEM=1 GIT_TERMINAL_PROMPT=0 PATH="$KB_BIN:$PATH"
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t \
	GIT_COMMITTER_EMAIL=t@example.com

start_server
write_profile main ok "urls = $BASE/git/"
remote="$BASE/git/repo.git"

echo "# the README's git block, word for word"
readme_block=$(awk '/^\*\*git\*\*/ { found = 1; next }
	found && /^```sh$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside' "$KB_SOURCE/README.md")
expect_match "$readme_block" 'credential.helper keybearer' "the README's git block"
bash -euc "$readme_block"
expect_eq "$(git config --get-all credential.helper)" keybearer "git's credential helpers"
git config --global http.sslCAInfo "$CA"
git lfs install --skip-repo >/dev/null

# output_of FILE: what git or git-lfs wrote there, without the progress meters git-lfs
# shows only when a transfer takes a while.
output_of() {
	tr '\r' '\n' <"$1" | grep -Ev '^(Uploading|Downloading) LFS objects: |^Filtering content: ' || true
}

# requests_seen AREA: the requests of AREA since the last reset, a line each: method, path,
# what the Authorization header held (none, valid, invalid) and the status.
requests_seen() {
	server GET "/_requests/$1" | jq -r '.[] | "\(.method) \(.path) \(.auth) \(.status)"'
}

echo "# the LFS API and the git repository answer nothing without a valid token"
mkdir -p "$WORK/git"
git init -q --bare -b main "$WORK/git/repo.git"
oid_zero=$(printf '%064d' 0)
# method | path | body
refused=(
	"POST|/git/repo.git/info/lfs/objects/batch|{\"operation\":\"download\",\"objects\":[{\"oid\":\"$oid_zero\",\"size\":1}]}"
	"POST|/git/repo.git/info/lfs/locks/verify|{}"
	"PUT|/git/repo.git/info/lfs/objects/$oid_zero|x"
	"GET|/git/repo.git/info/lfs/objects/$oid_zero|"
	"POST|/git/repo.git/info/lfs/objects/$oid_zero/verify|{\"oid\":\"$oid_zero\",\"size\":1}"
	"GET|/git/repo.git/info/refs?service=git-upload-pack|"
	"GET|/git/repo.git/info/refs?service=git-receive-pack|"
)
for row in "${refused[@]}"; do
	IFS='|' read -r method path body <<<"$row"
	for auth in "" "Basic $(printf '%s:not-a-token' "$CLIENT_ID" | base64 -w0)" "Bearer not-a-token"; do
		code=$(curl -sS --cacert "$CA" -X "$method" ${auth:+-H "Authorization: $auth"} \
			${body:+--data-binary "$body"} -o /dev/null -w '%{http_code}' "$BASE$path")
		expect_eq "$code" 401 "$method $path with [${auth:-no Authorization}]"
	done
done
server POST /_reset >/dev/null

echo "# push: a 1 MiB LFS object, over HTTPS, the token from keybearer"
git init -q -b main "$WORK/src"
cd "$WORK/src"
git lfs track '*.bin' >/dev/null
head -c 1048576 /dev/urandom >data.bin
sha=$(sha256sum data.bin | cut -d' ' -f1)
git add .gitattributes data.bin
git commit -q -m "an LFS object"
expect_eq "$(git lfs ls-files --long)" "$sha * data.bin" "the LFS object in the commit"
git remote add origin "$remote"
git push -q origin main >"$WORK/push.out" 2>&1 || fail "git push: $(cat "$WORK/push.out")"
expect_eq "$(output_of "$WORK/push.out")" "Locking support detected on remote \"origin\". Consider enabling it with:
  \$ git config lfs.$remote/info/lfs.locksverify true" "git push's output"
stored="$WORK/git/repo.git/lfs/objects/$sha"
[ -f "$stored" ] || fail "the server did not store the LFS object $sha"
cmp -s data.bin "$stored" || fail "the stored LFS object differs from the pushed file"
expect_eq "$(requests ok)" 1 "token requests for the push"
# Every request carried the token except a client's first try of a URL: git, and git-lfs
# for each transfer URL the batch API hands it without a header, try without one first, and
# ask git's credential helper only after the 401.
lfs="POST /git/repo.git/info/lfs"
object="/git/repo.git/info/lfs/objects/$sha"
expect_eq "$(requests_seen lfs)" "$lfs/locks/verify none 401
$lfs/locks/verify valid 200
$lfs/objects/batch valid 200
PUT $object none 401
PUT $object valid 200
POST $object/verify none 401
POST $object/verify valid 200" "the LFS requests of the push"
expect_eq "$(requests_seen git)" "GET /git/repo.git/info/refs?service=git-receive-pack none 401
GET /git/repo.git/info/refs?service=git-receive-pack valid 200
GET /git/repo.git/info/refs?service=git-upload-pack none 401
GET /git/repo.git/info/refs?service=git-upload-pack valid 200
POST /git/repo.git/git-upload-pack valid 200
POST /git/repo.git/git-receive-pack valid 200" "the git requests of the push"
server POST /_reset >/dev/null

echo "# clone: the object comes back byte for byte"
cd "$WORK"
git clone -q "$remote" clone >"$WORK/clone.out" 2>&1 || fail "git clone: $(cat "$WORK/clone.out")"
expect_eq "$(output_of "$WORK/clone.out")" "" "git clone's output"
cd "$WORK/clone"
# (the smudge filter fetched the object during the checkout: git lfs pull finds it there)
git lfs pull >"$WORK/pull.out" 2>&1 || fail "git lfs pull: $(cat "$WORK/pull.out")"
expect_eq "$(output_of "$WORK/pull.out")" "" "git lfs pull's output"
expect_eq "$(sha256sum data.bin | cut -d' ' -f1)" "$sha" "the cloned data.bin"
cmp -s data.bin "$WORK/src/data.bin" || fail "the cloned data.bin differs from the pushed one"
expect_eq "$(git lfs ls-files --long)" "$sha * data.bin" "the LFS object in the clone"
expect_eq "$(requests ok)" 0 "token requests for the clone (the push's token is cached)"
expect_eq "$(requests_seen lfs)" "$lfs/objects/batch none 401
$lfs/objects/batch valid 200
GET $object none 401
GET $object valid 200" "the LFS requests of the clone"
expect_eq "$(requests_seen git)" "GET /git/repo.git/info/refs?service=git-upload-pack none 401
GET /git/repo.git/info/refs?service=git-upload-pack valid 200
POST /git/repo.git/git-upload-pack valid 200
POST /git/repo.git/git-upload-pack valid 200" "the git requests of the clone"

echo "# a revoked token: git-lfs erases it through keybearer, and the next one works"
server POST /_reset >/dev/null
server POST /_revoke "$("$KB" get --profile main --format token)"
rm -rf .git/lfs/objects data.bin
git lfs pull >"$WORK/pull.out" 2>&1 || fail "git lfs pull after a revocation: $(cat "$WORK/pull.out")"
expect_eq "$(output_of "$WORK/pull.out")" "" "git lfs pull's output after a revocation"
expect_eq "$(sha256sum data.bin | cut -d' ' -f1)" "$sha" "data.bin pulled after a revocation"
expect_eq "$(requests ok)" 1 "token requests after a revocation"
expect_eq "$(requests_seen lfs)" "$lfs/objects/batch invalid 401
$lfs/objects/batch valid 200
GET $object valid 200" "the LFS requests after a revocation"

echo "# an LFS endpoint no profile claims gets no token"
server POST /_reset >/dev/null
head -c 1000 /dev/urandom >two.bin
git add two.bin
git commit -q -m "a second LFS object"
git config lfs.url "https://localhost:$PORT/git/repo.git/info/lfs"
set +e
git lfs push origin main >"$WORK/push.out" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "git lfs push to an unclaimed LFS endpoint succeeded"
expect_match "$(cat "$WORK/push.out")" "Git credentials for https://localhost:$PORT/git/repo.git/info/lfs not found" "git lfs push's message"
expect_eq "$(requests ok)" 0 "token requests for an unclaimed LFS endpoint"
# (git-lfs may give up before its batch request: which requests it tries varies)
seen=$(requests_seen lfs)
expect_match "$seen" "^$lfs/" "the LFS requests to an unclaimed endpoint"
expect_eq "$(grep -v ' none 401$' <<<"$seen" || true)" "" "LFS requests to an unclaimed endpoint with a token, or served"
[ ! -f "$WORK/git/repo.git/lfs/objects/$(sha256sum two.bin | cut -d' ' -f1)" ] ||
	fail "the server stored an object pushed without a token"

echo "# transfer URLs on a host no profile claims get no token"
# (the server hands out the transfer URLs of elsewhere*.git on localhost, which the profile
# does not claim)
git config --unset lfs.url
server POST /_reset >/dev/null
git init -q --bare -b main "$WORK/git/elsewhere.git"
git remote add elsewhere "$BASE/git/elsewhere.git"
# (git-lfs retries a failed transfer 8 times, with backoff, by default: 37 s here)
git config lfs.transfer.maxretries 1
set +e
git push -q elsewhere main >"$WORK/push.out" 2>&1
rc=$?
set -e
[ "$rc" != 0 ] || fail "git push with transfer URLs on an unclaimed host succeeded"
expect_match "$(cat "$WORK/push.out")" "^LFS: Git credentials for https://localhost:$PORT/git/elsewhere.git/info/lfs/objects/$sha not found\.$" "git push's message"
expect_eq "$(requests ok)" 0 "token requests for transfer URLs on an unclaimed host"
to_localhost=$(server GET /_requests/lfs | jq -r '.[] | select(.host == "localhost:'"$PORT"'") | "\(.method) \(.auth) \(.status)"' | sort -u)
expect_eq "$to_localhost" "PUT none 401" "the requests to the unclaimed host"
[ -z "$(ls "$WORK/git/elsewhere.git/lfs/objects" 2>/dev/null)" ] || fail "an object was stored without a token"
git --git-dir="$WORK/git/elsewhere.git" rev-parse -q --verify main >/dev/null &&
	fail "the push updated the branch although its LFS objects were not uploaded"

echo "realtools-gitlfs: all passed"

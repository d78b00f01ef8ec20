#!/usr/bin/env bash
# The real pnpm (pinned in tests/interop/package.json), set up with the README's pnpm
# lines, installs a package from an npm registry on 127.0.0.1 that answers only a valid
# token, through the tokenHelper link keybearer pnpm --link makes; another registry gets
# no token, and a second install mints none.
. "$(dirname "$0")/loopback-only.sh"

pnpm=$KB_SOURCE/tests/interop/node_modules/.bin/pnpm
[ -x "$pnpm" ] || pnpm=$(command -v pnpm || true)
if [ -z "$pnpm" ] || ! command -v node >/dev/null; then
	echo "skipped: pnpm not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi
version=$("$pnpm" --version 2>/dev/null) || {
	echo "skipped: pnpm not installed ($pnpm --version fails)"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
}

. "$(dirname "$0")/lib.sh"
echo "# pnpm $version, node $(node --version)"
unset $(env | sed -n 's/^\([Nn][Pp][Mm]_[Cc][Oo][Nn][Ff][Ii][Gg]_[A-Za-z_]*\)=.*/\1/p') 2>/dev/null || true
unset $(env | sed -n 's/^\(PNPM_[A-Z_]*\)=.*/\1/p') 2>/dev/null || true
unset NODE_EXTRA_CA_CERTS NODE_OPTIONS
export CI=true # no prompts, no progress display

# requests_seen AREA: a line per request the server saw: method, path, auth, status.
requests_seen() {
	server GET "/_requests/$1" | jq -r '.[] | "\(.method) \(.path) \(.auth) \(.status)"'
}

# publish NAME VERSION: a package in the registry of the server last started, as npm
# itself packs it.
publish() {
	local name=$1 version=$2 src="$WORK/src/$1" tarball integrity shasum
	mkdir -p "$src" "$WORK/npm/$name/-"
	printf '{"name":"%s","version":"%s","main":"index.js"}\n' "$name" "$version" >"$src/package.json"
	echo "module.exports = 42;" >"$src/index.js"
	tarball=$(cd "$src" && npm pack --silent --pack-destination "$WORK/npm/$name/-")
	integrity="sha512-$(openssl dgst -sha512 -binary "$WORK/npm/$name/-/$tarball" | base64 -w0)"
	shasum=$(sha1sum "$WORK/npm/$name/-/$tarball" | cut -d' ' -f1)
	jq -n --arg name "$name" --arg v "$version" --arg url "$BASE/npm/$name/-/$tarball" \
		--arg integrity "$integrity" --arg shasum "$shasum" \
		'{name: $name, "dist-tags": {latest: $v}, versions: {($v): {name: $name,
		 version: $v, main: "index.js", dist: {tarball: $url, integrity: $integrity,
		 shasum: $shasum}}}}' >"$WORK/npm/$name/packument.json"
}

# run_pnpm DIR ARGS...: pnpm in project DIR; sets RC, OUT and ERR.
run_pnpm() {
	local dir=$1
	shift
	set +e
	(cd "$dir" && "$pnpm" "$@") </dev/null >"$WORK/out" 2>"$WORK/err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	expect_no_secret "$OUT$ERR" "the output of pnpm $*"
}

# project DIR DEPENDENCY VERSION: a project that depends on one package.
project() {
	mkdir -p "$1"
	printf '{"name":"app","version":"1.0.0","private":true,"dependencies":{"%s":"%s"}}\n' \
		"$2" "$3" >"$1/package.json"
}

# forget_downloads: pnpm's store and cache, where pnpm 10 takes them from ~/.npmrc and
# pnpm 12 from its own defaults, so the next install asks the registry again.
forget_downloads() {
	rm -rf "$WORK/store" "$WORK/pnpm-cache" "$HOME/.local/share/pnpm" "$XDG_CACHE_HOME/pnpm"
}

start_server
registry="$BASE/npm/"
write_profile npm ok "urls = $registry"
publish kbtiny 1.0.0

echo "# the registry answers nothing without a valid token"
for path in kbtiny kbtiny/-/kbtiny-1.0.0.tgz; do
	for auth in "" "Authorization: Bearer not-a-token"; do
		code=$(curl -sS --cacert "$CA" ${auth:+-H "$auth"} -o /dev/null -w '%{http_code}' \
			"$BASE/npm/$path")
		expect_eq "$code" 401 "GET /npm/$path with [${auth:-no Authorization}]"
	done
done

echo "# another registry, on a server of its own, that no tokenHelper line names"
main_base=$BASE main_port=$PORT
mv "$WORK/npm" "$WORK/npm-main"
start_server
other_base=$BASE
publish kbother 1.0.0
mv "$WORK/npm" "$WORK/npm-other" && mv "$WORK/npm-main" "$WORK/npm"
ln -s "$WORK/npm-other/kbother" "$WORK/npm/kbother" # (each server serves $WORK/npm)
BASE=$main_base PORT=$main_port

echo "# the README's pnpm lines: the link, and its line in ~/.npmrc"
mkdir -p "$HOME/.local/bin"
chmod 700 "$HOME/.local/bin"
readme_block=$(awk '/^\*\*pnpm\*\*/ { found = 1; next }
	found && /^```sh$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside' "$KB_SOURCE/README.md")
expect_match "$readme_block" 'keybearer pnpm --link' "the README's pnpm block"
# (the README's profile is called npm, as here)
PATH="$KB_BIN:$PATH" bash -euc "$readme_block"
helper="$HOME/.local/bin/keybearer-pnpm-npm"
[ -L "$helper" ] || fail "keybearer pnpm --link made no link $helper"
expect_eq "$(readlink "$helper")" "$(readlink -f "$KB")" "the link's target"
expect_eq "$(grep tokenHelper "$HOME/.npmrc")" "//127.0.0.1:$PORT/npm/:tokenHelper=$helper" \
	"the line keybearer pnpm --link wrote"
expect_eq "$(requests ok)" 0 "token requests for keybearer pnpm --link"
{
	printf 'registry=%s\n' "$registry"
	printf '@kbo:registry=%s/npm/\n' "$other_base"
	printf 'cafile=%s\n' "$CA"
	printf 'store-dir=%s\n' "$WORK/store"
	printf 'cache-dir=%s\n' "$WORK/pnpm-cache"
} >>"$HOME/.npmrc"
server POST /_reset >/dev/null

echo "# pnpm install from the registry, the token from the link"
project "$WORK/app" kbtiny 1.0.0
run_pnpm "$WORK/app" install
expect_rc 0 "pnpm install"
expect_eq "$(jq -r .version "$WORK/app/node_modules/kbtiny/package.json")" 1.0.0 "the installed kbtiny"
expect_eq "$(cd "$WORK/app" && node -p 'require("kbtiny")')" 42 "kbtiny, required"
expect_eq "$(requests ok)" 1 "token requests for pnpm install"
# (pnpm 12 reads the packument twice: what counts is that every request had the token)
expect_eq "$(requests_seen npm | sort -u)" "GET /npm/kbtiny valid 200
GET /npm/kbtiny/-/kbtiny-1.0.0.tgz valid 200" "the registry's requests"

echo "# a second install, from nothing: the registry again, the cached token"
server POST /_reset >/dev/null
forget_downloads
project "$WORK/app2" kbtiny 1.0.0
run_pnpm "$WORK/app2" install
expect_rc 0 "the second pnpm install"
expect_eq "$(jq -r .version "$WORK/app2/node_modules/kbtiny/package.json")" 1.0.0 "the installed kbtiny"
expect_eq "$(requests ok)" 0 "token requests for the second install"
# (pnpm 12 keeps the tarball in a store of its own: the packument is asked for again)
seen=$(requests_seen npm)
expect_match "$seen" "^GET /npm/kbtiny valid 200$" "the registry's requests, second install"
expect_eq "$(grep -vc ' valid 200$' <<<"$seen")" 0 "requests without a valid token, second install: $seen"

echo "# a registry no tokenHelper line names gets no token"
project "$WORK/app-other" @kbo/kbother 1.0.0
run_pnpm "$WORK/app-other" install
[ "$RC" -ne 0 ] || fail "pnpm install from the other registry succeeded without a token"
BASE=$other_base
expect_eq "$(requests_seen npm | sort -u)" "GET /npm/@kbo%2Fkbother none 401" "the other registry's requests"
BASE=$main_base
expect_eq "$(requests ok)" 0 "token requests for the other registry"

echo "# a helper that fails: pnpm stops, with its own message, and no token goes out"
server POST /_reset >/dev/null
server POST /_override/ok invalid-client >/dev/null
"$KB" invalidate --profile npm
forget_downloads
project "$WORK/app3" kbtiny 1.0.0
run_pnpm "$WORK/app3" install
if [ "${version%%.*}" -lt 12 ]; then
	[ "$RC" -ne 0 ] || fail "pnpm install went on after its token helper failed: $OUT$ERR"
	expect_match "$OUT$ERR" "keybearer-pnpm-npm" "pnpm's message for a failed helper"
fi
# (pnpm 12 goes on without a token, and the registry refuses it)
expect_eq "$(requests_seen npm | grep -c ' valid ')" 0 "registry requests with a token after a failed helper"
server POST /_override/ok "" >/dev/null
# by hand, the link says why
set +e
"$helper" >"$WORK/out" 2>"$WORK/err"
RC=$?
set -e
expect_eq "$(cat "$WORK/out")" "" "the failed helper's stdout"
expect_match "$(cat "$WORK/err")" "^keybearer: .* — " "the failed helper's stderr"
[ "$RC" -ne 0 ] || fail "the failed helper exited 0"

echo "realtools-pnpm: all passed"

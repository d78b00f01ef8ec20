#!/usr/bin/env bash
# The real cargo, configured with the README's cargo block as written, fetches a crate from
# a sparse registry on 127.0.0.1 that answers config.json, the index and the download only
# to a valid token; and cargo login/logout point the user to keybearer's own commands.
. "$(dirname "$0")/loopback-only.sh"

# Found in the caller's HOME, before lib.sh gives the test its own: rustup installs cargo
# in ~/.cargo/bin, and its proxies find their toolchains in ~/.rustup.
cargo=$(command -v cargo || true)
[ -n "$cargo" ] || [ ! -x "${HOME:-/nonexistent}/.cargo/bin/cargo" ] || cargo=$HOME/.cargo/bin/cargo
rustup_home=${RUSTUP_HOME:-${HOME:-/nonexistent}/.rustup}
if [ -z "$cargo" ]; then
	echo "skipped: cargo not installed"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi
version=$("$cargo" --version) || {
	echo "skipped: cargo not installed ($cargo --version fails)"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
}
# credential providers and sparse registries are stable since cargo 1.74
if ! printf '%s\n' "$version" | awk '{ split($2, v, "."); exit !(v[1] > 1 || v[2] >= 74) }'; then
	echo "skipped: cargo not installed in a version with credential providers (1.74+): $version"
	exit 99 # SKIP_RETURN_CODE: ctest says Skipped
fi

. "$(dirname "$0")/lib.sh"
echo "# $version"
[ ! -d "$rustup_home" ] || export RUSTUP_HOME="$rustup_home"
unset CARGO_REGISTRY_TOKEN CARGO_REGISTRIES_KB_TOKEN CARGO_HTTP_CAINFO CARGO_NET_OFFLINE
export CARGO_HOME="$HOME/.cargo" CARGO_TERM_COLOR=never CARGO_TERM_PROGRESS_WHEN=never
export PATH="$KB_BIN:$PATH"
mkdir -p "$CARGO_HOME"

start_server
index="$BASE/cargo/index/"
# The README: the profile's urls cover the index, and the api and dl URLs of config.json.
write_profile kb ok "urls = $index $BASE/cargo/dl/ $BASE/cargo/api/"

# run_cargo ARGS...: runs cargo in the project $WORK/${PROJECT:-app}, stdin from
# $CARGO_STDIN (default empty); sets RC, OUT and ERR.
run_cargo() {
	set +e
	(cd "$WORK/${PROJECT:-app}" && "$cargo" "$@") <"${CARGO_STDIN:-/dev/null}" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
	expect_no_secret "$OUT$ERR" "the output of cargo $*"
}

echo "# the README's cargo block, word for word, and the registry it is for"
readme_block=$(awk '/^\*\*cargo\*\*/ { found = 1; next }
	found && /^```toml$/ { inside = 1; next }
	inside && /^```$/ { exit }
	inside' "$KB_SOURCE/README.md")
expect_match "$readme_block" 'cargo-credential-keybearer' "the README's cargo block"
{
	printf '%s\n\n' "$readme_block"
	printf '[registries.kb]\nindex = "sparse+%s"\n\n' "$index"
	printf '[http]\ncainfo = "%s"\n' "$CA"
} >"$CARGO_HOME/config.toml"

echo "# a crate, packaged by cargo itself, published in the registry"
mkdir -p "$WORK/kbtiny/src" "$WORK/app/src"
cat >"$WORK/kbtiny/Cargo.toml" <<'EOF'
[package]
name = "kbtiny"
version = "0.1.0"
edition = "2021"
description = "a crate for keybearer's cargo test"
license = "MIT"
EOF
echo 'pub fn answer() -> u32 { 42 }' >"$WORK/kbtiny/src/lib.rs"
(cd "$WORK/kbtiny" && "$cargo" package --quiet --no-verify --allow-dirty) ||
	fail "cargo package of the test crate"
crate="$WORK/kbtiny/target/package/kbtiny-0.1.0.crate"
cksum=$(sha256sum "$crate" | cut -d' ' -f1)
mkdir -p "$WORK/cargo/index/kb/ti" "$WORK/cargo/dl/kbtiny/0.1.0"
cp "$crate" "$WORK/cargo/dl/kbtiny/0.1.0/download"
printf '{"dl":"%s/cargo/dl","api":"%s/cargo/api","auth-required":true}\n' "$BASE" "$BASE" \
	>"$WORK/cargo/index/config.json"
printf '{"name":"kbtiny","vers":"0.1.0","deps":[],"cksum":"%s","features":{},"yanked":false}\n' \
	"$cksum" >"$WORK/cargo/index/kb/ti/kbtiny"

echo "# the registry answers nothing without a valid token"
registry_paths=(index/config.json index/kb/ti/kbtiny dl/kbtiny/0.1.0/download)
for path in "${registry_paths[@]}"; do
	for auth in "" "Authorization: Bearer not-a-token" "Authorization: not-a-token"; do
		code=$(curl -sS --cacert "$CA" ${auth:+-H "$auth"} -o /dev/null -w '%{http_code}' \
			"$BASE/cargo/$path")
		expect_eq "$code" 401 "GET /cargo/$path with [${auth:-no Authorization}]"
	done
done
server POST /_reset >/dev/null

echo "# cargo fetch: a project whose only dependency comes from the registry"
cat >"$WORK/app/Cargo.toml" <<'EOF'
[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
kbtiny = { version = "0.1", registry = "kb" }
EOF
echo 'fn main() { println!("{}", kbtiny::answer()); }' >"$WORK/app/src/main.rs"
run_cargo fetch
expect_rc 0 "cargo fetch"
expect_eq "$(requests ok)" 1 "token requests for the whole fetch"
fetched=$(find "$CARGO_HOME/registry/cache" -name kbtiny-0.1.0.crate)
[ -n "$fetched" ] || fail "cargo fetch left no kbtiny-0.1.0.crate in $CARGO_HOME/registry/cache"
expect_eq "$(sha256sum "$fetched" | cut -d' ' -f1)" "$cksum" "the fetched crate"
expect_match "$(cat "$WORK/app/Cargo.lock")" 'name = "kbtiny"' "Cargo.lock"
# Every request: cargo's first look at config.json carries no token (that is how cargo
# learns that the registry wants one); all else carried the valid token, and got its file.
expect_eq "$(server GET /_requests/cargo | jq -r '.[] | "\(.method) \(.path) \(.auth) \(.status)"')" \
	"GET /cargo/index/config.json none 401
GET /cargo/index/config.json valid 200
GET /cargo/index/kb/ti/kbtiny valid 200
GET /cargo/dl/kbtiny/0.1.0/download valid 200" "the registry's requests"

echo "# a registry no profile claims gets no token"
# (the same registry, at a path outside the profile's urls)
cp -r "$WORK/cargo/index" "$WORK/cargo/other"
printf '[registries.other]\nindex = "sparse+%s/cargo/other/"\n\n' "$BASE" >>"$CARGO_HOME/config.toml"
mkdir -p "$WORK/app-other/src"
sed 's/registry = "kb"/registry = "other"/' "$WORK/app/Cargo.toml" >"$WORK/app-other/Cargo.toml"
cp "$WORK/app/src/main.rs" "$WORK/app-other/src/"
server POST /_reset >/dev/null
PROJECT=app-other run_cargo fetch
expect_rc 101 "cargo fetch from an unclaimed registry"
expect_eq "$ERR" "    Updating \`other\` index
error: failed to get \`kbtiny\` as a dependency of package \`app v0.1.0 ($WORK/app-other)\`

Caused by:
  no credential providers could handle the request" "cargo's message for an unclaimed registry"
expect_eq "$(requests ok)" 0 "token requests for an unclaimed registry"
expect_eq "$(server GET /_requests/cargo | jq -r '.[] | "\(.method) \(.path) \(.auth) \(.status)"')" \
	"GET /cargo/other/config.json none 401" "the unclaimed registry's requests"

echo "# cargo login and logout: keybearer's own commands, named to the user"
# Two more profiles keep their secret in the keyring (the default), of which this test has
# none: kr is the same client as kb (the same token endpoint and client id), so kb's cached
# token serves it; kn is a client of its own, with no token yet.
for name in kr kn; do
	cp -r "$WORK/cargo/index" "$WORK/cargo/$name"
	printf '[registries.%s]\nindex = "sparse+%s/cargo/%s/"\n\n' "$name" "$BASE" "$name" \
		>>"$CARGO_HOME/config.toml"
done
write_profile kr ok "urls = $BASE/cargo/kr/" "secret = "
write_profile kn ok "token_url = $BASE/ok/token?kn" "urls = $BASE/cargo/kn/" "secret = "
caused_by() { # OPERATION MESSAGE: what cargo prints for a provider's Err "other"
	printf 'error: credential provider `cargo-credential-keybearer` failed action `%s`\n\nCaused by:\n  %s' "$1" "$2"
}
mints="keybearer mints its own tokens for this registry, with profile"
echo "not-a-registry-token" >"$WORK/a-token"
# registry | cargo's arguments | its stdin | exit | cargo's stderr
account_cases=(
	"kb|login|/dev/null|101|$(caused_by login "$mints kb's client secret from file:$WORK/secret — cargo login has nothing to store for it")"
	"kb|login|$WORK/a-token|101|$(caused_by login "$mints kb's client secret from file:$WORK/secret — cargo login has nothing to store for it")"
	"kb|logout|/dev/null|101|$(caused_by logout "$mints kb's client secret from file:$WORK/secret — instead of cargo logout, run keybearer logout --profile kb to drop the cached token")"
	"kr|login|/dev/null|101|    Updating \`kr\` index
$(caused_by login "$mints kr's client secret — instead of cargo login, run keybearer login --profile kr")"
	"kr|logout|/dev/null|101|$(caused_by logout "$mints kr's client secret — instead of cargo logout, run keybearer logout --profile kr: it removes the secret from the keyring and drops the cached token")"
	# cargo login reads a registry's config.json first, with a token if it needs one
	"kn|login|/dev/null|101|    Updating \`kn\` index
keybearer: no Secret Service available for profile kn (no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set) — for headless use, set secret = file:PATH, env:NAME or command:CMD in [profile kn], or use the env profile (KEYBEARER_TOKEN_URL, KEYBEARER_CLIENT_ID, KEYBEARER_CLIENT_SECRET)
error: credential provider \`cargo-credential-keybearer\` failed action \`get\`

Caused by:
  keybearer could not get a token: see its message above"
	"kn|logout|/dev/null|101|$(caused_by logout "$mints kn's client secret — instead of cargo logout, run keybearer logout --profile kn: it removes the secret from the keyring and drops the cached token")"
	# another provider's registry: keybearer answers url-not-supported, and cargo has no other
	"other|login|/dev/null|101|    Updating \`other\` index
error: no credential providers could handle the request"
	"other|logout|/dev/null|101|error: no credential providers could handle the request"
)
server POST /_reset >/dev/null
for row in "${account_cases[@]}"; do
	IFS='|' read -r registry args stdin rc expected <<<"$row"
	expected=${row#*|*|*|*|}
	args="$args --registry $registry"
	# shellcheck disable=SC2086 # the arguments are words
	CARGO_STDIN=$stdin run_cargo $args
	expect_rc "$rc" "cargo $args"
	expect_eq "$ERR" "$expected" "cargo $args"
	expect_eq "$OUT" "" "cargo $args: stdout"
	expect_no_match "$ERR" "not-a-registry-token" "cargo $args"
done
expect_eq "$(requests ok)" 0 "token requests for login and logout"
# (cargo login first reads the config.json of an index it has not seen yet, which needs a
# token: kr's is kb's; kn has none; no profile claims the last registry)
expect_eq "$(server GET /_requests/cargo | jq -r '.[] | "\(.path) \(.auth) \(.status)"')" \
	"/cargo/kr/config.json none 401
/cargo/kr/config.json valid 200
/cargo/kn/config.json none 401
/cargo/other/config.json none 401" "registry requests for login and logout"

echo "realtools-cargo: all passed"

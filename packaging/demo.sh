#!/usr/bin/env bash
# The main job end to end, with no account anywhere: build and install keybearer into
# ./build/demo, start a local OAuth 2.0 token server (HTTPS, a CA made on the spot) with a
# protected API, keep the client secret in a private file, and let curl call the API with
# the Bearer header keybearer hands it: minted on the first call, cached for the next ones.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

bash packaging/deps.sh --demo
echo "== building keybearer"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
cmake --install build --prefix "$root/build/demo" >/dev/null
export PATH="$root/build/demo/bin:$PATH"

demo=$(mktemp -d "${TMPDIR:-/tmp}/keybearer-demo.XXXXXX")
server_pid=
cleanup() {
	[ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
	rm -rf "$demo"
}
trap cleanup EXIT
# A private environment, so the demo neither reads nor writes your own keybearer setup.
export HOME="$demo/home" XDG_CONFIG_HOME="$demo/home/.config" XDG_RUNTIME_DIR="$demo/run"
mkdir -p "$XDG_CONFIG_HOME/keybearer" "$XDG_RUNTIME_DIR"
chmod 700 "$HOME" "$XDG_RUNTIME_DIR"
unset KEYBEARER_CONFIG KEYBEARER_PROFILE KEYBEARER_TOKEN_URL KEYBEARER_ISSUER KEYBEARER_PRESET \
	KEYBEARER_CLIENT_ID KEYBEARER_CLIENT_SECRET https_proxy HTTPS_PROXY

echo "== starting a local token server on 127.0.0.1"
bash tests/integration/make-ca.sh "$demo/tls"
head -c 24 /dev/urandom | base64 >"$demo/client-secret"
chmod 600 "$demo/client-secret"
/usr/bin/python3 tests/integration/tokenserver.py --port-file "$demo/port" \
	--client-id demo-client --secret-file "$demo/client-secret" \
	--cert "$demo/tls/server.pem" --key "$demo/tls/server.key" &
server_pid=$!
for _ in $(seq 100); do [ -s "$demo/port" ] && break; sleep 0.05; done
port=$(cat "$demo/port")
api="https://127.0.0.1:$port"

cat >"$XDG_CONFIG_HOME/keybearer/config" <<CONFIG
[profile demo]
token_url = $api/ok/token
client_id = demo-client
secret = file:$demo/client-secret
ca_file = $demo/tls/ca.pem
urls = $api/api/
CONFIG
echo "== config (the secret stays in a mode-600 file, never in argv):"
sed 's/^/   /' "$XDG_CONFIG_HOME/keybearer/config"

call_api() {
	keybearer get --profile demo --format curl |
		curl -sS --fail --cacert "$demo/tls/ca.pem" -K - "$api/api/hello"
	echo
}
echo "== keybearer get --format curl | curl -K - $api/api/hello"
call_api
echo "== the same call twice more: the token comes from the cache"
call_api
call_api
echo "== token requests made to the token endpoint: $(curl -sS --cacert "$demo/tls/ca.pem" "$api/_count/ok")"
echo "== keybearer status"
keybearer status --profile demo | sed 's/^/   /'

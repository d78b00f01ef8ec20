#!/usr/bin/env bash
# A profile without ca_file trusts the system store, read as libcurl's hashed CA directory
# when it has one: OpenSSL then opens the one CA a chain needs and never parses the whole
# bundle. ca_file still replaces the store, and no CA variable of the environment
# (SSL_CERT_FILE, SSL_CERT_DIR, CURL_CA_BUNDLE) makes another CA trusted.
#
# The system store is a copy of this machine's with the test CA added to the directory
# only (not to the bundle), bind-mounted over it in a mount namespace of keybearer's own:
# the machine's store is never touched.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ca_paths=$("$PY" - <<'PY'
import ctypes
class Info(ctypes.Structure):
    _fields_ = [("age", ctypes.c_int), ("version", ctypes.c_char_p), ("version_num", ctypes.c_uint),
                ("host", ctypes.c_char_p), ("features", ctypes.c_int), ("ssl_version", ctypes.c_char_p),
                ("ssl_version_num", ctypes.c_long), ("libz_version", ctypes.c_char_p),
                ("protocols", ctypes.c_void_p), ("ares", ctypes.c_char_p), ("ares_num", ctypes.c_int),
                ("libidn", ctypes.c_char_p), ("iconv_ver_num", ctypes.c_int),
                ("libssh_version", ctypes.c_char_p), ("brotli_ver_num", ctypes.c_uint),
                ("brotli_version", ctypes.c_char_p), ("nghttp2_ver_num", ctypes.c_uint),
                ("nghttp2_version", ctypes.c_char_p), ("quic_version", ctypes.c_char_p),
                ("cainfo", ctypes.c_char_p), ("capath", ctypes.c_char_p)]
curl = ctypes.CDLL("libcurl.so.4")
curl.curl_version_info.restype = ctypes.POINTER(Info)
info = curl.curl_version_info(9).contents
print((info.capath or b"").decode() if info.age >= 6 else "")
print((info.cainfo or b"").decode() if info.age >= 6 else "")
PY
)
capath=$(sed -n 1p <<<"$ca_paths")
cainfo=$(sed -n 2p <<<"$ca_paths")
if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
	echo "skipped: a mount namespace needs root"
	exit 99
fi
if [ -z "$capath" ] || [ ! -d "$capath" ]; then
	echo "skipped: this libcurl has no CA directory (it reads its bundle)"
	exit 99
fi
case $(curl --version | head -1) in
*OpenSSL/*) ;;
*)
	echo "skipped: this libcurl's TLS library reads a CA directory whole (keybearer keeps the bundle)"
	exit 99
	;;
esac
if ! strace -f -o /dev/null true 2>/dev/null; then
	echo "skipped: strace cannot trace here"
	exit 99
fi

start_server
# the machine's store, and the test CA in its directory under its subject hash
system_store_copy "$WORK/store" "$capath"
system_store_add_hash_link "$WORK/store"

# in_store COMMAND...: runs COMMAND with the store above as the system's
in_store() {
	unshare -m --propagation private bash -c 'mount --bind "$1" "$2" && shift 3 && exec "$@"' \
		in_store "${STORE:-$WORK/store}" "$capath" -- "$@"
}
run_in_store() {
	run_with in_store "$@"
}

write_profile system ok "ca_file = "
write_profile own ok "ca_file = $WORK/tls/other-ca.pem"

echo "# no ca_file: the system store's directory verifies the endpoint"
run_in_store "$KB" get --profile system --format token
expect_rc 0 "get with the system store"
expect_eq "$(requests ok)" 1 "token requests"
[ -n "$OUT" ] || fail "no token printed"

echo "# the bundle is not parsed: keybearer-fetch opens the one CA the chain needs"
"$KB" invalidate --profile system
# (LeakSanitizer cannot run under ptrace)
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	run_in_store strace -f -qq -e trace=open,openat -o "$WORK/trace" "$KB" get --profile system --format token
expect_rc 0 "get under strace"
expect_eq "$(requests ok)" 2 "token requests"
expect_eq "$(grep -cF "\"$cainfo\"" "$WORK/trace" || true)" 0 "opens of the CA bundle $cainfo"
expect_match "$(grep -F "$capath/$CA_HASH_LINK" "$WORK/trace" || true)" "${CA_HASH_LINK//./\\.}" \
	"an open of the test CA by its hash"

echo "# a CA appended to the bundle alone, with no hash link: the bundle decides after all"
system_store_copy "$WORK/store2" "$capath"
if system_store_add_to_bundle "$WORK/store2" "$capath" "$cainfo"; then
	"$KB" invalidate --profile system
	STORE="$WORK/store2" run_in_store "$KB" get --profile system --format token
	expect_rc 0 "get with the test CA in the bundle alone"
	expect_eq "$(requests ok)" 3 "token requests"
else
	echo "(skipped: the bundle $cainfo is not in $capath)"
fi

echo "# ca_file replaces the system store"
"$KB" invalidate --profile own # the same client as system's: one cached token
before=$(requests ok)
run_in_store "$KB" get --profile own --format token
expect_rc 78 "get with a ca_file of another CA"
expect_match "$ERR" "^keybearer: TLS certificate of token endpoint .* could not be verified: .* — if it uses a private CA, set ca_file in the profile$" "the message"
expect_eq "$(requests ok)" "$before" "token requests (none reached the server)"

echo "# an endpoint of another CA: refused, whatever the CA variables say"
port_file="$WORK/rogue.port"
"$PY" "$TESTS/tokenserver.py" --port-file "$port_file" --client-id "$CLIENT_ID" \
	--secret-file "$WORK/secret" --log "$WORK/rogue.log" \
	--cert "$WORK/tls/other-server.pem" --key "$WORK/tls/other-server.key" &
SERVER_PIDS+=($!)
wait_for_file "$port_file" "the other CA's token server"
rogue="https://127.0.0.1:$(cat "$port_file")"
mkdir "$WORK/rogue-ca"
cp "$WORK/tls/other-ca.pem" "$WORK/rogue-ca/"
openssl rehash "$WORK/rogue-ca" 2>/dev/null || c_rehash "$WORK/rogue-ca" >/dev/null
write_profile rogue ok "token_url = $rogue/ok/token" "ca_file = "
for env in "" "SSL_CERT_FILE=$WORK/tls/other-ca.pem" "SSL_CERT_DIR=$WORK/rogue-ca" \
	"CURL_CA_BUNDLE=$WORK/tls/other-ca.pem"; do
	run_in_store env $env "$KB" get --profile rogue --format token
	expect_rc 78 "get from the other CA's endpoint with ${env:-no CA variable}"
	expect_eq "$OUT" "" "stdout with ${env:-no CA variable}"
	expect_match "$ERR" "could not be verified" "the message with ${env:-no CA variable}"
done
expect_eq "$(grep -c 'token' "$WORK/rogue.log" 2>/dev/null || true)" 0 \
	"requests the other CA's endpoint received"
echo ok

#!/usr/bin/env bash
# The installed binaries carry the hardening the build asks for, as readelf sees it: PIE,
# full RELRO, a non-executable stack, the stack protector and fortified libc calls; the
# keyring module the same but PIE, which a shared object is anyway.
. "$(dirname "$0")/lib.sh"

for binary in "$KB_STAGE/bin/keybearer" "$KB_STAGE/libexec/keybearer/keybearer-fetch"; do
	name=$(basename "$binary")
	header=$(readelf -h "$binary")
	dynamic=$(readelf -d "$binary")
	segments=$(readelf -lW "$binary")
	symbols=$(readelf -s -W "$binary") # the whole symbol table: keybearer may be static
	expect_match "$header" "Type: +DYN \(Position-Independent Executable file\)" "$name: PIE"
	expect_match "$dynamic" "FLAGS_1\) +Flags: NOW PIE" "$name: PIE and bind-now flags"
	expect_match "$dynamic" "\(FLAGS\) +BIND_NOW" "$name: BIND_NOW"
	expect_match "$segments" "GNU_RELRO" "$name: RELRO segment"
	expect_match "$segments" "GNU_STACK +0x0+ 0x0+ 0x0+ 0x0+ 0x0+ RW " "$name: non-executable stack"
	expect_match "$symbols" "__stack_chk_fail" "$name: stack protector"
	expect_match "$symbols" " __[a-z]+_chk(@|$)" "$name: fortified libc calls"
	echo "ok $name: PIE, full RELRO, NX stack, stack protector, FORTIFY"
done
# keybearer-fetch's keyring module, loaded into it: bind-now, RELRO, NX stack, the stack
# protector and FORTIFY too
module="$KB_STAGE/libexec/keybearer/keybearer-keyring.so"
expect_match "$(readelf -h "$module")" "Type: +DYN \(Shared object file\)" "the keyring module: a shared object"
expect_match "$(readelf -d "$module")" "\(FLAGS\) +BIND_NOW" "the keyring module: BIND_NOW"
segments=$(readelf -lW "$module")
expect_match "$segments" "GNU_RELRO" "the keyring module: RELRO segment"
expect_match "$segments" "GNU_STACK +0x0+ 0x0+ 0x0+ 0x0+ 0x0+ RW " "the keyring module: non-executable stack"
symbols=$(readelf -s -W "$module")
expect_match "$symbols" "__stack_chk_fail" "the keyring module: stack protector"
expect_match "$symbols" " __[a-z]+_chk(@|$)" "the keyring module: fortified libc calls"
echo "ok keybearer-keyring.so: full RELRO, NX stack, stack protector, FORTIFY"
# The hot path loads nothing but libc (no libcurl, libsecret, GLib or json-c); built as a
# static PIE (the default), not even that.
libraries=$(readelf -d "$KB_STAGE/bin/keybearer" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
if readelf -lW "$KB_STAGE/bin/keybearer" | grep -q INTERP; then
	expect_eq "$libraries" "ld-linux-x86-64.so.2 libc.so.6 " "keybearer's shared libraries"
else
	expect_eq "$libraries" "" "the shared libraries of keybearer, a static PIE"
	echo "ok keybearer is a static PIE"
fi
# keybearer-fetch gives OpenSSL a locked heap for private keys' numbers before it reads a
# key (it may be refused where the memlock limit is low, which this machine's is not), and
# only then: a mint with a secret does without. Nothing listens on port 1: each mint
# fails after its credential was read (in about a second of retries, by timeout = 1).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/client.key" 2>/dev/null
chmod 600 "$WORK/client.key"
BASE=https://127.0.0.1:1 CA=""
printf '%s' "$SECRET" >"$WORK/secret"
chmod 600 "$WORK/secret"
write_profile withkey ok "secret = " "auth_method = private_key_jwt" \
	"private_key = file:$WORK/client.key" "timeout = 1"
write_profile withsecret ok "timeout = 1"
secure_heap="(^|[[:space:]])mlock2?\(0x[0-9a-f]+, 65536(, MLOCK_ONFAULT)?\) = 0"
for profile in withkey withsecret; do
	run_with strace -f -e trace=mlock,mlock2 -o "$WORK/strace.$profile" "$KB" get --profile "$profile"
	expect_rc 75 "a mint from port 1 (profile $profile)"
done
expect_match "$(cat "$WORK/strace.withkey")" "$secure_heap" "keybearer-fetch: OpenSSL's secure heap for a private key"
! grep -Eq "$secure_heap" "$WORK/strace.withsecret" ||
	fail "keybearer-fetch made a secure heap for a mint with a secret: $(grep -E "$secure_heap" "$WORK/strace.withsecret")"
echo "ok keybearer-fetch locks OpenSSL's secure heap for a private key, and only for one"
echo "hardening: all passed"

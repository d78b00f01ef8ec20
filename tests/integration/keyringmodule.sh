#!/usr/bin/env bash
# libsecret and GLib live in the keyring module beside keybearer-fetch, loaded only for a
# keyring item: a mint from a file never maps them (strace sees every open), a keyring
# profile still works against a real Secret Service, and a module keybearer-fetch should
# not trust is refused with exit 70 while profiles that do not need it go on working.
if [ -z "${KB_IN_SESSION:-}" ]; then
	KB_IN_SESSION=1 exec dbus-run-session -- bash "$0" "$@"
fi
session_bus=$DBUS_SESSION_BUS_ADDRESS
. "$(dirname "$0")/lib.sh"

if ! command -v strace >/dev/null; then
	echo "skipped: strace not installed"
	exit 99
fi
if ! strace -f -o /dev/null true 2>/dev/null; then
	echo "skipped: strace cannot trace here"
	exit 99
fi
FETCH="$KB_STAGE/libexec/keybearer/keybearer-fetch"
MODULE="$KB_STAGE/libexec/keybearer/keybearer-keyring.so"
GLIB='/lib(secret-1|glib-2\.0|gio-2\.0|gobject-2\.0)\.so|keybearer-keyring\.so'

# traced FILE ARGS...: keybearer under strace -f, every open into FILE; sets RC, OUT, ERR
# (LeakSanitizer cannot run under ptrace)
traced() {
	local trace=$1
	shift
	ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
		run_with strace -f -qq -e trace=open,openat -o "$trace" "$KB" "$@"
}
opened() { grep -Eo '"[^"]*"' "$1" | tr -d '"' | grep -E "$2" || true; }

echo "# keybearer-fetch links no libsecret or GLib; the module does, and exports one symbol"
needed=$(readelf -d "$FETCH" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
if grep -Eq 'libsecret|libglib|libgio|libgobject' <<<"$needed"; then
	fail "keybearer-fetch links libsecret or GLib: $(tr '\n' ' ' <<<"$needed")"
fi
[ -f "$MODULE" ] || fail "no $MODULE beside keybearer-fetch"
expect_match "$(readelf -d "$MODULE")" 'Shared library: \[libsecret-1\.so\.0\]' "the module's libraries"
# (AddressSanitizer adds an __odr_asan. twin of each global)
exported=$(nm -D --defined-only "$MODULE" | awk '{ print $3 }' |
	grep -Ev '^(_init|_fini|__bss_start|_edata|_end|__odr_asan\..*)$' || true)
expect_eq "$exported" "keybearer_keyring_module" "the module's exported symbols"
[ $((0$(stat -c %a "$MODULE") & 022)) = 0 ] || fail "the installed module is writable by others"

echo "# a cold get of a profile whose secret is a file opens neither libsecret, GLib nor the module"
start_server --http
write_profile file ok "ca_file = "
traced "$WORK/trace.file" get --profile file --format token
expect_rc 0 "cold get from a file, traced"
expect_match "$(opened "$WORK/trace.file" 'libssl\.so')" libssl "libssl in the trace (strace saw keybearer-fetch)"
expect_eq "$(opened "$WORK/trace.file" "$GLIB")" "" "libsecret, GLib or the module opened by a cold get from a file"
expect_eq "$(requests ok)" 1 "token requests"
# keybearer-fetch's other work without a keyring item: --version, a check
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	strace -f -qq -e trace=open,openat -o "$WORK/trace.version" "$FETCH" --version >/dev/null
expect_eq "$(opened "$WORK/trace.version" "$GLIB")" "" "opened by keybearer-fetch --version"
traced "$WORK/trace.status" status --profile file
expect_rc 0 "status of a profile whose secret is a file"
expect_eq "$(opened "$WORK/trace.status" "$GLIB")" "" "opened by status of a file profile"

echo "# a keyring profile loads the module from beside keybearer-fetch, and works"
export DBUS_SESSION_BUS_ADDRESS=$session_bus
eval "$(printf '%s' keyring-password | gnome-keyring-daemon --unlock --components=secrets)"
gdbus wait --session --timeout 10 org.freedesktop.secrets
printf '%s' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --client-id "$CLIENT_ID" --token-url "$BASE/ok/token?kr"
expect_rc 0 "login"
expect_eq "$(secret-tool lookup xdg:schema org.keybearer.ClientSecret profile kr)" "$SECRET" "the stored secret"
run_kb invalidate --profile kr
traced "$WORK/trace.kr" get --profile kr --format token
expect_rc 0 "cold get from the keyring, traced"
expect_eq "$(opened "$WORK/trace.kr" 'keybearer-keyring\.so$')" "$MODULE" "the module opened, by its full path"
expect_match "$(opened "$WORK/trace.kr" 'libsecret-1\.so')" libsecret "libsecret loaded for a keyring profile"
run_kb status --profile kr
expect_match "$OUT" "secret +keyring \(stored\)" "status of the keyring profile"
expect_no_secret "$OUT$ERR" "status"

echo "# a module keybearer-fetch should not trust is refused: exit 70, and why"
# a copy of the installed tree, whose module each case spoils (root-owned files stay root's)
copy="$WORK/prefix"
cp -a "$KB_STAGE" "$copy"
copy_module="$copy/libexec/keybearer/keybearer-keyring.so"
spoiled() { # WHAT EXPECTED-MESSAGE-REGEX: a keyring get fails, a file get still works
	KB="$copy/bin/keybearer" run_kb invalidate --profile kr
	KB="$copy/bin/keybearer" run_kb get --profile kr
	expect_rc 70 "a keyring get with $1"
	expect_match "$ERR" "^keybearer: $2" "the message for $1"
	expect_match "$ERR" " — " "the message for $1 says what to do"
	expect_no_secret "$ERR" "the message for $1"
	KB="$copy/bin/keybearer" run_kb status --profile kr
	expect_match "$OUT" "secret +keyring \(unavailable: " "status with $1"
	KB="$copy/bin/keybearer" run_kb invalidate --profile file
	KB="$copy/bin/keybearer" run_kb get --profile file --format token
	expect_rc 0 "a file get with $1"
}
restore() { rm -f "$copy_module" && cp -a "$MODULE" "$copy_module"; }
# the copy works as it is
KB="$copy/bin/keybearer" run_kb invalidate --profile kr
KB="$copy/bin/keybearer" run_kb get --profile kr --format token
expect_rc 0 "a keyring get from the copied tree"

chmod 0664 "$copy_module"
spoiled "a group-writable module" "keyring module $copy_module is accessible to group or others \(mode 0664\) — run chmod 0644 $copy_module$"
chmod 0646 "$copy_module"
spoiled "a world-writable module" "keyring module $copy_module is accessible to group or others \(mode 0646\)"
restore

chmod o+w "$copy/libexec/keybearer"
spoiled "a world-writable directory" "keyring module $copy_module: directory $copy/libexec/keybearer is writable by group or others \(mode 0757\), who could replace the file — run chmod go-w $copy/libexec/keybearer$"
chmod o-w "$copy/libexec/keybearer"

if [ "$(id -u)" = 0 ]; then
	chown 12345 "$copy_module"
	spoiled "a module of another user" "keyring module $copy_module belongs to uid 12345, not to you"
	restore
fi

mv "$copy_module" "$WORK/elsewhere.so"
ln -s "$WORK/elsewhere.so" "$copy_module"
spoiled "a module that is a symbolic link" "cannot load the keyring module $copy_module: it is a symbolic link — reinstall keybearer"
rm -f "$copy_module" "$WORK/elsewhere.so"

# nothing searches for it: not LD_LIBRARY_PATH, not the working directory
mkdir "$WORK/lib"
cp -a "$MODULE" "$WORK/lib/keybearer-keyring.so"
(cd "$WORK/lib" && LD_LIBRARY_PATH="$WORK/lib" \
	spoiled "no module beside keybearer-fetch" "cannot load the keyring module $copy_module: No such file or directory — reinstall keybearer \(the module belongs beside keybearer-fetch\), or set secret = file:PATH or command:CMD in \[profile kr\] to keep the client secret out of the keyring$")

printf 'not a shared object\n' >"$copy_module"
spoiled "a module that is not one" "cannot load the keyring module $copy_module: .*(invalid ELF header|file too short) — "
# a shared object, but not the module: no keybearer_keyring_module in it
cp "$(readlink -f "$(ldconfig -p | sed -n 's/^\tlibz\.so\.1 .*=> //p' | head -1)")" "$copy_module"
spoiled "another library in its place" "cannot load the keyring module $copy_module: it is not the module of keybearer-fetch "
restore

echo "# logout loads it too, and says the same when it is refused"
chmod g+w "$copy_module"
KB="$copy/bin/keybearer" run_kb logout --profile kr
expect_rc 70 "logout with a group-writable module"
expect_match "$ERR" "^keybearer: keyring module $copy_module is accessible to group or others" "logout's message"
restore
KB="$copy/bin/keybearer" run_kb logout --profile kr
expect_rc 0 "logout with the module restored"
secret-tool lookup xdg:schema org.keybearer.ClientSecret profile kr >/dev/null &&
	fail "logout left the secret in the keyring"
echo "keyring module: all passed"

# Shared by the integration tests: a private HOME and XDG tree, a test CA, a token server
# on 127.0.0.1, and assertions that say what differed. Source it; it cleans up on exit.
set -euo pipefail

: "${KB_STAGE:?KB_STAGE must point at the installed tree (cmake --install --prefix)}"
: "${KB_SOURCE:?KB_SOURCE must point at the source tree}"

KB="$KB_STAGE/bin/keybearer"
KB_BIN="$KB_STAGE/bin" # where the links host tools call live
PY=/usr/bin/python3 # Debian's interpreter; another python3 may come first on PATH
TESTS="$KB_SOURCE/tests/integration"
CLIENT_ID="kb-test-client"
SECRET='s3c+r/e=t&x% y'          # every character form encoding must escape
SECRET_ENCODED='s3c%2Br%2Fe%3Dt%26x%25+y'

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keybearer-test.XXXXXX")
chmod 700 "$WORK"
SERVER_PIDS=()

# What the valgrind logs hold but the notice that valgrind does not know mlock2 (syscall
# 325, which OpenSSL's locked heap asks for: valgrind fails it, and OpenSSL goes without)
# or pidfd_open (434, for plain exec's expiry watcher: failed, and exec goes without).
valgrind_findings() {
	find "$WORK/valgrind" -name 'log.*' -size +0 -exec cat {} + 2>/dev/null |
		awk '/WARNING: unhandled amd64-linux syscall: (325|434)$/ { skip = 4; next }
			skip > 0 { skip--; next }
			{ print }'
}

cleanup() {
	local rc=$? pid
	[ ! -f "$WORK/directory-servers" ] || SERVER_PIDS+=($(cat "$WORK/directory-servers"))
	for pid in "${SERVER_PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${SERVER_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${KB_VALGRIND:-}" ] && [ -n "$(valgrind_findings)" ]; then
		echo "FAIL: valgrind found errors or leaks:" >&2
		valgrind_findings >&2
		rc=1
	fi
	[ -n "${KB_KEEP_WORK:-}" ] && echo "kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT

# A clean, private environment: nothing from the caller's keybearer setup, proxies or
# CA variables leaks in (the machine exports CURL_CA_BUNDLE and friends).
unset $(env | sed -n 's/^\(KEYBEARER_[A-Z_]*\)=.*/\1/p') 2>/dev/null || true # (set again below)
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
unset CURL_CA_BUNDLE SSL_CERT_FILE SSL_CERT_DIR SSLKEYLOGFILE
unset DBUS_SESSION_BUS_ADDRESS DISPLAY WAYLAND_DISPLAY # headless unless a test starts a bus
export HOME="$WORK/home" XDG_CONFIG_HOME="$WORK/home/.config"
export XDG_RUNTIME_DIR="$WORK/run" XDG_CACHE_HOME="$WORK/home/.cache"
mkdir -p "$HOME" "$XDG_CONFIG_HOME/keybearer" "$XDG_RUNTIME_DIR"
chmod 700 "$HOME" "$XDG_RUNTIME_DIR"
CONFIG="$XDG_CONFIG_HOME/keybearer/config"

# KB_VALGRIND=1: every keybearer and keybearer-fetch process runs under valgrind memcheck,
# and any error or leak it reports fails the test.
if [ -n "${KB_VALGRIND:-}" ]; then
	mkdir -p "$WORK/valgrind/bin" "$WORK/valgrind/names"
	suppressions=""
	[ ! -f /usr/share/glib-2.0/valgrind/glib.supp ] ||
		suppressions=--suppressions=/usr/share/glib-2.0/valgrind/glib.supp
	valgrind_wrapper() { # PROGRAM WRAPPER
		printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect %s --log-file=%s/log.%%p %s "$@"\n' \
			"$suppressions" "$WORK/valgrind" "$1" >"$2"
		chmod 755 "$2"
	}
	# memcheck cannot follow a static glibc: keybearer runs as its dynamically linked twin
	# (KB_DYNAMIC), under each name host tools call it by
	for name in keybearer git-credential-keybearer keybearer-bazel cargo-credential-keybearer \
		terraform-credentials-keybearer; do
		ln -s "${KB_DYNAMIC:-$KB_STAGE/bin/keybearer}" "$WORK/valgrind/names/$name"
		valgrind_wrapper "$WORK/valgrind/names/$name" "$WORK/valgrind/bin/$name"
	done
	valgrind_wrapper "$KB_STAGE/libexec/keybearer/keybearer-fetch" "$WORK/valgrind/bin/keybearer-fetch"
	export KEYBEARER_FETCH="$WORK/valgrind/bin/keybearer-fetch"
	KB="$WORK/valgrind/bin/keybearer"
	KB_BIN="$WORK/valgrind/bin"
fi
CACHE_DIR="$XDG_RUNTIME_DIR/keybearer"
CA="$WORK/tls/ca.pem"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# wait_for_file FILE WHAT: waits up to 5 s for the server WHAT to write FILE.
wait_for_file() {
	for _ in $(seq 100); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	fail "$2 did not start"
}

# start_server [--http | --mtls]: sets PORT and BASE (https unless --http; --mtls: the
# server also asks for client certificates, and takes those the test CA issued).
start_server() {
	local scheme=https tls_args=() port_file
	if [ "${1:-}" = "--http" ]; then
		scheme=http
	else
		[ -f "$CA" ] || bash "$TESTS/make-ca.sh" "$WORK/tls"
		tls_args=(--cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key")
		[ "${1:-}" != "--mtls" ] || tls_args+=(--client-ca "$CA")
	fi
	[ -f "$WORK/secret" ] || { printf '%s' "$SECRET" >"$WORK/secret" && chmod 600 "$WORK/secret"; }
	port_file=$(mktemp "$WORK/port.XXXXXX")
	rm -f "$port_file"
	"$PY" "$TESTS/tokenserver.py" --port-file "$port_file" --client-id "$CLIENT_ID" \
		--secret-file "$WORK/secret" --slow-seconds 5 --log "$WORK/server.log" \
		--git-root "$WORK/git" --cargo-root "$WORK/cargo" --npm-root "$WORK/npm" "${tls_args[@]}" &
	SERVER_PIDS+=($!)
	wait_for_file "$port_file" "token server"
	PORT=$(cat "$port_file")
	BASE="$scheme://127.0.0.1:$PORT"
}

# start_interop NAME SECRET_FILE COMMAND...: starts a real authorization server of
# tests/interop (its TLS the test CA's, its client secret SECRET_FILE, its log
# $WORK/NAME.log); sets PORT and BASE of that server
start_interop() {
	local name=$1 secret_file=$2 port_file="$WORK/$1.port" attempt pid started
	shift 2
	# Under 1 s on an idle machine. Twice in full CI runs node sat in futex_wait with no
	# CPU used and never listened (not reproduced alone): one more start after 30 s.
	for attempt in 1 2; do
		rm -f "$port_file"
		"$@" --port-file "$port_file" --cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key" \
			--secret-file "$secret_file" --log "$WORK/$name.log" 2>"$WORK/$name.err" &
		pid=$!
		SERVER_PIDS+=("$pid")
		started=$SECONDS
		while [ $((SECONDS - started)) -lt 30 ]; do
			[ -s "$port_file" ] && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.05
		done
		[ ! -s "$port_file" ] || break
		echo "# $name did not start within $((SECONDS - started)) s (attempt $attempt): its state $(ps -o stat=,wchan:32=,time= -p "$pid" 2>&1 | tr -s ' '), load $(cut -d' ' -f1-3 /proc/loadavg)"
		{ kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
	done
	[ -s "$port_file" ] || fail "$name did not start, twice: $(cat "$WORK/$name.err")"
	PORT=$(cat "$port_file")
	BASE="https://127.0.0.1:$PORT"
}

# serve_directory DIR: publishes DIR over plain http on 127.0.0.1 (which keybearer allows
# for loopback) and prints its base URL. Call it as $(serve_directory DIR).
serve_directory() {
	local log
	log=$(mktemp "$WORK/http.XXXXXX")
	"$PY" -m http.server --bind 127.0.0.1 --directory "$1" 0 >"$log" 2>&1 &
	echo $! >>"$WORK/directory-servers"
	for _ in $(seq 100); do
		grep -q " port " "$log" && break
		sleep 0.05
	done
	grep -q " port " "$log" || fail "the web server for $1 did not start"
	echo "http://127.0.0.1:$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$log")"
}

# server GET|POST PATH [BODY]: talks to the control endpoints of the last server started.
server() {
	local method=$1 path=$2
	shift 2
	curl -sS --fail --cacert "$CA" -X "$method" ${1+--data-binary "$1"} "$BASE$path"
}

requests() { server GET "/_count/$1" | tr -d '\n'; }

# write_profile NAME MODE ["key = value"]...: appends a profile for the test server's MODE;
# a given key replaces the default of the same name.
write_profile() {
	local name=$1 mode=$2 line key
	shift 2
	local -A values=(
		[token_url]="$BASE/$mode/token"
		[client_id]="$CLIENT_ID"
		[secret]="file:$WORK/secret"
		[ca_file]="$CA"
	)
	local order=(token_url client_id secret ca_file)
	for line in "$@"; do
		key=${line%% =*}
		[ -n "${values[$key]+set}" ] || order+=("$key")
		values[$key]=${line#* = }
	done
	{
		printf '[profile %s]\n' "$name"
		for key in "${order[@]}"; do
			[ -z "${values[$key]}" ] || printf '%s = %s\n' "$key" "${values[$key]}"
		done
		printf '\n'
	} >>"$CONFIG"
	chmod 600 "$CONFIG"
}

# run_kb ARGS...: runs keybearer with stdin from $KB_STDIN (default empty); sets
# RC, OUT and ERR.
# A copy of the system CA store for tests and the benchmark to bind-mount over the real one
# (which is never touched). system_store_copy DIR CAPATH: DIR holds the files of CAPATH.
system_store_copy() {
	mkdir "$1"
	cp -a "$2/." "$1/"
}

# system_store_add_hash_link DIR: the test CA in DIR under its subject hash, as CA_HASH_LINK
system_store_add_hash_link() {
	local hash n=0
	cp "$CA" "$1/keybearer-test-ca.pem"
	hash=$(openssl x509 -hash -noout -in "$CA")
	while [ -e "$1/$hash.$n" ]; do n=$((n + 1)); done
	ln -s keybearer-test-ca.pem "$1/$hash.$n"
	CA_HASH_LINK=$hash.$n
}

# system_store_add_to_bundle DIR CAPATH CAINFO: the test CA appended to DIR's copy of the
# bundle; 1 when the bundle CAINFO is not in CAPATH (nothing to append to)
system_store_add_to_bundle() {
	case $3 in
	"$2"/*) ;;
	*) return 1 ;;
	esac
	rm -f "$1/${3##*/}" # (it may be a link out of the directory)
	cat "$3" "$CA" >"$1/${3##*/}"
}

# run_with PROGRAM ARGS...: runs it with stdin from KB_STDIN (or /dev/null); RC, OUT, ERR
run_with() {
	set +e
	"$@" <"${KB_STDIN:-/dev/null}" >"$WORK/out" 2>"$WORK/err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/out")
	ERR=$(cat "$WORK/err")
}

run_kb() {
	run_with "$KB" "$@"
}

expect_rc() {
	[ "$RC" = "$1" ] || fail "${2:-keybearer} exited $RC, expected $1; stderr: $ERR"
}

expect_eq() {
	[ "$1" = "$2" ] || fail "${3:-value}: got [$1], expected [$2]"
}

expect_match() { # TEXT REGEX [WHAT]
	# a here-string, not a pipe: grep -q stopping early must not look like a mismatch
	grep -Eq -- "$2" <<<"$1" || fail "${3:-text} [$1] does not match /$2/"
}

expect_no_match() {
	if grep -Fq -- "$2" <<<"$1"; then
		fail "${3:-text} [$1] contains [$2]"
	fi
}

# A wait of about a second or more says once on stderr what it waits for: "keybearer:
# waiting for …". notices TEXT prints those lines of a stderr text, without_notices the
# others; expect_notices TEXT MS WHAT checks that a wait of MS milliseconds said so, once
# per kind of wait, and that a short one did not.
notices() { grep '^keybearer: waiting for ' <<<"$1" || true; }
without_notices() { grep -v '^keybearer: waiting for ' <<<"$1" || true; }
expect_notices() {
	local said
	said=$(notices "$1" | wc -l)
	if [ "$2" -lt 900 ]; then
		expect_eq "$said" 0 "$3: wait notices after ${2} ms"
	elif [ "$2" -ge 1500 ]; then
		[ "$said" -ge 1 ] || fail "$3: waited ${2} ms and said nothing of it"
	fi
	expect_eq "$(notices "$1" | cut -c1-40 | sort | uniq -d)" "" "$3: a wait said twice"
}

# The secret must never show in anything we print, in any encoding a server may echo it
# in: raw, form- or percent-encoded (either hex case), JSON-escaped (as json-c writes it,
# and with ensure_ascii's \uXXXX in either case), HTML-escaped, or as the base64 of either
# client_secret_basic pair, padded or not; nor any of these as an excerpt shows it, every
# byte outside printable ASCII as '?'. So must every secret a test lists in EXTRA_SECRETS.
expect_no_secret() {
	local form forms=0
	expect_no_match "$1" "$SECRET" "${2:-output}"
	expect_no_match "$1" "$SECRET_ENCODED" "${2:-output}"
	while IFS= read -r -d '' form; do
		expect_no_match "$1" "$form" "${2:-output} (a form of a secret)"
		forms=$((forms + 1))
	done < <("$PY" -c '
import base64, html, json, re, sys, urllib.parse

client_id, secrets = sys.argv[1], sys.argv[2:]
form = lambda s: urllib.parse.quote_plus(s, safe="-._~")
lower = lambda s: re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), s)
upper = lambda s: re.sub(r"\\u([0-9a-f]{4})", lambda m: "\\u" + m.group(1).upper(), s)
shown = lambda s: re.sub(r"\s+", " ", "".join(
    chr(b) if 0x20 <= b < 0x7F or b in b"\t\n\v\f\r" else "?" for b in s.encode()))
for secret in secrets:
    percent = urllib.parse.quote(secret, safe="-._~")
    json_c = json.dumps(secret, ensure_ascii=False)[1:-1].replace("/", "\\/")
    ascii = json.dumps(secret)[1:-1]
    forms = {secret, form(secret), lower(form(secret)), percent, lower(percent),
             json_c, ascii, upper(ascii), html.escape(secret)}
    for pair in (form(client_id) + ":" + form(secret), client_id + ":" + secret):
        encoded = base64.b64encode(pair.encode()).decode()
        forms |= {encoded, encoded.rstrip("=")}
    forms |= {shown(f) for f in forms}
    for f in sorted(forms):
        sys.stdout.write(f + "\0")
' "$CLIENT_ID" "$SECRET" ${EXTRA_SECRETS[@]+"${EXTRA_SECRETS[@]}"})
	# a checker that printed nothing would pass everything
	[ "$forms" -ge 6 ] || fail "expect_no_secret: the forms of the secret could not be computed"
}

file_mode() { stat -c %a "$1"; }

# age_cached_token TOKEN SECONDS_LEFT: rewrites the cache file holding TOKEN as if that
# one-hour token had SECONDS_LEFT to live, and forgets any failed refresh recorded beside it.
age_cached_token() {
	local file
	file=$(grep -l -F -- "$1" "$CACHE_DIR"/*.json) || fail "no cache file holds that token"
	jq --argjson left "$2" '.expires_at = (now | floor) + $left |
		.obtained_at = .expires_at - 3600' "$file" >"$WORK/aged"
	cat "$WORK/aged" >"$file"
	: >"${file%.json}.lock"
}

# start_toolserver API NAME: starts toolserver.py (API registry or kubernetes) over HTTPS,
# checking tokens against the last token server started (start_server first); sets
# TOOL_PORT. NAME names its request log, read with tool_requests NAME.
start_toolserver() {
	local port_file="$WORK/toolserver-$2.port"
	"$PY" "$TESTS/toolserver.py" --api "$1" --port-file "$port_file" \
		--cert "$WORK/tls/server.pem" --key "$WORK/tls/server.key" \
		--token-check "$BASE/api/hello" --ca "$CA" --log "$WORK/toolserver-$2.log" &
	SERVER_PIDS+=($!)
	wait_for_file "$port_file" "the $1 server $2"
	TOOL_PORT=$(cat "$port_file")
}

# tool_requests NAME [JQ-FILTER]: the requests server NAME has seen, one JSON object a
# line ({"method", "path", "auth"}), through the filter (default: each whole).
tool_requests() {
	[ ! -f "$WORK/toolserver-$1.log" ] || jq -c "${2:-.}" "$WORK/toolserver-$1.log"
}

# readme_block HEADING [N]: the Nth (default 1st) fenced block after the README line that
# starts with HEADING, without its fences: what a recipe tells a user to write.
readme_block() {
	awk -v heading="$1" -v want="${2:-1}" '
		index($0, heading) == 1 { found = 1; next }
		found && /^```/ { if (inside) { if (++n == want) exit; inside = 0 } else inside = 1; next }
		found && inside && n + 1 == want { print }' "$KB_SOURCE/README.md"
}


#!/usr/bin/env bash
# Profiles from the file, the built-in preset, and the environment alone; config errors.
. "$(dirname "$0")/lib.sh"

start_server
TLS_PORT=$PORT

echo "# CI style: no config file at all, only the environment"
(
	export KEYBEARER_TOKEN_URL="$BASE/ok/token" KEYBEARER_CLIENT_ID="$CLIENT_ID"
	export KEYBEARER_CLIENT_SECRET="$SECRET" KEYBEARER_CA_FILE="$CA" KEYBEARER_SCOPE="ci:read"
	run_kb get
	expect_rc 0 "env-only get"
	expect_match "$OUT" "^Authorization: Bearer " "env-only output"
	expect_eq "$(server GET /_last/ok | jq -r .body)" \
		"grant_type=client_credentials&scope=ci%3Aread&client_id=$CLIENT_ID&client_secret=$SECRET_ENCODED" "env-only request"
	run_kb status
	expect_match "$OUT" "profile env \(from the environment\) \[default\]" "env profile in status"
	expect_match "$OUT" "secret        env:KEYBEARER_CLIENT_SECRET \(set\)" "env secret in status"
	expect_no_secret "$OUT" "status"
)
[ ! -e "$CONFIG" ] || fail "a config file appeared"

echo "# the built-in aspose profile, with a file section overriding only what it names"
run_kb status --profile aspose
expect_match "$OUT" "token_url     https://api.aspose.cloud/connect/token" "aspose token_url"
expect_match "$OUT" "urls          https://api.aspose.cloud/" "aspose urls"
printf '[profile aspose]\ntoken_url = %s/ok/token?aspose\nclient_id = %s\nsecret = file:%s\nca_file = %s\n' \
	"$BASE" "$CLIENT_ID" "$WORK/secret" "$CA" >"$CONFIG"
chmod 600 "$CONFIG"
run_kb get
expect_rc 0 "get with the aspose profile overridden"
run_kb status
expect_match "$OUT" "^profile aspose \(built in, and \[profile aspose\] of the config file\) \[default\]$" "aspose selected, and still built in"
expect_match "$OUT" "urls          https://api.aspose.cloud/" "urls kept from the preset"

echo "# an exported secret goes to no implied endpoint: KEYBEARER_TOKEN_URL, or a preset by name"
(
	export KEYBEARER_CLIENT_ID=ci-client KEYBEARER_CLIENT_SECRET="$SECRET"
	run_kb status
	expect_match "$OUT" "profile env \(from the environment\) \[default\]" "env profile chosen"
	expect_match "$OUT" "token_url     \(not set\)" "no token_url implied"
	expected="keybearer: profile env has no token endpoint: KEYBEARER_TOKEN_URL is not set, and keybearer never guesses where a secret goes — export KEYBEARER_TOKEN_URL (or KEYBEARER_ISSUER; for Aspose Cloud, KEYBEARER_PRESET=aspose)"
	run_kb get
	expect_rc 78 "get with a secret and no endpoint"
	expect_eq "$OUT" "" "stdout without an endpoint"
	expect_eq "$ERR" "$expected" "the missing endpoint, named"
	# not one DNS query or connection: in a network namespace with nothing but a downed
	# loopback, strace sees every attempt without anything leaving
	if [ "$(id -u)" = 0 ] && unshare -n true 2>/dev/null; then
		# (once more when unshare or strace themselves failed, as a loaded machine
		# may have them do: that says nothing about keybearer)
		for _ in 1 2 3; do
			set +e
			# (LeakSanitizer cannot work under a tracer)
			ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
				unshare -n strace -f -qq -e trace=connect,sendto,sendmsg \
				-o "$WORK/net.trace" "$KB" get >/dev/null 2>"$WORK/err"
			rc=$?
			set -e
			grep -q '^\(strace\|unshare\):' "$WORK/err" || break
			echo "    unshare or strace failed, again: $(head -n 1 "$WORK/err")"
		done
		expect_eq "$rc" 78 "get without an endpoint, in a namespace without a network (stderr: $(cat "$WORK/err"))"
		expect_eq "$(grep -v 'AF_UNIX\|sa_family=AF_LOCAL\|exited\|+++' "$WORK/net.trace" | wc -l)" 0 \
			"network attempts without an endpoint: $(cat "$WORK/net.trace")"
	else
		echo "    skipped: the network-namespace check needs root and unshare"
	fi
	for verb in kubectl "curl $BASE/api/hello"; do
		run_kb $verb
		expect_rc 78 "keybearer $verb without an endpoint"
	done

	KEYBEARER_PRESET=aspose run_kb status
	expect_match "$OUT" "token_url     https://api.aspose.cloud/connect/token" "the aspose preset, chosen"
	expect_match "$OUT" "urls          https://api.aspose.cloud/" "the preset's urls"
	expect_match "$OUT" "client_id     ci-client" "env client id"
	KEYBEARER_PRESET=okta run_kb status
	expect_rc 78 "an unknown preset"
	expect_eq "$ERR" 'keybearer: KEYBEARER_PRESET: unknown preset "okta" — the only preset is aspose (Aspose Cloud); for another provider set KEYBEARER_TOKEN_URL instead' "unknown preset message"
	KEYBEARER_ISSUER="$BASE/issuer/ok" run_kb status
	expect_match "$OUT" "issuer        $BASE/issuer/ok" "KEYBEARER_ISSUER"
	run_kb status --profile aspose
	expect_match "$OUT" "client_id     $CLIENT_ID" "the variables leave file profiles alone"
	KEYBEARER_TOKEN_URL=https://elsewhere.example/token run_kb status --profile aspose
	expect_match "$OUT" "token_url     $BASE/ok/token\?aspose" "KEYBEARER_TOKEN_URL leaves file profiles alone"
)
rm -f "$CONFIG"

echo "# selection: --profile, KEYBEARER_PROFILE, the only file profile, else an error"
write_profile one ok "token_url = $BASE/ok/token?one"
run_kb get
expect_rc 0 "the only profile"
write_profile two ok "token_url = $BASE/ok/token?two"
run_kb get
expect_rc 78 "two profiles, none chosen"
expect_eq "$ERR" "keybearer: several profiles are configured (one, two) — choose one with --profile NAME or KEYBEARER_PROFILE" "ambiguity message"
KEYBEARER_PROFILE=two run_kb get
expect_rc 0 "KEYBEARER_PROFILE"
expect_eq "$(server GET /_last/ok | jq -r .path)" "/ok/token?two" "KEYBEARER_PROFILE picked two"
"$KB" invalidate --profile one
KEYBEARER_PROFILE=two run_kb get --profile one
expect_eq "$(server GET /_last/ok | jq -r .path)" "/ok/token?one" "--profile beats KEYBEARER_PROFILE"
run_kb get --profile three
expect_rc 78 "unknown profile"
expect_match "$ERR" "^keybearer: no profile named \"three\" — known profiles: (aspose, one, two|one, two, aspose); add \[profile three\] to $CONFIG$" "unknown profile message"

echo "# plain http only to loopback"
start_server --http
write_profile plain ok "ca_file = "
run_kb get --profile plain
expect_rc 0 "http://127.0.0.1 token endpoint"
printf '[profile far]\ntoken_url = http://example.com/token\nclient_id = x\n' >>"$CONFIG"
run_kb get --profile far
expect_rc 78 "http to a remote host"
expect_match "$ERR" "^keybearer: $CONFIG:[0-9]+: token_url uses plain http to example.com: secrets and tokens would travel unencrypted — use https://" "http message"

echo "# config errors name the file and line; each exits 78 with empty stdout"
bad_config() { # LINE_NUMBER PATTERN CONTENT
	printf '%s' "$3" >"$CONFIG"
	chmod 600 "$CONFIG"
	run_kb get --profile p
	expect_rc 78 "config [$3]"
	expect_eq "$OUT" "" "stdout for config [$3]"
	expect_match "$ERR" "^keybearer: $CONFIG:$1: $2" "message for config [$3]"
}
bad_config 2 'unknown key "colour" in \[profile p\] — see man 5 keybearer-config for the keys' $'[profile p]\ncolour = blue\n'
bad_config 1 '"token_url" is outside any section — put it under \[profile NAME\]' $'token_url = https://x/\n'
bad_config 1 'unknown section \[default\] — sections are written \[profile NAME\]' $'[default]\nclient_id = x\n'
bad_config 3 'malformed line — write "key = value" lines' $'[profile p]\nclient_id = x\nthis is not a setting\n'
bad_config 3 'client_id is given twice for profile p' $'[profile p]\nclient_id = x\nclient_id = y\n'
bad_config 2 'unknown auth_method "client_secret" — use client_secret_post, client_secret_basic, client_secret_jwt, private_key_jwt, client_assertion, none, tls_client_auth or self_signed_tls_client_auth' $'[profile p]\nauth_method = client_secret\n'
bad_config 2 'timeout must be a whole number of seconds from 1 to 600, not "0"' $'[profile p]\ntimeout = 0\n'
bad_config 2 'refresh_margin must be a whole number of seconds' $'[profile p]\nrefresh_margin = soon\n'
bad_config 2 'unknown secret source "hunter2" — use keyring, env:VARIABLE, file:/path or command:CMD' $'[profile p]\nsecret = hunter2\n'
bad_config 2 'ca_file "ca.pem" is not an absolute path' $'[profile p]\nca_file = ca.pem\n'
bad_config 2 'token_url is not a usable URL' $'[profile p]\ntoken_url = https://user:pw@example.com/token\n'
bad_config 2 "line is longer than 198 characters" "[profile p]"$'\n'"scope = $(printf 'x%.0s' $(seq 250))"$'\n'
bad_config 1 'bad profile name "a b"' $'[profile a b]\nclient_id = x\n'
bad_config 1 'the profile name env is reserved' $'[profile env]\nclient_id = x\n'

echo "# missing pieces say what to do"
printf '[profile p]\ntoken_url = %s/ok/token\n' "$BASE" >"$CONFIG"
run_kb get --profile p
expect_rc 78 "no client_id"
expect_eq "$ERR" "keybearer: profile p has no client_id — set client_id in [profile p] in $CONFIG or KEYBEARER_CLIENT_ID" "no client_id message"
printf '[profile p]\ntoken_url = %s/ok/token?nosecret\nclient_id = x\n' "$BASE" >"$CONFIG"
run_kb get --profile p
expect_rc 78 "no secret"
expect_eq "$ERR" "keybearer: no Secret Service available for profile p (no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set) — for headless use, set secret = file:PATH, env:NAME or command:CMD in [profile p], or use the env profile (KEYBEARER_TOKEN_URL, KEYBEARER_CLIENT_ID, KEYBEARER_CLIENT_SECRET)" "no secret message"
KEYBEARER_CLIENT_SECRET="$SECRET" run_kb get --profile p
expect_rc 78 "KEYBEARER_CLIENT_SECRET is not every profile's secret"
printf '[profile p]\ntoken_url = %s/ok/token?env\nclient_id = %s\nsecret = env:MY_SECRET\nca_file = %s\n' "$BASE" "$CLIENT_ID" "$CA" >"$CONFIG"
run_kb get --profile p
expect_rc 78 "secret variable unset"
expect_match "$ERR" "environment variable MY_SECRET is not set — export it" "unset variable message"
MY_SECRET="$SECRET" run_kb get --profile p
expect_rc 0 "secret = env:MY_SECRET"

echo "# a secret file others can read is refused; a config file others can write is refused"
write_profile filesecret ok "token_url = $BASE/ok/token?filesecret"
chmod 644 "$WORK/secret"
run_kb get --profile filesecret
expect_rc 78 "group-readable secret file"
expect_eq "$ERR" "keybearer: secret file $WORK/secret is accessible to group or others (mode 0644) — run chmod 0600 $WORK/secret" "secret mode message"
chmod 600 "$WORK/secret"
run_kb get --profile filesecret
expect_rc 0 "secret file after chmod"
ln -s "$WORK/secret" "$WORK/secret-link"
write_profile linked ok "token_url = $BASE/ok/token?linked" "secret = file:$WORK/secret-link"
run_kb get --profile linked
expect_rc 0 "secret file through a symlink (mounted secrets)"
chmod 666 "$CONFIG"
run_kb get --profile filesecret
expect_rc 78 "world-writable config"
expect_match "$ERR" "config file $CONFIG is accessible to group or others \(mode 0666\) — run chmod 0644" "config mode message"
chmod 600 "$CONFIG"
KEYBEARER_CONFIG="$WORK/nope" run_kb get
expect_rc 78 "KEYBEARER_CONFIG pointing nowhere"
expect_eq "$ERR" "keybearer: config file $WORK/nope (from KEYBEARER_CONFIG) does not exist — create it or unset KEYBEARER_CONFIG" "missing config message"
echo "# a FIFO in the secret's place fails at once instead of hanging"
mkfifo -m 600 "$WORK/fifo"
write_profile fifo ok "token_url = $BASE/ok/token?fifo" "secret = file:$WORK/fifo"
start=$(date +%s)
run_kb get --profile fifo
expect_rc 78 "secret file is a FIFO"
expect_eq "$ERR" "keybearer: secret file $WORK/fifo is not a regular file — replace it" "FIFO message"
[ $(($(date +%s) - start)) -le 2 ] || fail "the FIFO made keybearer wait"

echo "# a CA file others can change is refused"
cp "$CA" "$WORK/shared-ca.pem"
chmod 664 "$WORK/shared-ca.pem"
write_profile sharedca ok "token_url = $BASE/ok/token?sharedca" "ca_file = $WORK/shared-ca.pem"
run_kb get --profile sharedca
expect_rc 78 "group-writable ca_file"
expect_eq "$ERR" "keybearer: ca_file $WORK/shared-ca.pem is accessible to group or others (mode 0664) — run chmod 0644 $WORK/shared-ca.pem" "ca_file message"
chmod 644 "$WORK/shared-ca.pem"
run_kb get --profile sharedca
expect_rc 0 "ca_file after chmod"

echo "# SSLKEYLOGFILE does not get the TLS keys (and with them the secret)"
write_profile keylog ok "token_url = $BASE/ok/token?keylog"
SSLKEYLOGFILE="$WORK/keys.log" run_kb get --profile keylog
expect_rc 0 "get with SSLKEYLOGFILE set"
[ ! -e "$WORK/keys.log" ] || fail "TLS keys were logged to SSLKEYLOGFILE"

echo "# urls may go on over indented lines"
printf '[profile many]\ntoken_url = %s/ok/token?many\nclient_id = %s\nurls = https://a.example/\n  https://b.example/\n' "$BASE" "$CLIENT_ID" >>"$CONFIG"
run_kb status --profile many
expect_match "$OUT" "urls          https://a.example/ https://b.example/" "continued urls"
echo "# the token request goes through https_proxy, except to loopback"
"$PY" "$TESTS/connectproxy.py" --port-file "$WORK/proxy-port" --log "$WORK/proxy.log" &
SERVER_PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/proxy-port" ] && break; sleep 0.05; done
proxy="http://127.0.0.1:$(cat "$WORK/proxy-port")"
write_profile proxied ok "token_url = https://token.test:$TLS_PORT/ok/token?proxied"
https_proxy=$proxy run_kb get --profile proxied
expect_rc 0 "get through the proxy"
expect_eq "$(cat "$WORK/proxy.log")" "token.test:$TLS_PORT" "tunnels the proxy opened"
https_proxy=$proxy no_proxy=token.test run_kb invalidate --profile proxied
https_proxy=http://127.0.0.1:1 no_proxy=token.test run_kb get --profile proxied
expect_rc 75 "no_proxy is honoured too (token.test is not resolvable)"
write_profile loopback ok "token_url = https://127.0.0.1:$TLS_PORT/ok/token?loopback"
https_proxy=$proxy HTTPS_PROXY=$proxy run_kb get --profile loopback
expect_rc 0 "get from a loopback endpoint with a proxy set"
expect_eq "$(cat "$WORK/proxy.log")" "token.test:$TLS_PORT" "no tunnel for a loopback endpoint"
echo "# secret = command:CMD: first line of stdout, stderr passed through, bounded in time"
printf '%s\n' "$SECRET" >"$WORK/vault"
chmod 600 "$WORK/vault"
write_profile cmd ok "token_url = $BASE/ok/token?cmd" "secret = command: echo unlocking >&2; cat '$WORK/vault'; echo second line"
run_kb get --profile cmd
expect_rc 0 "secret from a command"
expect_eq "$ERR" "unlocking" "the command's stderr"
write_profile cmdfail ok "token_url = $BASE/ok/token?cmdfail" "secret = command:echo 'vault: permission denied' >&2; exit 3"
run_kb get --profile cmdfail
expect_rc 78 "a failing secret command"
expect_eq "$ERR" "vault: permission denied
keybearer: the secret command of profile cmdfail failed (exit status 3) — run it by hand to see why: echo 'vault: permission denied' >&2; exit 3" "failing command message"
write_profile cmdslow ok "token_url = $BASE/ok/token?cmdslow" "timeout = 1" "secret = command:sleep 37 & sleep 37; echo x"
start=$(date +%s%N)
# No controlling terminal (setsid), as in CI: then the command's whole group is killed.
set +e
setsid -w "$KB" get --profile cmdslow >"$WORK/out" 2>"$WORK/err" </dev/null
RC=$?
set -e
OUT=$(cat "$WORK/out") ERR=$(cat "$WORK/err")
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_rc 75 "a hanging secret command"
expect_eq "$ERR" "keybearer: the secret command of profile cmdslow did not finish within 1 s — run it by hand to see why, or raise timeout" "hanging command message"
[ "$elapsed" -lt 2500 ] || fail "the hanging command took ${elapsed} ms"
pgrep -x -f "sleep 37" >/dev/null && fail "the command's process group survived"
write_profile cmdempty ok "token_url = $BASE/ok/token?cmdempty" "secret = command:true"
run_kb get --profile cmdempty
expect_rc 78 "a command printing nothing"
expect_match "$ERR" "client secret for profile cmdempty from its secret command is empty" "empty command message"
echo "config: all passed"

#!/usr/bin/env bash
# keybearer curl's option table (plugin/curl-options.tsv) against the installed curl: for
# every option it passes on, curl and keybearer curl agree on which words are URLs. Then
# every option it refuses and every attack of curlopts.tsv: refused, with nothing sent. Then
# the token kept off the network in the clear: no proxy for plain http, no TLS key log.
. "$(dirname "$0")/lib.sh"

start_server
export CURL_CA_BUNDLE="$CA"
TABLE="$KB_SOURCE/plugin/curl-options.tsv"

# Four plain-http listeners that log what reaches them (pathlog.py): U is claimed (its
# whole origin, for -L), V by no profile: option values point there. EVIL stands in for an
# attacker's host, PROXY for a proxy named in the environment.
"$PY" "$TESTS/pathlog.py" --ports 4 --port-file "$WORK/pathlog-ports" --log "$WORK/pathlog" &
SERVER_PIDS+=($!)
wait_for_file "$WORK/pathlog-ports" pathlog.py
read -r U_PORT V_PORT EVIL_PORT PROXY_PORT <"$WORK/pathlog-ports"
U="http://127.0.0.1:$U_PORT" V="http://127.0.0.1:$V_PORT"
EVIL="http://127.0.0.1:$EVIL_PORT" PROXY="http://127.0.0.1:$PROXY_PORT"
write_profile opts ok "token_url = $BASE/ok/token?opts" "urls = $U/"
write_profile main ok "urls = $BASE/api/"

# Some options write files, or read the files their values name: curl runs in a scratch
# directory, keybearer curl in another, both with the files curlopts-values.tsv names.
for dir in "$WORK/scratch-curl" "$WORK/scratch-kb"; do
	mkdir -p "$dir"
	printf 'upload\n' >"$dir/upload.txt"
	printf '"etag"\n' >"$dir/etag.txt"
done

# observe DIR COMMAND...: runs COMMAND in DIR with stdin from /dev/null; sets RC, OUT, ERR
# and SEEN: the requests that reached the listeners ("PORT PATH", sorted, one a line), or
# with OBSERVE=write-out, the URLs curl says it fetched (from -w, which COMMAND must end in).
observe() {
	local dir=$1
	shift
	: >"$WORK/pathlog"
	set +e
	(cd "$dir" && "$@") </dev/null >"$WORK/observed-out" 2>"$WORK/observed-err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/observed-out")
	ERR=$(cat "$WORK/observed-err")
	if [ "${OBSERVE:-log}" = write-out ]; then
		SEEN=$(sed -n 's|^http://127\.0\.0\.1:\([0-9]*\)\(/.*\)$|\1 \2|p' "$WORK/observed-out" | sort)
	else
		SEEN=$(sed -n 's/^\([0-9]*\) request \([^ ]*\) .*/\1 \2/p' "$WORK/pathlog" | sort)
	fi
}

# connections: how many connections reached any listener in the last observe.
connections() { grep -c ' connect$' "$WORK/pathlog" || true; }

# values: what curlopts-values.tsv says for OPTION: "VALUE OBSERVE", or "- log".
declare -A SAMPLE OBSERVE_BY
while IFS=$'\t' read -r name value how; do
	case "$name" in '#'* | '') continue ;; esac
	SAMPLE[$name]=$value
	OBSERVE_BY[$name]=$how
done <"$TESTS/curlopts-values.tsv"

# rows ROLE-REGEX: the table's rows whose role matches, as "name letter arity role" lines.
rows() { awk -F'\t' -v roles="^($1)\$" '!/^#/ && NF == 4 && $4 ~ roles { print $1, $2, $3, $4 }' "$TABLE"; }

echo "# every short letter of the table is that option's in the installed curl"
curl --help all >"$WORK/curl-help"
while read -r name letter arity role; do
	grep -Eq -- "^ -$letter, --$name( |\$)" "$WORK/curl-help" ||
		fail "curl --help all does not list -$letter as --$name (curl-options.tsv says so)"
done < <(rows '.*' | awk '$2 != "-"')

echo "# every option passed on: curl and keybearer curl agree on which words are URLs"
checked=0
# spelled FORM OPTION VALUE URL: sets WORDS to OPTION and VALUE (one word, FORM attached),
# then URL.
spelled() {
	if [ "$1" = attached ]; then WORDS=("$2$3" "$4"); else WORDS=("$2" "$3" "$4"); fi
}
# same_end A B: two curl exit statuses that say the same: equal, or both the end of a
# connection the server would not speak on (an HTTP/2-only option against this HTTP/1.1
# server ends as 52, empty reply, or 55/56, broken send or receive, as the race goes).
same_end() {
	[ "$1" = "$2" ] || { [[ " 52 55 56 " == *" $1 "* ]] && [[ " 52 55 56 " == *" $2 "* ]]; }
}

# agree NAME ARITY ROLE FORM OPTION: curl, then keybearer curl, with the option spelled
# OPTION, the word in its value's position, and a URL. The table says whether that word is
# a URL: a claimed one then; else one no profile claims, so that a keybearer curl that took
# it for a URL would refuse it.
agree() {
	local name=$1 arity=$2 role=$3 form=$4 option=$5 tag="$1-$4"
	local is_url=0 vword uword expected curl_rc curl_seen how extra=()
	if [ "$arity" = 0 ] || [ "$role" = url ]; then is_url=1; fi
	[ "$form" != attached ] || is_url=0 # the value is in the option's word
	how=${OBSERVE_BY[$name]:-log}
	[ "$how" = log ] || extra=(-w '%{url_effective}\n')
	uword="$U/url/$tag-u"
	if [ "$is_url" = 1 ]; then
		vword="$U/url/$tag-v"
		expected=$(printf '%s %s\n' "$U_PORT" "/url/$tag-u" "$U_PORT" "/url/$tag-v" | sort)
	else
		vword="$V/value/$tag-v"
		expected="$U_PORT /url/$tag-u"
	fi
	spelled "$form" "$option" "$vword" "$uword"
	OBSERVE=$how observe "$WORK/scratch-curl" curl -q "${WORDS[@]}" "${extra[@]}"
	if grep -Eq "is unknown|is ambiguous|isn't a boolean|doesn't support this" <<<"$ERR"; then
		fail "the installed curl rejects $option (--$name): it does not belong in curl-options.tsv: $ERR"
	fi
	if [ -z "$SEEN" ] && [ "$RC" != 0 ] && [ "$is_url" = 0 ] && [ "${SAMPLE[$name]:--}" != - ]; then
		# curl took the word as the option's value, and refused it (not a number, not a
		# file it can open): again, with a value it takes
		spelled "$form" "$option" "${SAMPLE[$name]}" "$uword"
		OBSERVE=$how observe "$WORK/scratch-curl" curl -q "${WORDS[@]}" "${extra[@]}"
	fi
	[ "$SEEN" = "$expected" ] ||
		fail "curl ${WORDS[*]}: curl fetched [$SEEN], the table (--$name, arity $arity, $role) says [$expected]; curl exited $RC: $ERR"
	curl_rc=$RC curl_seen=$SEEN
	OBSERVE=$how observe "$WORK/scratch-kb" "$KB" curl "${WORDS[@]}" "${extra[@]}"
	same_end "$RC" "$curl_rc" && [ "$SEEN" = "$curl_seen" ] ||
		fail "keybearer curl ${WORDS[*]}: exited $RC, fetched [$SEEN]; curl exited $curl_rc, fetched [$curl_seen]: $ERR"
	if [ "$is_url" = 1 ]; then
		# keybearer curl checks that word as a URL: one no profile claims is refused
		spelled "$form" "$option" "$V/value/$tag-v" "$uword"
		observe "$WORK/scratch-kb" "$KB" curl "${WORDS[@]}"
		expect_rc 78 "keybearer curl ${WORDS[*]} (an unclaimed URL after --$name)"
		expect_match "$ERR" "claims? $V/value/$tag-v: " "keybearer curl ${WORDS[*]}"
		expect_eq "$(connections)" 0 "connections for keybearer curl ${WORDS[*]}"
	fi
	checked=$((checked + 1))
}
while read -r name letter arity role; do
	agree "$name" "$arity" "$role" long "--$name"
	[ "$letter" != - ] || continue
	agree "$name" "$arity" "$role" short "-$letter"
	# in a bundle, after -s (or -S, for -s itself)
	if [ "$letter" = s ]; then bundle=-Ss; else bundle="-s$letter"; fi
	agree "$name" "$arity" "$role" bundled "$bundle"
	# the value in the option's own word: the next word is a URL
	[ "$arity" = 0 ] || agree "$name" "$arity" "$role" attached "-$letter"
done < <(rows 'plain|url|location|globoff|upload')
[ "$checked" -ge 150 ] || fail "only $checked spellings of allowed options were checked"
echo "ok - $checked spellings of $(rows 'plain|url|location|globoff|upload' | wc -l) options"

echo "# every option refused, and every attack of curlopts.tsv: exit 64 or 78, nothing sent"
"$KB" invalidate --profile opts >/dev/null
"$KB" invalidate --profile main >/dev/null
tokens_before=$(requests ok)
refused=0
# refuses EXIT PATTERN WORD...: keybearer curl WORD... fails with EXIT and one line on
# stderr matching PATTERN; nothing on stdout, nothing reached a listener, no token minted.
refuses() {
	local code=$1 pattern=$2
	shift 2
	observe "$WORK/scratch-kb" "$KB" curl "$@"
	local what="keybearer curl $(printf '%.200s' "$*")"
	expect_rc "$code" "$what"
	expect_eq "$OUT" "" "stdout of $what"
	expect_match "$ERR" "$pattern" "stderr of $what"
	expect_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "lines on stderr of $what"
	expect_eq "$(connections)" 0 "connections for $what"
	refused=$((refused + 1))
}
declare -A REASON=(
	[route]="it changes where the connection goes, and the token must go only to the URLs a profile claims"
	[trust]="it changes whom curl trusts, and the token must go only to the servers the claimed URLs name"
	[shows]="it would print or write the Authorization header, and with it the token"
	[own]="keybearer curl sets it itself, or it would bring in URLs or credentials keybearer cannot check"
)
while read -r name letter arity role; do
	value=()
	[ "$arity" = 0 ] || value=("$EVIL")
	message="^keybearer: keybearer curl does not take --$name: ${REASON[$role]} — leave it out$"
	refuses 64 "$message" "--$name" "${value[@]}" "$U/url/refused"
	[ "$letter" != - ] || continue
	message="^keybearer: keybearer curl does not take --$name \(-$letter\): ${REASON[$role]} — leave it out$"
	refuses 64 "$message" "-$letter" "${value[@]}" "$U/url/refused"
	refuses 64 "$message" "-sS$letter" "${value[@]}" "$U/url/refused"
done < <(rows 'route|trust|shows|own')

# Names curl would take and keybearer curl does not: abbreviations, other cases, "=".
unknown="^keybearer: keybearer curl does not know the curl option %s: it passes on only the options in its table \(exact names, no abbreviations\) — see keybearer curl --help$"
while read -r name letter arity role; do
	cut=${name%?}
	if ! rows '.*' | grep -q "^$cut "; then
		# shellcheck disable=SC2059 # the pattern is the format
		refuses 64 "$(printf "$unknown" "--$cut")" "--$cut" "$U/url/refused"
	fi
	# shellcheck disable=SC2059
	refuses 64 "$(printf "$unknown" "--${name^^}")" "--${name^^}" "$U/url/refused"
	if [ "$arity" = 1 ]; then
		refuses 64 "^keybearer: keybearer curl does not know the curl option --$name=…: curl takes an option's value as the next word, not after \"=\" — write --$name VALUE$" \
			"--$name=5" "$U/url/refused"
	else
		# shellcheck disable=SC2059
		refuses 64 "$(printf "$unknown" "--$name=…")" "--$name=1" "$U/url/refused"
	fi
done < <(rows 'plain|url|location|globoff|upload')

# The attacks, as data: placeholders in the arguments stand for this run's servers.
long5k=$(head -c 5000 /dev/zero | tr '\0' a)
long9k=$(head -c 9000 /dev/zero | tr '\0' a)
printf 'x' >"$WORK/scratch-kb/x"
cases=0
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	IFS=$'\t' read -r -a fields <<<"$line"
	code=${fields[0]} pattern=${fields[1]}
	words=()
	for word in "${fields[@]:2}"; do
		word=${word//\{U\}/$U}
		word=${word//\{U_PORT\}/$U_PORT}
		word=${word//\{V\}/$V}
		word=${word//\{EVIL\}/$EVIL}
		word=${word//\{EVIL_PORT\}/$EVIL_PORT}
		word=${word//\{PROXY\}/$PROXY}
		word=${word//\{BASE\}/$BASE}
		word=${word//\{WORK\}/$WORK}
		word=${word//\{LONG5K\}/$long5k}
		word=${word//\{LONG9K\}/$long9k}
		words+=("$word")
	done
	pattern=${pattern//\{U\}/$U}
	pattern=${pattern//\{EVIL\}/$EVIL}
	pattern=${pattern//\{WORK\}/$WORK}
	refuses "$code" "$pattern" "${words[@]}"
	cases=$((cases + 1))
done <"$TESTS/curlopts.tsv"
[ "$cases" -ge 40 ] || fail "only $cases attack cases ran"
expect_eq "$(requests ok)" "$tokens_before" "tokens minted for refused command lines"
echo "ok - $refused command lines refused ($cases attacks), nothing sent, no token minted"

echo "# plain http goes past every proxy the environment names"
# a curl on PATH that records its argv and environment, then runs the real one
mkdir -p "$WORK/wrapper"
cat >"$WORK/wrapper/curl" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$WORK/curl-argv"
env >"$WORK/curl-env"
exec $(command -v curl) "\$@"
EOF
chmod 755 "$WORK/wrapper/curl"
for variable in http_proxy HTTP_PROXY ALL_PROXY all_proxy; do
	# the listener works as a proxy: curl on its own sends there (not for HTTP_PROXY, which
	# curl never reads for http)
	observe "$WORK/scratch-curl" env "$variable=$PROXY" curl -q -sS "$U/url/control"
	if [ "$variable" = HTTP_PROXY ]; then
		expect_eq "$SEEN" "$U_PORT /url/control" "curl alone with $variable"
	else
		expect_eq "$SEEN" "$PROXY_PORT $U/url/control" "curl alone with $variable"
	fi
	observe "$WORK/scratch-kb" env "$variable=$PROXY" "PATH=$WORK/wrapper:$PATH" \
		"$KB" curl -sS "$U/url/direct"
	expect_rc 0 "keybearer curl with $variable"
	expect_eq "$OUT" ok "keybearer curl with $variable"
	expect_eq "$SEEN" "$U_PORT /url/direct" "requests of keybearer curl with $variable"
	expect_eq "$(grep -c "^$PROXY_PORT " "$WORK/pathlog" || true)" 0 "connections to the proxy ($variable)"
	expect_eq "$(grep -c "^$U_PORT request /url/direct auth=yes$" "$WORK/pathlog")" 1 "the header reached the server directly ($variable)"
done
expect_eq "$(sed -n '6,7p' "$WORK/curl-argv" | paste -sd ' ')" "--noproxy *" "curl's argv for plain http"
# https may go through a proxy: the tunnel carries TLS
PATH="$WORK/wrapper:$PATH" "$KB" curl -sS "$BASE/api/hello" >/dev/null
expect_no_match "$(cat "$WORK/curl-argv")" "--noproxy" "curl's argv for https"

echo "# curl's child environment has no TLS key log"
observe "$WORK/scratch-curl" env "SSLKEYLOGFILE=$WORK/control-keys" curl -q -sS -o /dev/null "$BASE/api/hello"
[ -s "$WORK/control-keys" ] || fail "curl alone did not write SSLKEYLOGFILE: the check below would prove nothing"
observe "$WORK/scratch-kb" env "SSLKEYLOGFILE=$WORK/keys" "GNUTLS_KEYLOGFILE=$WORK/gnutls-keys" \
	"PATH=$WORK/wrapper:$PATH" "$KB" curl -sS "$BASE/api/hello"
expect_rc 0 "keybearer curl with SSLKEYLOGFILE"
expect_eq "$OUT" '{"hello": "world", "client_id": "kb-test-client"}' "keybearer curl with SSLKEYLOGFILE"
[ ! -e "$WORK/keys" ] && [ ! -e "$WORK/gnutls-keys" ] || fail "curl under keybearer curl logged TLS keys"
expect_eq "$(grep -c -E '^(SSLKEYLOGFILE|GNUTLS_KEYLOGFILE)=' "$WORK/curl-env" || true)" 0 "key log variables in curl's environment"
grep -q "^CURL_CA_BUNDLE=$CA$" "$WORK/curl-env" || fail "curl's environment lost CURL_CA_BUNDLE"

echo "# curl reads its config once: another open of /dev/fd/3 finds no token"
ln -s /dev/fd/3 "$WORK/scratch-kb/config-link"
for format in @/dev/fd/3 @/proc/self/fd/3 @config-link; do
	observe "$WORK/scratch-kb" "$KB" curl -sS -w "$format" -o /dev/null "$U/url/fd3"
	expect_rc 0 "keybearer curl -w $format"
	expect_eq "$OUT" "" "what keybearer curl -w $format printed"
	expect_eq "$(grep -c "^$U_PORT request /url/fd3 auth=yes$" "$WORK/pathlog")" 1 "the header of keybearer curl -w $format"
done

echo "# a profile claims plain http only on loopback"
cat >"$WORK/plain-config" <<EOF
[profile plain]
token_url = $BASE/ok/token?plain
client_id = $CLIENT_ID
secret = file:$WORK/secret
urls = http://api.example.com/
EOF
chmod 600 "$WORK/plain-config"
KEYBEARER_CONFIG="$WORK/plain-config" run_kb curl -sS http://api.example.com/x
expect_rc 78 "a profile claiming plain http to another host"
expect_match "$ERR" "urls entry uses plain http to api\.example\.com: secrets and tokens would travel unencrypted" "its message"
echo "curlopts: all passed"

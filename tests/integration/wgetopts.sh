#!/usr/bin/env bash
# keybearer wget's option table (plugin/wget-options.tsv) against the installed wget: for
# every option it passes on, wget and keybearer wget agree on which words are URLs. Then
# every option it refuses and every attack of wgetopts.tsv: refused, with nothing sent.
# Then where the token goes and where it does not: no argv, no file, no second read of the
# config, no proxy for plain http, no redirect, no wgetrc; and the retry after a 401.
. "$(dirname "$0")/lib.sh"

start_server --http
TABLE="$KB_SOURCE/plugin/wget-options.tsv"
WGET=$(command -v wget)

# Four plain-http listeners that log what reaches them (pathlog.py): U is claimed, V by no
# profile: option values point there. EVIL stands in for an attacker's host, PROXY for a
# proxy named in the environment.
"$PY" "$TESTS/pathlog.py" --ports 4 --port-file "$WORK/pathlog-ports" --log "$WORK/pathlog" &
SERVER_PIDS+=($!)
wait_for_file "$WORK/pathlog-ports" pathlog.py
read -r U_PORT V_PORT EVIL_PORT PROXY_PORT <"$WORK/pathlog-ports"
U="http://127.0.0.1:$U_PORT" V="http://127.0.0.1:$V_PORT"
EVIL="http://127.0.0.1:$EVIL_PORT" PROXY="http://127.0.0.1:$PROXY_PORT"
write_profile opts ok "token_url = $BASE/ok/token?opts" "urls = $U/" "ca_file = "
write_profile main ok "urls = $BASE/api/" "ca_file = "
printf '%s/url/from-a-file\n' "$EVIL" >"$WORK/urls"

# Some options write files, or read the files their values name: wget runs in a scratch
# directory, keybearer wget in another, each laid anew for every run.
fresh() {
	rm -rf "$1"
	mkdir -p "$1"
	printf 'upload\n' >"$1/upload.txt"
	printf '# Netscape HTTP Cookie File\n' >"$1/cookies.txt"
}

# observe DIR COMMAND...: runs COMMAND in a fresh DIR with stdin from /dev/null; sets RC,
# OUT, ERR and SEEN: the requests that reached the listeners ("PORT PATH", sorted, one a
# line), or with OBSERVE=lines the URLs wget's log says it fetched.
observe() {
	local dir=$1
	shift
	fresh "$dir"
	: >"$WORK/pathlog"
	set +e
	(cd "$dir" && "$@") </dev/null >"$WORK/observed-out" 2>"$WORK/observed-err"
	RC=$?
	set -e
	OUT=$(cat "$WORK/observed-out")
	ERR=$(cat "$WORK/observed-err")
	if [ "${OBSERVE:-log}" = lines ]; then
		SEEN=$(sed -n 's|^--[0-9-]* [0-9:]*--  http://127\.0\.0\.1:\([0-9]*\)\(/.*\)$|\1 \2|p' "$WORK/observed-err" | sort)
	else
		SEEN=$(sed -n 's/^\([0-9]*\) request \([^ ]*\) .*/\1 \2/p' "$WORK/pathlog" | sort)
	fi
}

# connections: how many connections reached any listener in the last observe.
connections() { grep -c ' connect$' "$WORK/pathlog" || true; }

# What wgetopts-values.tsv says for an option.
declare -A SAMPLE EXTRA OBSERVE_BY
while IFS=$'\t' read -r name value extra how; do
	case "$name" in '#'* | '') continue ;; esac
	SAMPLE[$name]=$value
	EXTRA[$name]=$extra
	OBSERVE_BY[$name]=$how
done <"$TESTS/wgetopts-values.tsv"

# rows ROLE-REGEX: the table's rows whose role matches, as "name letter arity role" lines.
rows() { awk -F'\t' -v roles="^($1)\$" '!/^#/ && NF == 4 && $4 ~ roles { print $1, $2, $3, $4 }' "$TABLE"; }

echo "# every short letter of the table is that option's in the installed wget"
"$WGET" --help >"$WORK/wget-help"
while read -r name letter arity role; do
	if [ "$letter" = n ]; then
		# wget's -n takes letters (-nv, -nc, -nd, -nH, -np); --help shows them one by one
		grep -Eq -- "^ +-nv, --no-verbose " "$WORK/wget-help" || fail "wget --help lists no -nv"
		continue
	fi
	grep -Eq -- "^ +-$letter, +--$name([ =]|\$)" "$WORK/wget-help" ||
		fail "wget --help does not list -$letter as --$name (wget-options.tsv says so)"
done < <(rows '.*' | awk '$2 != "-"')

echo "# every option of the table is one the installed wget knows"
while read -r name letter arity role; do
	[ "$name" != config ] || continue # wget reads it at once: the run below does
	value=()
	[ "$arity" = 0 ] || value=(x)
	"$WGET" "--$name" "${value[@]}" --version >/dev/null 2>"$WORK/known-err" || true
	if grep -Eq "unrecognized option|ambiguous|doesn't allow an argument|requires an argument" "$WORK/known-err"; then
		fail "the installed wget does not take --$name: $(cat "$WORK/known-err")"
	fi
done < <(rows '.*')

echo "# every option passed on: wget and keybearer wget agree on which words are URLs"
checked=0
# spelled FORM OPTION VALUE URL: sets WORDS to OPTION and VALUE (one word for the forms
# that attach it), then URL.
spelled() {
	case "$1" in
	attached) WORDS=("$2$3" "$4") ;;
	equals) WORDS=("$2=$3" "$4") ;;
	*) WORDS=("$2" "$3" "$4") ;;
	esac
}
# agree NAME ARITY FORM OPTION: wget, then keybearer wget, with the option spelled OPTION,
# the word in its value's position, and a URL. The table says whether that word is a URL:
# a claimed one then; else one no profile claims, so that a keybearer wget that took it
# for a URL would refuse it.
agree() {
	local name=$1 arity=$2 form=$3 option=$4 tag="$1-$3"
	local is_url=0 vword uword expected wget_rc wget_seen how extra=()
	if [ "$arity" = 0 ]; then is_url=1; fi
	case "$form" in attached | equals) is_url=0 ;; esac
	how=${OBSERVE_BY[$name]:-log}
	[ "${EXTRA[$name]:--}" = - ] || read -r -a extra <<<"${EXTRA[$name]}"
	uword="$U/url/$tag-u"
	if [ "$is_url" = 1 ]; then
		vword="$U/url/$tag-v"
		expected=$(printf '%s %s\n' "$U_PORT" "/url/$tag-u" "$U_PORT" "/url/$tag-v" | sort)
	else
		vword="$V/value/$tag-v"
		expected="$U_PORT /url/$tag-u"
	fi
	spelled "$form" "$option" "$vword" "$uword"
	OBSERVE=$how observe "$WORK/scratch-wget" "$WGET" --no-config "${extra[@]}" "${WORDS[@]}"
	if grep -Eq "unrecognized option|ambiguous|doesn't allow an argument|requires an argument" <<<"$ERR"; then
		fail "the installed wget rejects ${WORDS[*]}: $ERR"
	fi
	if [ "$SEEN" != "$expected" ] && [ "$is_url" = 0 ] && [ "${SAMPLE[$name]:--}" != - ]; then
		# wget took the word as the option's value, and refused it (not a number, not a
		# file it can open): again, with a value it takes
		spelled "$form" "$option" "${SAMPLE[$name]}" "$uword"
		OBSERVE=$how observe "$WORK/scratch-wget" "$WGET" --no-config "${extra[@]}" "${WORDS[@]}"
	fi
	[ "$SEEN" = "$expected" ] ||
		fail "wget ${extra[*]} ${WORDS[*]}: wget fetched [$SEEN], the table (--$name, arity $arity) says [$expected]; wget exited $RC: $ERR"
	wget_rc=$RC wget_seen=$SEEN
	OBSERVE=$how observe "$WORK/scratch-kb" "$KB" wget "${extra[@]}" "${WORDS[@]}"
	[ "$RC" = "$wget_rc" ] && [ "$SEEN" = "$wget_seen" ] ||
		fail "keybearer wget ${extra[*]} ${WORDS[*]}: exited $RC, fetched [$SEEN]; wget exited $wget_rc, fetched [$wget_seen]: $ERR"
	if [ "$is_url" = 1 ]; then
		# keybearer wget checks that word as a URL: one no profile claims is refused
		spelled "$form" "$option" "$V/value/$tag-v" "$uword"
		observe "$WORK/scratch-kb" "$KB" wget "${extra[@]}" "${WORDS[@]}"
		expect_rc 78 "keybearer wget ${WORDS[*]} (an unclaimed URL after --$name)"
		expect_match "$ERR" "claims? $V/value/$tag-v: " "keybearer wget ${WORDS[*]}"
		expect_eq "$(connections)" 0 "connections for keybearer wget ${WORDS[*]}"
	fi
	checked=$((checked + 1))
}
while read -r name letter arity role; do
	agree "$name" "$arity" long "--$name"
	[ "$arity" = 0 ] || agree "$name" "$arity" equals "--$name"
	[ "$letter" != - ] || continue
	agree "$name" "$arity" short "-$letter"
	# in a bundle, after -S (or -v, for -S itself)
	if [ "$letter" = S ]; then bundle=-vS; else bundle="-S$letter"; fi
	agree "$name" "$arity" bundled "$bundle"
	# the value in the option's own word: the next word is a URL
	[ "$arity" = 0 ] || agree "$name" "$arity" attached "-$letter"
done < <(rows 'plain|header')
[ "$checked" -ge 120 ] || fail "only $checked spellings of allowed options were checked"
echo "ok - $checked spellings of $(rows 'plain|header' | wc -l) options"

echo "# every option refused, and every attack of wgetopts.tsv: exit 64 or 78, nothing sent"
"$KB" invalidate --profile opts >/dev/null
"$KB" invalidate --profile main >/dev/null
tokens_before=$(requests ok)
refused=0
# refuses EXIT PATTERN WORD...: keybearer wget WORD... fails with EXIT and one line on
# stderr matching PATTERN; nothing on stdout, nothing reached a listener, no token minted.
refuses() {
	local code=$1 pattern=$2
	shift 2
	observe "$WORK/scratch-kb" env "http_proxy=$PROXY" "$KB" wget "$@"
	local what="keybearer wget $(printf '%.200s' "$*")"
	expect_rc "$code" "$what"
	expect_eq "$OUT" "" "stdout of $what"
	expect_match "$ERR" "$pattern" "stderr of $what"
	expect_eq "$(printf '%s\n' "$ERR" | wc -l)" 1 "lines on stderr of $what"
	expect_eq "$(connections)" 0 "connections for $what"
	refused=$((refused + 1))
}
declare -A REASON=(
	[route]="it changes where the connection goes, and the token must go only to the URLs a profile claims"
	[trust]="it changes whom wget trusts, and the token must go only to the servers the claimed URLs name"
	[shows]="it would print or write the Authorization header, and with it the token"
	[follows]="it makes wget fetch URLs that are not on the command line, and the header would go to all of them"
	[own]="keybearer wget sets it itself, or it would bring in commands or credentials keybearer cannot check"
)
while read -r name letter arity role; do
	value=()
	[ "$arity" = 0 ] || value=("$EVIL")
	message="^keybearer: keybearer wget does not take --$name: ${REASON[$role]} — leave it out$"
	refuses 64 "$message" "--$name" "${value[@]}" "$U/url/refused"
	refuses 64 "$message" "$U/url/refused" "--$name=$EVIL"
	[ "$letter" != - ] || continue
	message="^keybearer: keybearer wget does not take --$name \(-$letter\): ${REASON[$role]} — leave it out$"
	refuses 64 "$message" "-$letter" "${value[@]}" "$U/url/refused"
	refuses 64 "$message" "-qS$letter" "${value[@]}" "$U/url/refused"
done < <(rows 'route|trust|shows|follows|own')

# Names wget would take and keybearer wget does not: abbreviations, other cases.
unknown="^keybearer: keybearer wget does not know the wget option %s: it passes on only the options in its table \(exact names, no abbreviations\) — see keybearer wget --help$"
while read -r name letter arity role; do
	cut=${name%?}
	if ! rows '.*' | grep -q "^$cut "; then
		# shellcheck disable=SC2059 # the pattern is the format
		refuses 64 "$(printf "$unknown" "--$cut")" "--$cut" "$U/url/refused"
	fi
	# shellcheck disable=SC2059
	refuses 64 "$(printf "$unknown" "--${name^^}")" "--${name^^}" "$U/url/refused"
	if [ "$arity" = 0 ]; then
		refuses 64 "^keybearer: keybearer wget takes --$name without a value — leave out \"=…\"$" \
			"--$name=1" "$U/url/refused"
	fi
done < <(rows 'plain|header')

# The attacks, as data: placeholders in the arguments stand for this run's servers.
cases=0
while IFS= read -r line; do
	case "$line" in '#'* | '') continue ;; esac
	IFS=$'\t' read -r -a fields <<<"$line"
	code=${fields[0]} pattern=${fields[1]}
	words=()
	for word in "${fields[@]:2}"; do
		word=${word//\{U\}/$U}
		word=${word//\{U_PORT\}/$U_PORT}
		word=${word//\{EVIL\}/$EVIL}
		word=${word//\{EVIL_PORT\}/$EVIL_PORT}
		word=${word//\{PROXY\}/$PROXY}
		word=${word//\{WORK\}/$WORK}
		words+=("$word")
	done
	pattern=${pattern//\{U\}/$U}
	pattern=${pattern//\{U_PORT\}/$U_PORT}
	pattern=${pattern//\{EVIL\}/$EVIL}
	pattern=${pattern//\{EVIL_PORT\}/$EVIL_PORT}
	refuses "$code" "$pattern" "${words[@]}"
	cases=$((cases + 1))
done <"$TESTS/wgetopts.tsv"
[ "$cases" -ge 50 ] || fail "only $cases attack cases ran"
expect_eq "$(requests ok)" "$tokens_before" "tokens minted for refused command lines"
echo "ok - $refused command lines refused ($cases attacks), nothing sent, no token minted"

# A wget on PATH that records its argv and environment, keeps each run's stderr (as the
# real wget wrote it), and passes it on.
mkdir -p "$WORK/wrapper"
cat >"$WORK/wrapper/wget" <<SCRIPT
#!/bin/sh
n=\$((\$(cat "$WORK/wget-runs" 2>/dev/null || echo 0) + 1))
echo "\$n" >"$WORK/wget-runs"
printf '%s\n' "\$@" >"$WORK/wget-argv"
env >"$WORK/wget-env"
$WGET "\$@" 2>"$WORK/wget-stderr.\$n"
rc=\$?
cat "$WORK/wget-stderr.\$n" >&2
exit \$rc
SCRIPT
chmod 755 "$WORK/wrapper/wget"
# wrapped ARGS...: keybearer wget ARGS with that wget, in a fresh scratch directory; sets
# RC, OUT, ERR, SEEN and RUNS (how many times wget ran).
wrapped() {
	rm -f "$WORK/wget-runs" "$WORK"/wget-stderr.*
	observe "$WORK/scratch-kb" env "PATH=$WORK/wrapper:$PATH" "$KB" wget "$@"
	RUNS=$(cat "$WORK/wget-runs" 2>/dev/null || echo 0)
}

echo "# wget's argv: the config on a path of keybearer's, no token"
wrapped -q -O - "$U/url/argv"
expect_rc 0 "keybearer wget -q -O - (wrapped)"
expect_eq "$OUT" ok "keybearer wget -q -O -"
expect_eq "$SEEN" "$U_PORT /url/argv" "requests of keybearer wget"
expect_eq "$(grep -c "^$U_PORT request /url/argv auth=yes$" "$WORK/pathlog")" 1 "the header reached the server"
expect_match "$(sed -n 1p "$WORK/wget-argv")" "^--config=/proc/[0-9]+/fd/[0-9]+$" "wget's first argument"
expect_eq "$(sed -n '2,$p' "$WORK/wget-argv" | paste -sd ' ')" "--no-netrc --max-redirect=0 --no-proxy -q -O - $U/url/argv" "the rest of wget's argv"
token=$("$KB" get --profile opts --format token)
# every execve, keybearer's children's included, and every argv in it
set +e
ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
	strace -f -qq -v -s 65536 -e trace=execve -o "$WORK/trace" "$KB" wget -q -O /dev/null "$U/url/traced" \
	</dev/null >/dev/null 2>&1
rc=$?
set -e
expect_eq "$rc" 0 "keybearer wget under strace"
grep -q 'execve("[^"]*wget", \["wget", "--config=/proc/' "$WORK/trace" || fail "strace saw no wget: $(cat "$WORK/trace")"
expect_no_match "$(cat "$WORK/trace")" "$token" "the execve calls of keybearer wget"

echo "# the token in no file: HOME, the XDG directories, /tmp, /dev/shm, the working directory"
# new_files DIR...: the files changed since $WORK/before, but the test's own (its logs,
# what fresh lays out) and the token cache (where tokens live, 0600 in a 0700 directory)
new_files() {
	find "$@" -newer "$WORK/before" -type f 2>/dev/null |
		grep -v -e "^$WORK/\(pathlog\|observed-\|wget-\|server.log\|port\)" -e "^$CACHE_DIR/" \
			-e "^$WORK/scratch-kb/\(upload\|cookies\)\.txt$" | sort -u || true
}
# holding_token: the new files anywhere a wget or a recipe might leave one (/tmp and
# /dev/shm are shared: only a file with the token counts there) that hold the token
holding_token() {
	new_files "$HOME" "$XDG_RUNTIME_DIR" /tmp /dev/shm "$WORK/scratch-kb" |
		while read -r file; do ! grep -qF -- "$token" "$file" 2>/dev/null || echo "$file"; done
}
touch "$WORK/before"
sleep 1.1 # find -newer compares whole seconds on some file systems
wrapped -O - "$U/url/no-file"
expect_rc 0 "keybearer wget -O -"
expect_eq "$(holding_token)" "" "files holding the token after keybearer wget"
expect_eq "$(new_files "$HOME" "$XDG_RUNTIME_DIR" "$WORK/scratch-kb")" "" "new files after keybearer wget -O -"
# the old recipe, to show the check finds such a file
(cd "$WORK/scratch-kb" && "$KB" get --profile opts --format wget >"$XDG_RUNTIME_DIR/wgetrc" &&
	"$WGET" -q -O /dev/null --config="$XDG_RUNTIME_DIR/wgetrc" "$U/url/old-recipe")
expect_eq "$(holding_token)" "$XDG_RUNTIME_DIR/wgetrc" "files holding the token after the old recipe"
rm "$XDG_RUNTIME_DIR/wgetrc"

echo "# wget reads its config once: another open of that path finds nothing"
mkdir -p "$WORK/second-read"
cat >"$WORK/second-read/wget" <<SCRIPT
#!/bin/sh
ln -sf "\${1#--config=}" "$WORK/config-link"
exec $WGET "\$@" "\$(cat "$WORK/second-read/option")$WORK/config-link"
SCRIPT
chmod 755 "$WORK/second-read/wget"
for option in --post-file= --body-file= --load-cookies=; do
	extra=()
	[ "$option" != --body-file= ] || extra=(--method=PUT)
	echo "$option" >"$WORK/second-read/option"
	observe "$WORK/scratch-kb" env "PATH=$WORK/second-read:$PATH" "$KB" wget -q -O - "${extra[@]}" "$U/url/second"
	expect_no_match "$OUT$ERR" "$token" "what keybearer wget printed with ${option}the config"
	if [ "$option" = --load-cookies= ]; then
		# cookies are optional: wget goes on without them
		expect_eq "$SEEN" "$U_PORT /url/second" "requests with ${option}the config"
	else
		expect_rc 3 "keybearer wget with ${option}the config (wget cannot read it)"
		expect_eq "$(connections)" 0 "connections with ${option}the config"
	fi
done
# a regular file, for contrast, is read again: the body goes out
"$KB" get --profile opts --format wget >"$WORK/wgetrc"
observe "$WORK/scratch-wget" "$WGET" -q -O - --config="$WORK/wgetrc" --post-file="$WORK/wgetrc" "$U/url/second"
expect_eq "$SEEN" "$U_PORT /url/second" "wget reading a config file twice"
rm "$WORK/wgetrc"

echo "# no wgetrc: neither /etc/wgetrc, WGETRC, SYSTEM_WGETRC nor ~/.wgetrc"
printf 'output_document = %s/wgetrc-was-read\n' "$WORK" >"$WORK/home-wgetrc"
cp "$WORK/home-wgetrc" "$HOME/.wgetrc"
observe "$WORK/scratch-wget" env "WGETRC=$WORK/home-wgetrc" "$WGET" -q "$U/url/control"
[ -e "$WORK/wgetrc-was-read" ] || fail "wget alone did not read WGETRC: the check below would prove nothing"
rm "$WORK/wgetrc-was-read"
observe "$WORK/scratch-kb" env "WGETRC=$WORK/home-wgetrc" "SYSTEM_WGETRC=$WORK/home-wgetrc" "$KB" wget -q "$U/url/rc"
expect_rc 0 "keybearer wget with a wgetrc"
[ ! -e "$WORK/wgetrc-was-read" ] || fail "keybearer wget let wget read a wgetrc"
[ -e "$WORK/scratch-kb/rc" ] || fail "keybearer wget did not save rc"
rm "$HOME/.wgetrc"

echo "# plain http goes past every proxy the environment names"
observe "$WORK/scratch-wget" env "http_proxy=$PROXY" "$WGET" --no-config -q -O - "$U/url/control"
expect_eq "$SEEN" "$PROXY_PORT $U/url/control" "wget alone with http_proxy"
for variable in http_proxy HTTP_PROXY https_proxy all_proxy; do
	observe "$WORK/scratch-kb" env "$variable=$PROXY" "$KB" wget -q -O - "$U/url/direct"
	expect_rc 0 "keybearer wget with $variable"
	expect_eq "$OUT" ok "keybearer wget with $variable"
	expect_eq "$SEEN" "$U_PORT /url/direct" "requests of keybearer wget with $variable"
	expect_eq "$(grep -c "^$PROXY_PORT " "$WORK/pathlog" || true)" 0 "connections to the proxy ($variable)"
	expect_eq "$(grep -c "^$U_PORT request /url/direct auth=yes$" "$WORK/pathlog")" 1 "the header reached the server directly ($variable)"
done
# https may go through a proxy: the tunnel carries TLS (wget fails here: no CA of ours)
write_profile tls ok "token_url = $BASE/ok/token?tls" "urls = https://127.0.0.1:$U_PORT/" "ca_file = "
wrapped -q -O - "https://127.0.0.1:$U_PORT/url/tls"
expect_no_match "$(cat "$WORK/wget-argv")" "--no-proxy" "wget's argv for https"

echo "# wget's environment: no TLS key log, no POSIXLY_CORRECT"
observe "$WORK/scratch-kb" env "SSLKEYLOGFILE=$WORK/keys" "GNUTLS_KEYLOGFILE=$WORK/gnutls-keys" POSIXLY_CORRECT=1 \
	"PATH=$WORK/wrapper:$PATH" "$KB" wget -q -O /dev/null "$U/url/env"
expect_rc 0 "keybearer wget with SSLKEYLOGFILE"
expect_eq "$(grep -c -E '^(SSLKEYLOGFILE|GNUTLS_KEYLOGFILE|POSIXLY_CORRECT)=' "$WORK/wget-env" || true)" 0 "those variables in wget's environment"
# with POSIXLY_CORRECT, wget's options would end at the first URL: EVIL's would be one
observe "$WORK/scratch-wget" env POSIXLY_CORRECT=1 "$WGET" --no-config -q -O /dev/null "$U/url/posix" --post-data "$EVIL/x"
expect_eq "$(grep -c "^$EVIL_PORT connect$" "$WORK/pathlog" || true)" 1 "wget alone with POSIXLY_CORRECT: EVIL is a URL"
observe "$WORK/scratch-kb" env POSIXLY_CORRECT=1 "$KB" wget -q -O /dev/null "$U/url/posix" --post-data "$EVIL/x"
expect_rc 0 "keybearer wget with POSIXLY_CORRECT"
expect_eq "$SEEN" "$U_PORT /url/posix" "requests of keybearer wget with POSIXLY_CORRECT"

echo "# no redirect: wget 1.21 would send the header to another host"
"$KB" get --profile opts --format wget >"$WORK/wgetrc"
observe "$WORK/scratch-wget" "$WGET" -q -O /dev/null --config="$WORK/wgetrc" "$U/redirect/$EVIL_PORT/landed"
expect_eq "$(grep -c "^$EVIL_PORT request /landed auth=yes$" "$WORK/pathlog" || true)" 1 "wget alone, redirected: the header at EVIL"
rm "$WORK/wgetrc"
observe "$WORK/scratch-kb" "$KB" wget -q -O /dev/null "$U/redirect/$EVIL_PORT/landed"
expect_rc 8 "keybearer wget, redirected"
expect_eq "$SEEN" "$U_PORT /redirect/$EVIL_PORT/landed" "requests of keybearer wget, redirected"

echo "# after a 401: one retry with a fresh token, nothing of the refused attempt shown"
hello='{"hello": "world", "client_id": "kb-test-client"}'
# Each case, tab-separated: what the refused attempt wrote on stderr (a regex), the
# retry's stdout ("-": none), and wget's arguments before the URL (shell words).
while IFS=$'\t' read -r refused expected_out args; do
	eval "words=($args)"
	[ "$expected_out" != - ] || expected_out=""
	server POST /_revoke "$("$KB" get --profile main --format token)"
	n=$(requests ok)
	wrapped "${words[@]}" "$BASE/api/hello"
	what="keybearer wget $args after a revocation"
	expect_rc 0 "$what"
	expect_eq "$RUNS" 2 "wget runs of $what"
	expect_match "$(cat "$WORK/wget-stderr.1")" "$refused" "the refused attempt's stderr ($what)"
	# (a mint that takes a second says so: keybearer's own line, not wget's)
	expect_eq "$(without_notices "$ERR")" "$(cat "$WORK/wget-stderr.2")" "stderr of $what (the retry's)"
	expect_eq "$OUT" "$expected_out" "stdout of $what"
	expect_eq "$(requests ok)" $((n + 1)) "tokens minted for $what"
done <<CASES
^$	$hello	-q -O -
401 Unauthorized	$hello	-O -
Authentication Failed	$hello	-nv -O -
401 Unauthorized	-	-O hello.json
401 Unauthorized	-	-S
CASES
expect_eq "$(cat "$WORK/scratch-kb/hello")" "$hello" "what the retry saved (-S, no -O)"
expect_eq "$(find "$WORK/scratch-kb" -maxdepth 1 -name 'hello*' | wc -l)" 1 "files the two runs saved"
# a resource that refuses every token: one retry, and only its answer
wrapped -O - "$BASE/api/deny"
expect_rc 6 "keybearer wget, a resource that refuses every token"
expect_eq "$RUNS" 2 "wget runs for a resource that refuses every token"
expect_eq "$(without_notices "$ERR")" "$(cat "$WORK/wget-stderr.2")" "stderr for a resource that refuses every token (the retry's)"
# two URLs: one may have been fetched already; the 401 is final, shown as wget wrote it
n=$(requests ok)
wrapped -O - "$BASE/api/hello" "$BASE/api/deny"
expect_rc 6 "keybearer wget, two URLs, one refused"
expect_eq "$RUNS" 1 "wget runs for two URLs"
expect_eq "$OUT" "$hello" "stdout for two URLs"
cmp -s "$WORK/observed-err" "$WORK/wget-stderr.1" || fail "stderr [$ERR] is not wget's, byte for byte"
expect_eq "$(requests ok)" "$n" "tokens minted for two URLs"
# a request that is no 401: its output as it comes, once
wrapped -O - "$BASE/api/hello"
expect_rc 0 "keybearer wget, a cached token"
expect_eq "$RUNS" 1 "wget runs with a good token"
cmp -s "$WORK/observed-err" "$WORK/wget-stderr.1" || fail "stderr [$ERR] is not wget's, byte for byte"
echo "wgetopts: all passed"

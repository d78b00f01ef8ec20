#!/usr/bin/env bash
# What the keyring costs keybearer-fetch's start, for each installed tree given (a
# `cmake --install --prefix`, e.g. one before a change and one after): hyperfine -N of
# `keybearer-fetch --version`, of a cold get whose secret is a file, and of a cold get whose
# secret is in a real Secret Service (gnome-keyring, headless, on a private session bus).
#
#   bench/keyring.sh [-r RUNS] STAGE [STAGE...]
#
# Prints one table of medians (ms), each over RUNS runs (40); the hyperfine JSON stays in
# $KB_BENCH_OUT when set.
set -euo pipefail
runs=40
if [ "${1:-}" = "-r" ]; then
	runs=$2
	shift 2
fi
[ $# -ge 1 ] || {
	echo "usage: bench/keyring.sh [-r RUNS] STAGE [STAGE...]" >&2
	exit 64
}
if [ -z "${KB_IN_SESSION:-}" ]; then
	KB_IN_SESSION=1 exec dbus-run-session -- bash "$0" -r "$runs" "$@"
fi
stages=()
for stage in "$@"; do
	stages+=("$(cd "$stage" && pwd)")
done
session_bus=$DBUS_SESSION_BUS_ADDRESS
export KB_STAGE=${stages[0]} KB_SOURCE=${KB_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
. "$KB_SOURCE/tests/integration/lib.sh"
export DBUS_SESSION_BUS_ADDRESS=$session_bus
eval "$(printf '%s' bench-password | gnome-keyring-daemon --unlock --components=secrets)"
gdbus wait --session --timeout 10 org.freedesktop.secrets

# plain http on loopback: the TLS handshake of the Python server would only add noise
start_server --http
write_profile file ok "ca_file = "
printf '%s' "$SECRET" >"$WORK/stdin"
KB_STDIN="$WORK/stdin" run_kb login --profile kr --client-id "$CLIENT_ID" \
	--token-url "$BASE/ok/token?kr" --no-verify
expect_rc 0 "login of the keyring profile"
for stage in "${stages[@]}"; do
	for profile in file kr; do
		"$stage/bin/keybearer" invalidate --profile "$profile" >/dev/null
		"$stage/bin/keybearer" get --profile "$profile" >/dev/null ||
			fail "$stage: get --profile $profile"
	done
done

out=${KB_BENCH_OUT:-$WORK}
mkdir -p "$out"
# The machine drifts over a run (other work, caches): rounds of 10 runs, each running every
# tree in turn, the first tree a different one each round; a tree's median is over all
# its runs.
rounds=$(((runs + 9) / 10))
measure() { # NAME PROFILE|-
	local name=$1 profile=$2 round i n=${#stages[@]} stage
	for round in $(seq 0 $((rounds - 1))); do
		for i in $(seq 0 $((n - 1))); do
			i=$(((i + round) % n))
			stage=${stages[$i]}
			if [ "$profile" = - ]; then
				hyperfine -N -w 3 -r $((runs / rounds)) --export-json "$out/$name.$i.$round.json" \
					"$stage/libexec/keybearer/keybearer-fetch --version" >/dev/null
			else
				hyperfine -N -i -w 3 -r $((runs / rounds)) --export-json "$out/$name.$i.$round.json" \
					-p "$stage/bin/keybearer invalidate --profile $profile" \
					"$stage/bin/keybearer get --profile $profile" >/dev/null
			fi
		done
	done
}
measure version -
measure file file
measure keyring kr
# The same get without a session bus fails at once, before any D-Bus traffic: what is left
# is what it costs to have libsecret (linked, loaded or in a process of its own), without
# the keyring daemon's noise.
(
	unset DBUS_SESSION_BUS_ADDRESS
	measure nobus kr
)

median() { # NAME TREE-INDEX
	jq -s '[.[].results[0].times[]] | sort | if length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end * 1000' "$out/$1.$2".*.json
}
printf '%-24s %16s %16s %18s %18s %s\n' tree "fetch --version" "cold get, file:" "cold get, keyring" "keyring, no bus" libraries
i=0
for stage in "${stages[@]}"; do
	libraries=$(ldd "$stage/libexec/keybearer/keybearer-fetch" | grep -c '=>')
	printf '%-24s %13.3f ms %13.3f ms %15.3f ms %15.3f ms %s\n' "$(basename "$stage")" \
		"$(median version "$i")" "$(median file "$i")" "$(median keyring "$i")" \
		"$(median nobus "$i")" "$libraries"
	i=$((i + 1))
done

# shellcheck shell=bash
# Sourced first by a test that runs a real host tool: runs the whole test again in a
# network namespace of its own where only a loopback exists (as root, with unshare and
# ip), so that nothing the tool tries can leave the machine — a stray request to a public
# registry fails the test instead of going out. Without root it runs as it is, and says so.
if [ -z "${KB_LOOPBACK_ONLY:-}" ]; then
	if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && unshare -n true 2>/dev/null; then
		KB_LOOPBACK_ONLY=1 exec unshare -n sh -c 'ip link set lo up && exec bash "$@"' sh "$0" "$@"
	fi
	echo "# (not in a network namespace: that needs root, unshare and ip)"
fi

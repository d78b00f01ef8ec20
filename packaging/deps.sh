#!/usr/bin/env bash
# Installs what keybearer needs to build, test and run its demo on Debian 12 (with --demo:
# to build and run the demo only).
# Idempotent and quiet when everything is present; uses sudo when not root.
set -euo pipefail

# What building keybearer and running the demo take (the demo: a token server in Python, a
# CA made with openssl, curl calling the API).
packages=(
	build-essential cmake pkg-config
	libcurl4-openssl-dev libjson-c-dev libinih-dev # the two binaries
	libsecret-1-dev                                # keybearer-fetch's keyring module
	libssl-dev                                     # inspect --verify (libcurl's OpenSSL)
	scdoc                                          # man pages
	python3 openssl curl ca-certificates           # the demo
)
# and what the tests add: `deps.sh --demo` leaves these out
demo_only=
[ "${1:-}" != "--demo" ] || demo_only=1
[ -n "$demo_only" ] || packages+=(
	gnome-keyring dbus libsecret-tools libglib2.0-bin # a real Secret Service for the tests
	libcmocka-dev                                  # unit tests
	clang libclang-rt-14-dev                       # fuzz harnesses (libFuzzer)
	clang-format                                   # the sources follow .clang-format
	wget util-linux jq procps binutils strace valgrind # tests
	iproute2                                       # a test's network namespace: loopback only
	git git-lfs                                    # real git and git-lfs against a test server
	hyperfine                                      # benchmark
	man-db                                         # checking the man pages
	bash-completion zsh fish                       # the completions, and checking them
	debhelper dh-python dpkg-dev lintian rpm       # the .deb and the RPM
	python3-authlib python3-flask                  # a real authorization server (interop)
	httpie                                         # the real HTTPie and its auth plugin
)
# and Node.js for the other (oidc-provider); a Node already installed (say from NodeSource)
# is kept: Debian's npm package would replace it
if [ -z "$demo_only" ]; then
	command -v node >/dev/null || packages+=(nodejs)
	command -v npm >/dev/null || packages+=(npm)
	# The real kubectl the integration tests drive, on a machine without one: Debian's
	# (1.20, which speaks exec v1beta1 only). Terraform is not in Debian: the tests drive
	# one that is installed, and say "skipped" without.
	command -v kubectl >/dev/null || packages+=(kubernetes-client)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	sudo=()
	[ "$(id -u)" -eq 0 ] || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The interop test's oidc-provider and the pnpm realtools-pnpm.sh drives, exactly as
# tests/interop/package-lock.json pins them.
interop="$(cd "$(dirname "$0")/.." && pwd)/tests/interop"
if [ -z "$demo_only" ] && { [ ! -d "$interop/node_modules/oidc-provider" ] ||
	[ ! -d "$interop/node_modules/pnpm" ]; }; then
	(cd "$interop" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

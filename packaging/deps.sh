#!/usr/bin/env bash
# Installs what keybearer needs to build, test and run its demo on Debian 12.
# Idempotent and quiet when everything is present; uses sudo when not root.
set -euo pipefail

packages=(
	build-essential cmake pkg-config
	libcurl4-openssl-dev libjson-c-dev libinih-dev # the two binaries
	libsecret-1-dev                                # keybearer-fetch's keyring access
	gnome-keyring dbus libsecret-tools libglib2.0-bin # a real Secret Service for the tests
	libcmocka-dev                                  # unit tests
	clang libclang-rt-14-dev                       # fuzz harnesses (libFuzzer)
	python3 openssl curl wget ca-certificates util-linux jq procps binutils strace valgrind # tests, demo
	hyperfine                                      # benchmark
	scdoc man-db                                   # man pages, and checking them
	bash-completion zsh fish                       # the completions, and checking them
	debhelper dpkg-dev lintian rpm                 # the .deb and the RPM
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

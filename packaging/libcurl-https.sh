#!/usr/bin/env bash
# Builds the libcurl that keybearer-fetch links: the curl source of this Debian release, as
# apt fetches and checks it (its signed Sources, the .dsc's hashes) with Debian's security
# patches applied, configured for HTTP and HTTPS over the system's shared OpenSSL and for
# nothing else, as a static library with a libcurl.pc in PREFIX:
#   packaging/libcurl-https.sh PREFIX
# then cmake -DKEYBEARER_LIBCURL_PREFIX=PREFIX.
#
# Why: Debian's libcurl4 brings about 30 shared libraries a mint never uses (LDAP, RTMP, SSH,
# Kerberos, GnuTLS through librtmp, HTTP/2, IDN, PSL, brotli, zstd). Loading them is about
# 6 ms of every mint (bench/run.sh's "keybearer-fetch starts" row); without them a cold get
# costs 2x its TLS handshake and round trip instead of 3.5x. What is left out cannot be
# attacked either: no protocol but HTTP(S), no cookies, no NTLM, no alt-svc or HSTS files.
# OpenSSL stays shared, so its updates reach keybearer-fetch at once; curl's reach it when
# this is built again (the .deb names the source in Built-Using).
#
# Idempotent: a PREFIX built by this version of the script is kept (KEYBEARER_LIBCURL_REFRESH=1
# fetches the source again). Needs apt-get, dpkg-source (dpkg-dev), cmake and a compiler;
# the system's apt configuration is not touched: the source lists live in PREFIX.work.
set -euo pipefail

[ $# -eq 1 ] && [ -n "$1" ] || {
	echo "usage: packaging/libcurl-https.sh PREFIX" >&2
	exit 64
}
mkdir -p "$1"
prefix=$(cd "$1" && pwd)
work=$prefix.work
script_hash=$(sha256sum "$0" | cut -c1-16)
stamp="$prefix/keybearer-libcurl.stamp"

if [ -z "${KEYBEARER_LIBCURL_REFRESH:-}" ] && [ -f "$stamp" ] &&
	[ "$(sed -n 1p "$stamp")" = "script $script_hash" ] && [ -f "$prefix/lib/libcurl.a" ]; then
	exit 0
fi

. /etc/os-release
codename=${VERSION_CODENAME:?/etc/os-release names no release codename}
mirror=${KEYBEARER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${KEYBEARER_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/sources.list.d" "$work/src"
cat >"$work/sources.list" <<EOF
deb-src [signed-by=$keyring] $mirror $codename main
deb-src [signed-by=$keyring] $mirror $codename-updates main
deb-src [signed-by=$keyring] $security $codename-security main
EOF
apt_private=(
	-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=$work/sources.list.d"
	-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1
	-o APT::Sandbox::User="$(id -un)"
)
fail() {
	echo "keybearer: building libcurl for keybearer-fetch: $1 — $2" >&2
	exit 1
}
apt-get "${apt_private[@]}" -qq update >"$work/apt.log" 2>&1 ||
	fail "apt-get update of the source lists failed (see $work/apt.log)" \
		"reach $mirror, or build with the system's libcurl (no KEYBEARER_LIBCURL_PREFIX)"
(cd "$work/src" && apt-get "${apt_private[@]}" -qq source --download-only curl) >>"$work/apt.log" 2>&1 ||
	fail "apt-get source curl failed (see $work/apt.log)" \
		"reach $mirror, or build with the system's libcurl (no KEYBEARER_LIBCURL_PREFIX)"
dsc=$(ls "$work"/src/curl_*.dsc)
# checks the .dsc's hashes of the tarballs, applies debian/patches
(cd "$work/src" && dpkg-source -x "$dsc" curl) >>"$work/apt.log" 2>&1 ||
	fail "dpkg-source could not unpack $dsc (see $work/apt.log)" "install dpkg-dev"
version=$(sed -n 's/^Version: //p' "$dsc")

# Debian's hardening flags, as its own package has them
cflags="$(dpkg-buildflags --get CFLAGS) $(dpkg-buildflags --get CPPFLAGS) -fPIC"
cmake -S "$work/src/curl" -B "$work/build" -DCMAKE_BUILD_TYPE= -DCMAKE_C_FLAGS="$cflags" \
	-DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_INSTALL_LIBDIR=lib \
	-DBUILD_SHARED_LIBS=OFF -DBUILD_CURL_EXE=OFF -DBUILD_TESTING=OFF \
	-DHTTP_ONLY=ON -DCURL_USE_OPENSSL=ON -DENABLE_THREADED_RESOLVER=ON -DENABLE_IPV6=ON \
	-DCURL_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt -DCURL_CA_PATH=/etc/ssl/certs \
	-DCURL_DISABLE_LDAP=ON -DCURL_DISABLE_COOKIES=ON -DCURL_DISABLE_NTLM=ON \
	-DCURL_DISABLE_ALTSVC=ON -DCURL_DISABLE_HSTS=ON -DCURL_DISABLE_NETRC=ON \
	-DENABLE_UNIX_SOCKETS=OFF -DUSE_NGHTTP2=OFF -DUSE_LIBIDN2=OFF -DCURL_USE_LIBPSL=OFF \
	-DCURL_USE_LIBSSH2=OFF -DCURL_USE_LIBSSH=OFF -DCURL_USE_GSSAPI=OFF -DCURL_ZLIB=OFF \
	-DCURL_BROTLI=OFF -DCURL_ZSTD=OFF >"$work/build.log" 2>&1 ||
	fail "configuring curl $version failed (see $work/build.log)" "install cmake and libssl-dev"
cmake --build "$work/build" -j"$(nproc)" >>"$work/build.log" 2>&1 ||
	fail "building curl $version failed (see $work/build.log)" "install build-essential"
rm -rf "$prefix/lib" "$prefix/include"
cmake --install "$work/build" >>"$work/build.log" 2>&1 ||
	fail "installing curl $version into $prefix failed (see $work/build.log)" "check the disk"
rm -rf "$prefix/lib/pkgconfig" "$prefix/lib/cmake" "$prefix/bin"
mkdir -p "$prefix/lib/pkgconfig"
# OpenSSL as a requirement, so that pkg-config names it after -lcurl
cat >"$prefix/lib/pkgconfig/libcurl.pc" <<EOF
prefix=$prefix
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libcurl
Description: libcurl for keybearer-fetch: HTTP and HTTPS only, static, over the system's OpenSSL
Version: ${version%%-*}
Requires: libssl libcrypto
Libs: -L\${libdir} -lcurl -lpthread
Cflags: -I\${includedir}
EOF
printf 'script %s\nsource curl %s\n' "$script_hash" "$version" >"$stamp"
rm -rf "$work"

#!/bin/bash
# make-ca.sh DIR -- create throw-away TLS material for the integration tests.
#
#   ca.pem, ca.key                  test CA the client is told to trust
#   server.pem, server.key          server certificate issued by that CA
#   other-ca.pem, other-ca.key      an unrelated self-signed CA ...
#   other-server.pem, other-server.key
#                                   ... and a server certificate issued by it,
#                                   for checking that verification fails
#   client.pem, client.key          a client certificate (CN=kb-test-client) the
#                                   test CA issued, for mutual TLS
#   other-client.pem, other-client.key
#                                   the same name, issued by the unrelated CA:
#                                   one a server asking for the test CA refuses
#
# Both server certificates carry identical names, so the only difference a
# client can notice between them is which CA signed them.
set -euo pipefail

if [ "$#" -ne 1 ]; then
    echo "usage: $0 DIR" >&2
    exit 2
fi
dir=$1
mkdir -p -- "$dir"

# Keys must never be readable by others, even for the instant between
# openssl creating them and a later chmod.
umask 077

# An empty config keeps the system openssl.cnf (e.g. Debian's
# x509_extensions = v3_ca) from adding extensions behind our back.
export OPENSSL_CONF=/dev/null

# openssl prints progress noise on stderr even when it succeeds; only show it
# when something went wrong.
run_openssl() {
    local out
    if ! out=$(openssl "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        return 1
    fi
}

keygen=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc)
days=2

# make_pair PREFIX CA_NAME: PREFIXca.{pem,key} and PREFIXserver.{pem,key}
make_pair() {
    local prefix=$1 ca_name=$2
    local ca="$dir/${prefix}ca" server="$dir/${prefix}server"

    run_openssl req -x509 "${keygen[@]}" -days "$days" \
        -subj "/CN=$ca_name" \
        -keyout "$ca.key" -out "$ca.pem" \
        -addext basicConstraints=critical,CA:TRUE \
        -addext keyUsage=critical,keyCertSign,cRLSign

    run_openssl req "${keygen[@]}" -days "$days" \
        -subj "/CN=localhost" \
        -CA "$ca.pem" -CAkey "$ca.key" \
        -keyout "$server.key" -out "$server.pem" \
        -addext "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:token.test" \
        -addext basicConstraints=critical,CA:FALSE \
        -addext keyUsage=critical,digitalSignature \
        -addext extendedKeyUsage=serverAuth

    chmod 0600 "$ca.key" "$server.key"
    chmod 0644 "$ca.pem" "$server.pem"
}

make_pair "" "keybearer test CA"
make_pair "other-" "keybearer untrusted test CA"

# make_client PREFIX: PREFIXclient.{pem,key}, issued by PREFIXca
make_client() {
    local prefix=$1 client="$dir/${1}client"
    run_openssl req "${keygen[@]}" -days "$days" \
        -subj "/CN=kb-test-client" \
        -CA "$dir/${prefix}ca.pem" -CAkey "$dir/${prefix}ca.key" \
        -keyout "$client.key" -out "$client.pem" \
        -addext basicConstraints=critical,CA:FALSE \
        -addext keyUsage=critical,digitalSignature \
        -addext extendedKeyUsage=clientAuth
    chmod 0600 "$client.key"
    chmod 0644 "$client.pem"
}

make_client ""
make_client "other-"

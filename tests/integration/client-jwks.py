#!/usr/bin/python3
"""client-jwks.py PEM...: prints the JWKS a provider registers for these private keys.

Written with authlib's JOSE code (Debian's python3-authlib), not keybearer's: each
public key carries the kid authlib computes as its RFC 7638 thumbprint, so a server
that finds keybearer's kid in this set proves keybearer's thumbprint independently.
A PEM given as FILE=KID gets that kid instead."""

import json
import sys

from authlib.jose import JsonWebKey

keys = []
for arg in sys.argv[1:]:
    path, _, kid = arg.partition("=")
    with open(path, "rb") as f:
        key = JsonWebKey.import_key(f.read())
    public = key.as_dict(is_private=False)
    public["kid"] = kid or key.thumbprint()
    keys.append(public)
json.dump({"keys": keys}, sys.stdout)

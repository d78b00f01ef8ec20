#!/usr/bin/python3
"""A fake CI OIDC issuer, for keybearer's federated-assertion tests: it answers GitHub
Actions' ID-token request and publishes the keys its tokens are signed with.

Usage:
    ci_issuer.py --port-file FILE --request-token-file FILE [--log FILE]

Listens on 127.0.0.1 (plain http, which keybearer allows for loopback) on an ephemeral
port and writes it to FILE once it accepts connections.

    GET /<mode>/idtoken?api-version=2.0&audience=AUD
        as $ACTIONS_ID_TOKEN_REQUEST_URL does: needs "Authorization: bearer TOKEN" with
        the request token of --request-token-file (else 401) and exactly one audience
        parameter (else 400); answers {"count": 1, "value": JWT}, an RS256 JWT with
        iss = the base URL, sub = SUBJECT, aud = AUD, a fresh jti, exp 300 s ahead.
        <mode> ok does that; the others fail: down (503, transient), flaky (503 on the
        first request of each audience, then ok), forbidden (403), notfound (404),
        badjson (200, not JSON), novalue (200, no "value"), expired (a JWT dead 60 s ago).
    GET /.well-known/jwks.json                 the public key (kid "ci")
    GET /.well-known/openid-configuration      issuer and jwks_uri
    GET /_mint?aud=AUD&exp=SECONDS[&sub=S][&iss=I]
        a token as the ID-token endpoint would sign it (for env: and file: sources),
        exp SECONDS from now (negative: already expired); nbf=SECONDS from now (default 0)
    GET /_count/<mode>                         requests that reached /<mode>/idtoken
    GET /_last/<mode>                          the last one: {"audience", "auth"}

SUBJECT is repo:keybearer/test:ref:refs/heads/main, as GitHub spells a workflow's
subject. --log gets one JSON line per ID-token request. Debian's python3-cryptography
signs; nothing else beyond the standard library.
"""

import argparse
import base64
import http.server
import json
import os
import secrets
import socketserver
import sys
import threading
import time
import urllib.parse

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SUBJECT = "repo:keybearer/test:ref:refs/heads/main"
MODE_PATH = "/idtoken"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Issuer:
    def __init__(self, request_token, log_path):
        self.request_token = request_token
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.lock = threading.Lock()
        self.counts = {}
        self.last = {}
        self.seen_audiences = set()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None
        self.base = None

    def jwks(self):
        n = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "kid": "ci", "use": "sig", "alg": "RS256",
                          "n": b64url(n.n.to_bytes(256, "big")),
                          "e": b64url(n.e.to_bytes(3, "big"))}]}

    def sign(self, aud, exp_in, sub=SUBJECT, iss=None, nbf_in=0):
        now = int(time.time())
        claims = {"iss": iss or self.base, "sub": sub, "aud": aud,
                  "jti": secrets.token_hex(8), "iat": now, "nbf": now + nbf_in,
                  "exp": now + exp_in, "repository": "keybearer/test"}
        header = {"alg": "RS256", "typ": "JWT", "kid": "ci"}
        signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                         + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()))
        signature = self.key.sign(signing_input.encode("ascii"), padding.PKCS1v15(),
                                  hashes.SHA256())
        return signing_input + "." + b64url(signature)

    def record(self, mode, entry):
        with self.lock:
            self.counts[mode] = self.counts.get(mode, 0) + 1
            self.last[mode] = entry
            first = (mode, entry.get("audience")) not in self.seen_audiences
            self.seen_audiences.add((mode, entry.get("audience")))
            if self.log_file is not None:
                self.log_file.write(json.dumps(dict(entry, mode=mode)) + "\n")
                self.log_file.flush()
        return first


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keybearer-ci-issuer/1"

    def send_json(self, status, obj):
        body = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_text(self, status, text, ctype="text/plain"):
        body = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        issuer = self.server.issuer
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        if url.path.endswith(MODE_PATH) and url.path.count("/") == 2:
            self.idtoken(url.path[1:-len(MODE_PATH)], query)
        elif url.path == "/.well-known/jwks.json":
            self.send_json(200, issuer.jwks())
        elif url.path == "/.well-known/openid-configuration":
            self.send_json(200, {"issuer": issuer.base,
                                 "jwks_uri": issuer.base + "/.well-known/jwks.json"})
        elif url.path == "/_mint":
            self.send_text(200, issuer.sign(query["aud"][0], int(query["exp"][0]),
                                            query.get("sub", [SUBJECT])[0],
                                            query.get("iss", [None])[0],
                                            int(query.get("nbf", ["0"])[0])) + "\n")
        elif url.path.startswith("/_count/"):
            with issuer.lock:
                self.send_text(200, "%d\n" % issuer.counts.get(url.path[8:], 0))
        elif url.path.startswith("/_last/"):
            with issuer.lock:
                self.send_json(200, issuer.last.get(url.path[7:]))
        else:
            self.send_text(404, "not found\n")

    def idtoken(self, mode, query):
        issuer = self.server.issuer
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        audiences = query.get("audience", [])
        entry = {"audience": audiences[0] if len(audiences) == 1 else audiences,
                 "auth": ("valid" if scheme.lower() == "bearer" and
                          secrets.compare_digest(token, issuer.request_token)
                          else "none" if not auth else "invalid"),
                 "api_version": query.get("api-version", [None])[0]}
        first = issuer.record(mode, entry)
        if entry["auth"] != "valid":
            return self.send_json(401, {"message": "Bad credentials"})
        if len(audiences) != 1 or not audiences[0]:
            return self.send_json(400, {"message": "audience must be given once"})
        if mode == "down" or (mode == "flaky" and first):
            return self.send_text(503, "Service Unavailable")
        if mode == "forbidden":
            return self.send_json(403, {"message": "Resource not accessible by integration"})
        if mode == "notfound":
            return self.send_text(404, "Not Found")
        if mode == "badjson":
            return self.send_text(200, "<html>sign in</html>", "application/json")
        if mode == "novalue":
            return self.send_json(200, {"count": 1})
        if mode not in ("ok", "flaky", "expired"):
            return self.send_text(404, "unknown mode\n")
        value = issuer.sign(audiences[0], -60 if mode == "expired" else 300)
        self.send_json(200, {"count": 1, "value": value})

    def log_message(self, fmt, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--request-token-file", required=True)
    ap.add_argument("--log")
    args = ap.parse_args()
    with open(args.request_token_file, encoding="utf-8") as f:
        request_token = f.read().strip()
    server = Server(("127.0.0.1", 0), Handler)
    server.issuer = Issuer(request_token, args.log)
    server.issuer.base = "http://127.0.0.1:%d" % server.server_port
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_port)
    os.rename(tmp, args.port_file)
    server.serve_forever(poll_interval=0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""OAuth 2.0 token server with fault injection, for keybearer's integration tests.

Usage:
    tokenserver.py --port-file FILE --client-id ID --secret-file PATH
                   [--cert server.pem --key server.key]
                   [--slow-seconds 5] [--log FILE]

Listens on 127.0.0.1 on an ephemeral port and writes that port to FILE once it
accepts connections.  POST /<mode>/token behaves as selected by <mode> (see
MODES at the bottom); /_count, /_last and /_reset let a test inspect what the
client sent, /_issued lists every token issued with its expiry; POST /_revoke with a token as the body makes /api/hello refuse it;
POST /_override/<mode> with another mode's name as the body makes
<mode> behave like that one (an empty body restores it); GET /api/hello is a
resource protected by the issued tokens.

With --git-root, /git/ serves the repositories below it through `git http-backend`,
and each repository's Git LFS API (a batch endpoint, the basic transfer adapter
and lock verification) at /git/<repo>/info/lfs/; with --cargo-root, /cargo/
serves that directory as a cargo sparse registry; with --npm-root, /npm/ serves an npm
registry (NAME/packument.json at /npm/NAME, the tarballs below NAME/-/); /guarded/ is
a resource for HTTP clients (/guarded/deny refuses every token, /guarded/redirect/PATH
redirects to /PATH, anything else echoes the request). All take only an issued token,
and GET /_requests/<git|lfs|cargo|npm|guarded> lists every request they saw: its Host header,
method, path (with the query), what its Authorization header held ("none", "valid"
or "invalid") and the status it got.

Standard library only: it must run with Debian's /usr/bin/python3.
"""

import argparse
import base64
import email.utils
import hashlib
import hmac
import html
import http.server
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse

MAX_BODY = 1024 * 1024
LFS_MAX_BODY = 16 * 1024 * 1024  # an LFS upload is the object itself
LFS_JSON = "application/vnd.git-lfs+json"
LFS_OID = re.compile(r"^[0-9a-f]{64}$")
LFS_PATH = re.compile(r"^/git/([A-Za-z0-9._-]+\.git)/info/lfs/(.+)$")
HUGE_SIZE = 8 * 1024 * 1024
CHUNK = 64 * 1024

# Errors that merely mean the client went away, which several modes provoke
# on purpose.  ssl.SSLError is an OSError too, but spelling it out documents
# that a TLS-level hang-up is expected as well.
HANGUP_ERRORS = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError,
                 ssl.SSLError, TimeoutError)

TOKEN_PATH = re.compile(r"^/([^/]+)/token$")


class BadRequest(Exception):
    """The HTTP request itself is unusable (not an OAuth-level error)."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class OAuthError(Exception):
    """An RFC 6749 section 5.2 error response."""

    def __init__(self, status, error, description=None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description


def invalid_client(description="Client authentication failed"):
    return OAuthError(401, "invalid_client", description)


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


class State:
    """Everything shared between request threads, guarded by one lock."""

    def __init__(self, client_id, secret, slow_seconds, log_path):
        self.client_id = client_id
        self.secret = secret
        self.slow_seconds = slow_seconds
        self.lock = threading.Lock()
        self.counts = {}
        self.last = {}
        self.overrides = {}  # mode -> the mode whose behaviour it borrows for now
        self.issued = {}  # token -> (expiry as real time.time(), client_id)
        self.bindings = {}  # token -> the x5t#S256 of the certificate it is bound to
        self.jti = 0
        # Tokens only need to be verifiable by this process.
        self.jwt_key = secrets.token_bytes(32)
        self.resource_requests = []  # what /_requests reports
        # federated assertions and token exchange: whose ID tokens are trusted (POST
        # /_trust), and the jti of every assertion taken (an assertion is used once)
        self.trust = None
        self.used_jtis = set()
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def log(self, line):
        if self.log_file is None:
            return
        with self.lock:
            self.log_file.write(line.rstrip("\n") + "\n")
            self.log_file.flush()

    def record(self, mode, entry):
        with self.lock:
            self.counts[mode] = self.counts.get(mode, 0) + 1
            self.last[mode] = entry

    def annotate(self, entry, key, value):
        # The entry may be serialised by /_last concurrently, hence the lock.
        with self.lock:
            entry[key] = value

    def count(self, mode=None):
        with self.lock:
            if mode is None:
                return sum(self.counts.values())
            return self.counts.get(mode, 0)

    def last_json(self, mode):
        with self.lock:
            entry = self.last.get(mode)
            return None if entry is None else json.dumps(entry)

    def record_resource(self, area, entry):
        entry = dict(entry, area=area)
        with self.lock:
            self.resource_requests.append(entry)
        return entry

    def resource_json(self, area):
        with self.lock:
            return json.dumps([e for e in self.resource_requests if e["area"] == area])

    def reset(self):
        with self.lock:
            self.resource_requests.clear()
            self.counts.clear()
            self.last.clear()
            self.overrides.clear()

    def set_override(self, mode, behaviour):
        # Lets a test break an endpoint its client already holds a token from,
        # without changing the URL (which would change the client's cache key).
        with self.lock:
            if behaviour:
                self.overrides[mode] = behaviour
            else:
                self.overrides.pop(mode, None)

    def behaviour(self, mode):
        with self.lock:
            return self.overrides.get(mode, mode)

    def next_jti(self):
        with self.lock:
            self.jti += 1
            return str(self.jti)

    def remember(self, token, lifetime, client_id):
        with self.lock:
            self.issued[token] = (time.time() + lifetime, client_id)

    def revoke(self, token):
        with self.lock:
            return self.issued.pop(token, None) is not None

    def lookup(self, token):
        with self.lock:
            found = self.issued.get(token)
        if found is None or found[0] <= time.time():
            return None
        return found[1]


class Request:
    def __init__(self, mode, method, path, headers, body):
        self.mode = mode
        self.method = method
        self.path = path
        self.headers = headers  # lower-cased name -> value
        self.body = body        # bytes
        self.entry = {"method": method, "path": path, "headers": headers,
                      "body": body.decode("latin-1")}  # what /_last reports


# ---------------------------------------------------------------------------
# Strict OAuth request validation (used by the "success" modes)

def parse_form(req):
    if req.method != "POST":
        raise OAuthError(405, "invalid_request", "method")
    ctype = req.headers.get("content-type", "")
    if not ctype.lower().startswith("application/x-www-form-urlencoded"):
        raise OAuthError(400, "invalid_request", "content type")
    text = req.body.decode("utf-8", errors="replace")
    parsed = urllib.parse.parse_qs(text, keep_blank_values=True,
                                   strict_parsing=False)
    for name, values in parsed.items():
        if len(values) > 1:
            raise OAuthError(400, "invalid_request",
                             "duplicate parameter: " + name)
    return {name: values[0] for name, values in parsed.items()}


def basic_credentials(header):
    """(id, secret) from an Authorization: Basic header, or None if absent."""
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except ValueError:
        raise invalid_client()
    # RFC 6749 2.3.1: both halves are form-urlencoded before being joined, so
    # a ':' inside either one arrives as %3A and the first ':' is the split.
    user, colon, password = raw.decode("utf-8", errors="replace").partition(":")
    if not colon:
        raise invalid_client()
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)


def same(a, b):
    # compare_digest only accepts ASCII str, and the secret may not be.
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def cert_thumbprint(der):
    """RFC 8705 section 3.1: x5t#S256, the base64url SHA-256 of the certificate's DER."""
    return b64url(hashlib.sha256(der).digest())


def authenticate_tls(state, req, params):
    """RFC 8705 tls_client_auth: the client id in the form, no secret anywhere, and a
    client certificate (the TLS layer checked it chains to --client-ca)."""
    state.annotate(req.entry, "auth_method", "tls_client_auth")
    if "client_secret" in params or "authorization" in req.headers:
        raise OAuthError(400, "invalid_request", "a secret alongside the certificate")
    if req.peer_cert is None:
        raise invalid_client("no client certificate")
    state.annotate(req.entry, "x5t#S256", cert_thumbprint(req.peer_cert))
    if params.get("client_id") != state.client_id:
        raise invalid_client()
    return state.client_id


def authenticate(state, req, params, require=None):
    """Check client credentials; return the client id or raise OAuthError."""
    if require == "tls_client_auth":
        return authenticate_tls(state, req, params)
    basic = basic_credentials(req.headers.get("authorization", ""))
    if basic is not None and "client_secret" in params:
        raise OAuthError(400, "invalid_request",
                         "multiple client authentication methods")
    if basic is not None:
        method = "client_secret_basic"
        client_id, secret = basic
        # A client_id parameter alongside Basic is tolerated, but it must not
        # name a different client.
        if "client_id" in params and params["client_id"] != client_id:
            raise OAuthError(400, "invalid_request", "client_id mismatch")
    elif "client_id" in params and "client_secret" in params:
        method = "client_secret_post"
        client_id, secret = params["client_id"], params["client_secret"]
    else:
        raise invalid_client()

    state.annotate(req.entry, "auth_method", method)
    if require is not None and method != require:
        raise invalid_client("this client must use " + require)
    # Evaluate both comparisons so timing does not reveal which one failed.
    id_ok = same(client_id, state.client_id)
    secret_ok = same(secret, state.secret)
    if not (id_ok and secret_ok):
        raise invalid_client()
    return client_id


# ---------------------------------------------------------------------------
# Federated assertions and token exchange (RFC 7523 2.2, RFC 8693), checked as strictly
# as the rest: an ID token of the issuer POST /_trust names, RS256 against its JWKS
# (verified here with the standard library alone), for the audience the trust says.

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
TOKEN_TYPE = "urn:ietf:params:oauth:token-type:"
# SHA-256's DigestInfo prefix (RFC 8017 9.2)
SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def rs256_verified(jwks, token):
    """The claims of token when its RS256 signature is by a key of jwks, else None."""
    try:
        head, body, signature = token.split(".")
        header = json.loads(b64url_decode(head))
        claims = json.loads(b64url_decode(body))
        keys = [k for k in jwks["keys"] if k.get("kid") == header.get("kid")]
        if header.get("alg") != "RS256" or len(keys) != 1:
            return None
        n = int.from_bytes(b64url_decode(keys[0]["n"]), "big")
        e = int.from_bytes(b64url_decode(keys[0]["e"]), "big")
        size = (n.bit_length() + 7) // 8
        sig = b64url_decode(signature)
        if len(sig) != size:
            return None
        em = pow(int.from_bytes(sig, "big"), e, n).to_bytes(size, "big")
        digest = hashlib.sha256((head + "." + body).encode("ascii")).digest()
        want = (b"\x00\x01" + b"\xff" * (size - 3 - len(SHA256_PREFIX) - len(digest)) +
                b"\x00" + SHA256_PREFIX + digest)
        return claims if hmac.compare_digest(em, want) else None
    except (ValueError, KeyError, TypeError):
        return None


def check_id_token(state, token, audience, what, error):
    """The claims of a trusted, unexpired, unused ID token for audience, else error."""
    trust = state.trust
    if trust is None:
        raise OAuthError(500, "server_error", "no issuer trusted: POST /_trust first")
    claims = rs256_verified(trust["jwks"], token)
    if claims is None:
        raise error(what + ": bad signature")
    if claims.get("iss") != trust["issuer"] or claims.get("sub") != trust["subject"]:
        raise error(what + ": not from the trusted issuer and subject")
    if claims.get("aud") != audience:
        raise error(what + ": audience %r, not %r" % (claims.get("aud"), audience))
    if not isinstance(claims.get("exp"), int) or claims["exp"] <= time.time():
        raise error(what + ": expired")
    with state.lock:
        if claims.get("jti") in state.used_jtis:
            raise error(what + ": replayed")
        state.used_jtis.add(claims.get("jti"))
    return claims


def authenticate_assertion(h, req, params):
    """RFC 7523 2.2: a client_assertion of the trusted issuer, for this endpoint."""
    state = h.server.state
    if params.get("client_assertion_type") != ASSERTION_TYPE:
        raise OAuthError(400, "invalid_request", "client_assertion_type")
    if "client_secret" in params or req.headers.get("authorization"):
        raise OAuthError(400, "invalid_request", "multiple client authentication methods")
    if params.get("client_id") != state.client_id:
        raise invalid_client("unknown client_id")
    claims = check_id_token(state, params.get("client_assertion", ""),
                            h.server.base_url + req.path, "client assertion", invalid_client)
    state.annotate(req.entry, "auth_method", "client_assertion")
    state.annotate(req.entry, "assertion_jti", claims["jti"])
    return state.client_id


def exchange_error(description):
    return OAuthError(400, "invalid_grant", description)


def mode_assertion(h, req):
    params = parse_form(req)
    if params.get("grant_type") != "client_credentials":
        raise OAuthError(400, "unsupported_grant_type")
    authenticate_assertion(h, req, params)
    exchange_reply(h, req, params, None)


def exchange_mode(issued=None, token_type="Bearer", with_issued=True):
    """RFC 8693 2.1 checked parameter by parameter; the reply as asked for, or broken."""

    def handle(h, req):
        state = h.server.state
        params = parse_form(req)
        if params.get("grant_type") != EXCHANGE_GRANT:
            raise OAuthError(400, "unsupported_grant_type")
        for name in ("subject_token", "subject_token_type"):
            if not params.get(name):
                raise OAuthError(400, "invalid_request", "missing " + name)
        if params["subject_token_type"] != TOKEN_TYPE + "jwt":
            raise OAuthError(400, "invalid_request", "subject_token_type")
        if "actor_token" in params or "actor_token_type" in params:
            raise OAuthError(400, "invalid_request", "no actor expected")
        requested = params.get("requested_token_type")
        if requested not in (None, TOKEN_TYPE + "access_token", TOKEN_TYPE + "jwt"):
            raise OAuthError(400, "invalid_request", "requested_token_type")
        # the client: an assertion, a secret, or a public client naming itself at most
        if "client_assertion" in params:
            authenticate_assertion(h, req, params)
        elif "client_secret" in params or req.headers.get("authorization"):
            authenticate(state, req, params)
        else:
            if params.get("client_id") not in (None, state.client_id):
                raise invalid_client("unknown client_id")
            state.annotate(req.entry, "auth_method", "none")
        claims = check_id_token(state, params["subject_token"],
                                state.trust["subject_audience"], "subject token",
                                exchange_error)
        state.annotate(req.entry, "subject_jti", claims["jti"])
        exchange_reply(h, req, params, issued or requested or TOKEN_TYPE + "access_token",
                       token_type, with_issued, claims["sub"])

    return handle


def exchange_reply(h, req, params, issued_type, token_type="Bearer", with_issued=True,
                   subject=None):
    state = h.server.state
    iat = int(time.time())
    claims = {"iss": h.server.base_url, "sub": subject or state.client_id,
              "client_id": state.client_id, "iat": iat, "exp": iat + 3600,
              "jti": state.next_jti()}
    for param, claim in (("scope", "scope"), ("audience", "aud"), ("resource", "resource")):
        if param in params:
            claims[claim] = params[param]
    access_token = make_jwt(state.jwt_key, claims)
    state.remember(access_token, 3600, state.client_id)
    reply = {"access_token": access_token, "token_type": token_type, "expires_in": 3600}
    if issued_type is not None and with_issued:
        reply["issued_token_type"] = issued_type
    h.send_json(200, reply, {"Cache-Control": "no-store"})


# ---------------------------------------------------------------------------
# Mode handlers.  Each takes (handler, request) and sends a complete response.

def token_mode(*, expires_in=3600, lifetime=None, token_type="Bearer",
               skew=0, age=0, opaque=False, token=None, checks=True,
               require=None, delay=0.0, date_skew=None, claims_iat=True):
    """Build a handler that issues a token.

    expires_in  value of the expires_in member; None omits it
    lifetime    real validity in seconds (default: expires_in)
    skew        offset of the server's simulated clock from the real one (the
                JWT's iat and exp and the reply's Date header all follow it)
    age         how long before the reply the token was issued (a server that
                hands out a token it minted earlier)
    opaque      issue a random non-JWT token instead of a JWT
    token       issue exactly this string (fault modes)
    checks      validate the request like a strict server
    require     the only client authentication method accepted
    date_skew   offset of the Date header alone (a broken proxy's clock); default: skew
    claims_iat  put an iat claim in the JWT
    """
    if lifetime is None:
        lifetime = int(expires_in)

    def handle(h, req):
        state = h.server.state
        if delay:
            time.sleep(delay)
        params = {}
        client_id = state.client_id
        if checks:
            params = parse_form(req)
            if params.get("grant_type") != "client_credentials":
                raise OAuthError(400, "unsupported_grant_type")
            client_id = authenticate(state, req, params, require)

        h.clock_skew = skew if date_skew is None else date_skew
        iat = int(time.time()) + skew - age
        exp = iat + lifetime
        if token is not None:
            access_token = token
        elif opaque:
            access_token = secrets.token_urlsafe(32)  # 43 characters
        else:
            claims = {"iss": h.server.base_url, "sub": client_id,
                      "client_id": client_id, "iat": iat, "nbf": iat,
                      "exp": exp, "jti": state.next_jti()}
            if not claims_iat:
                del claims["iat"]
            for param, claim in (("scope", "scope"), ("audience", "aud"),
                                 ("resource", "resource")):
                if param in params:
                    claims[claim] = params[param]
            if require == "tls_client_auth":
                claims["cnf"] = {"x5t#S256": cert_thumbprint(req.peer_cert)}
            access_token = make_jwt(state.jwt_key, claims)
        state.remember(access_token, lifetime - age, client_id)
        if require == "tls_client_auth" and token is None:
            state.bindings[access_token] = cert_thumbprint(req.peer_cert)

        reply = {"access_token": access_token, "token_type": token_type}
        if expires_in is not None:
            reply["expires_in"] = expires_in
        reply[".issued"] = http_date(iat)
        # Modes without expires_in exist to test the client's other sources
        # of expiry, so do not hand it this one either.
        if expires_in is not None:
            reply[".expires"] = http_date(exp)
        reply["client_id"] = client_id
        h.send_json(200, reply, {"Cache-Control": "no-store"})

    return handle


def make_jwt(key, claims):
    header = {"alg": "HS256", "typ": "JWT", "kid": "test"}
    signing_input = (b64url(json.dumps(header, separators=(",", ":")).encode())
                     + "."
                     + b64url(json.dumps(claims, separators=(",", ":")).encode()))
    signature = hmac.new(key, signing_input.encode("ascii"),
                         hashlib.sha256).digest()
    return signing_input + "." + b64url(signature)


def mode_slow(h, req):
    time.sleep(h.server.state.slow_seconds)
    MODES["ok"](h, req)


def fixed(status, ctype, body, headers=None):
    """Build a handler that always sends the same response."""
    body = body.encode("utf-8") if isinstance(body, str) else body

    def handle(h, req):
        h.send_body(status, ctype, body, headers)

    return handle


def oauth_error(status, error, description=None):
    def handle(h, req):
        raise OAuthError(status, error, description)

    return handle


_huge_body = None


def huge_body():
    global _huge_body
    if _huge_body is None:
        head = b'{"access_token":"abc","token_type":"Bearer","padding":"'
        tail = b'"}'
        _huge_body = head + b"x" * (HUGE_SIZE - len(head) - len(tail)) + tail
    return _huge_body


def write_chunks(h, body):
    # The client is expected to give up part-way; that is the point.
    try:
        for i in range(0, len(body), CHUNK):
            h.wfile.write(body[i:i + CHUNK])
    except HANGUP_ERRORS:
        pass
    h.close_connection = True


def mode_huge(h, req):
    body = huge_body()
    h.start_response(200, "application/json", len(body))
    write_chunks(h, body)


def mode_huge_stream(h, req):
    # HTTP/1.0-style response: the body ends when the connection closes, so
    # the client cannot learn the size up front.
    h.protocol_version = "HTTP/1.0"
    h.start_response(200, "application/json", None)
    write_chunks(h, huge_body())


def mode_redirect(h, req):
    h.send_body(302, None, b"",
                {"Location": h.server.base_url + "/ok/token"})


def mode_echo(h, req):
    h.send_body(500, "text/plain", b"bad request: " + req.body)


def sent_secret(req):
    """The client secret as the request carried it, without checking it: the echo
    modes answer whatever secret they are sent."""
    basic = basic_credentials(req.headers.get("authorization", ""))
    if basic is not None:
        return basic[1]
    params = urllib.parse.parse_qs(req.body.decode("utf-8", errors="replace"))
    return params.get("client_secret", [""])[0]


def echo_json(status, error):
    """An OAuth error whose description quotes the secret, written by json.dumps: a
    '"' or '\\' in it comes back escaped, anything beyond ASCII as \\uXXXX."""
    def handle(h, req):
        h.send_json(status, {"error": error,
                             "error_description": "bad secret: " + sent_secret(req)})

    return handle


def mode_echo_basic(h, req):
    # The Authorization header as it arrived: the base64 of form(id):form(secret).
    h.send_body(401, "text/plain", b"invalid credentials: " +
                req.headers.get("authorization", "(none)").encode("utf-8"))


def mode_echo_html(h, req):
    page = ("<html><head><title>400 Bad Request</title></head><body>"
            "<h1>Bad Request</h1><p>The secret %s is not valid.</p></body></html>"
            % html.escape(sent_secret(req)))
    h.send_body(500, "text/html; charset=utf-8", page.encode("utf-8"))


def mode_retry_after_past(h, req):
    # An HTTP-date a day ago: "retry now", as a broken or replayed header would say.
    h.send_body(503, "text/plain", b"Service Unavailable",
                {"Retry-After": http_date(time.time() - 86400)})


def mode_hang_body(h, req):
    # Promise 1000 bytes, deliver 20, then stall: only a deadline covering
    # the whole transfer (not just connect or headers) gets the client out.
    h.start_response(200, "application/json", 1000)
    try:
        h.wfile.write(b'{"access_token":"abc')
        time.sleep(h.server.state.slow_seconds)
    except HANGUP_ERRORS:
        pass
    h.close_connection = True


HTML_500 = ("<html><head><title>500 Internal Server Error</title></head>"
            "<body><h1>Internal Server Error</h1>"
            "<p>The server encountered an internal error.</p></body></html>")

HTML_LOGIN = ('<!DOCTYPE html><html><head><title>Sign in</title></head><body>'
              '<form method="post" action="/login">'
              '<input name="username"><input name="password" type="password">'
              '<button type="submit">Sign in</button></form></body></html>')

MODES = {
    # Success modes: strict request checks, then a token.
    "ok": token_mode(),
    "ok-slow": token_mode(delay=0.5),
    "short": token_mode(expires_in=40),
    # keybearer exec --token-file's refreshes, its outage, plain exec's warning: 12 s
    # tokens, one mode each so that their counts and overrides stay apart
    "short12": token_mode(expires_in=12),
    "short12-outage": token_mode(expires_in=12),
    "short12-warn": token_mode(expires_in=12),
    "short-slow": token_mode(expires_in=30, delay=2.0),  # refreshed in the background
    "short20-slow": token_mode(expires_in=20, delay=2.0),  # so is a 20 s token
    "string-expiry": token_mode(expires_in="3600", lifetime=3600),
    "jwt-expiry": token_mode(expires_in=None, lifetime=1800),
    "jwt-skewed": token_mode(expires_in=None, lifetime=1800, skew=3 * 3600),
    "jwt-old-iat": token_mode(expires_in=None, lifetime=3600, age=3000),
    # A 20 s JWT whose reply's Date header is a day behind: it must not live a day.
    "jwt-date-behind": token_mode(expires_in=None, lifetime=20, date_skew=-86400),
    "jwt-date-behind-no-iat": token_mode(expires_in=None, lifetime=20,
                                         date_skew=-86400, claims_iat=False),
    # expires_in claims an hour, the JWT's own exp - iat says 20 s
    "expires-in-lies": token_mode(expires_in=3600, lifetime=20),
    "no-expiry": token_mode(expires_in=None, lifetime=86400, opaque=True),
    "lowercase-type": token_mode(token_type="bearer"),
    "require-basic": token_mode(require="client_secret_basic"),
    "require-post": token_mode(require="client_secret_post"),
    "zero-expiry": token_mode(expires_in=0),
    # RFC 8705: the client certificate authenticates, the token is bound to it.
    "mtls": token_mode(require="tls_client_auth"),

    # Fault modes.
    "slow": mode_slow,
    "html500": fixed(500, "text/html", HTML_500),
    "unavailable": fixed(503, "text/plain", "Service Unavailable",
                         {"Retry-After": "120"}),
    "down": fixed(503, "text/plain", "Service Unavailable"),  # no Retry-After
    # Retry-After values that ask for no wait at all, or for less than the backoff.
    "ra-1": fixed(503, "text/plain", "Service Unavailable", {"Retry-After": "1"}),
    "ra-0": fixed(503, "text/plain", "Service Unavailable", {"Retry-After": "0"}),
    "ra-negative": fixed(503, "text/plain", "Service Unavailable",
                         {"Retry-After": "-5"}),
    "ra-junk": fixed(503, "text/plain", "Service Unavailable",
                     {"Retry-After": "soon"}),
    "ra-past": mode_retry_after_past,
    "ratelimit-0": fixed(429, "text/plain", "Too Many Requests", {"Retry-After": "0"}),
    "ratelimit": fixed(429, "text/plain", "Too Many Requests",
                       {"Retry-After": "30"}),
    "badjson": fixed(200, "application/json",
                     '{"access_token": "abc", "token_type": "Bearer", '),
    "html200": fixed(200, "text/html", HTML_LOGIN),
    "huge": mode_huge,
    "huge-stream": mode_huge_stream,
    "redirect": mode_redirect,
    "crlf": token_mode(token="abc\r\nX-Injected: 1", checks=False),
    "space-token": token_mode(token="abc def", checks=False),
    "long-token": token_mode(token="a" * (17 * 1024), checks=False),
    "notoken": fixed(200, "application/json",
                     '{"token_type":"Bearer","expires_in":3600}'),
    "mac": token_mode(token_type="mac", checks=False),
    "negative": token_mode(expires_in=-5, checks=False),
    "float-expiry": token_mode(expires_in=3600.5, lifetime=3600, checks=False),
    "array": fixed(200, "application/json", "[1,2]"),
    "empty": fixed(200, "application/json", ""),
    "invalid-client": oauth_error(401, "invalid_client",
                                  "Client authentication failed"),
    "invalid-scope": oauth_error(400, "invalid_scope",
                                 "scope 'x' is not allowed"),
    "unauthorized-client": oauth_error(400, "unauthorized_client",
                                       "client_credentials is not allowed"),
    "bad-request-text": fixed(400, "text/plain", "Bad Request"),
    "forbidden": fixed(403, "text/plain", "Forbidden"),
    "error-nodesc": oauth_error(400, "invalid_request"),
    "echo": mode_echo,
    # The secret echoed the ways servers write it: JSON-escaped in an OAuth error (400,
    # and as a 500 that lands in the lock file), in the Basic header it came in, and
    # HTML-escaped in an error page.
    "echo-json": echo_json(400, "invalid_request"),
    "echo-json-500": echo_json(500, "server_error"),
    "echo-basic": mode_echo_basic,
    "echo-html": mode_echo_html,
    "hang-body": mode_hang_body,
    # federated assertions and token exchange
    "assertion": mode_assertion,
    "exchange": exchange_mode(),
    "exchange-refresh": exchange_mode(issued=TOKEN_TYPE + "refresh_token"),
    "exchange-na": exchange_mode(token_type="N_A"),
    "exchange-noissued": exchange_mode(with_issued=False),
}


# ---------------------------------------------------------------------------
# HTTP plumbing

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keybearer-tokenserver/1"
    # Keep a stuck client from pinning a thread forever.
    timeout = 60

    def setup(self):
        super().setup()
        self.response_started = False
        self.resource_entry = None  # this request's entry in /_requests, if it has one
        # Headers and body go out as separate writes: without this, Nagle holds the body
        # until the client's delayed ACK, 40 ms that no real server adds to a token reply.
        try:
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    # -- response helpers ---------------------------------------------------

    clock_skew = 0  # seconds the simulated server clock runs ahead, per reply

    def send_response(self, code, message=None):
        self.response_started = True
        if self.resource_entry is not None:
            # before the client can see the answer, and so act on it
            self.server.state.annotate(self.resource_entry, "status", code)
        super().send_response(code, message)

    def date_time_string(self, timestamp=None):
        if timestamp is None:
            timestamp = time.time() + self.clock_skew
        return super().date_time_string(timestamp)

    def start_response(self, status, ctype, length, headers=None):
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()

    def send_body(self, status, ctype, body, headers=None):
        # RFC 9110 forbids Content-Length on 204.
        length = None if status == 204 else len(body)
        self.start_response(status, ctype, length, headers)
        try:
            self.wfile.write(body)
        except HANGUP_ERRORS:
            self.close_connection = True

    def send_text(self, status, text, headers=None):
        self.send_body(status, "text/plain; charset=utf-8",
                       text.encode("utf-8"), headers)

    def send_json(self, status, obj, headers=None):
        self.send_body(status, "application/json; charset=utf-8",
                       json.dumps(obj).encode("utf-8"), headers)

    def send_oauth_error(self, err):
        obj = {"error": err.error}
        if err.description is not None:
            obj["error_description"] = err.description
        headers = {"Cache-Control": "no-store"}
        if err.status == 401 and err.error == "invalid_client":
            headers["WWW-Authenticate"] = 'Basic realm="test"'
        if err.status == 405:
            headers["Allow"] = "POST"
        self.send_json(err.status, obj, headers)

    # -- request handling ---------------------------------------------------

    def read_body(self, limit=MAX_BODY):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_chunked(limit)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise BadRequest(400, "bad Content-Length")
        if n < 0:
            raise BadRequest(400, "bad Content-Length")
        if n > limit:
            raise BadRequest(413, "body too large")
        body = self.rfile.read(n)
        if len(body) != n:
            raise BadRequest(400, "truncated body")
        return body

    def read_chunked(self, limit):
        body = b""
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "bad chunk size")
            if size == 0:
                break
            if len(body) + size > limit:
                raise BadRequest(413, "body too large")
            body += self.rfile.read(size)
            self.rfile.readline(1024)
        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
            pass  # trailer fields
        return body

    def dispatch(self):
        try:
            self.route()
        except BadRequest as e:
            self.close_connection = True
            if not self.response_started:
                self.send_text(e.status, e.message + "\n")
        except HANGUP_ERRORS:
            self.close_connection = True
        except Exception:
            self.log_message("handler error: %s",
                             traceback.format_exc().replace("\n", " | "))
            self.close_connection = True
            if not self.response_started:
                try:
                    self.send_text(500, "internal server error\n")
                except OSError:
                    pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = dispatch

    def route(self):
        state = self.server.state
        # Read the body even when it is not needed: closing a socket with
        # unread input makes the kernel send RST, and the client could then
        # lose the response.
        path = urllib.parse.urlsplit(self.path).path
        method = self.command
        body = self.read_body(LFS_MAX_BODY if LFS_PATH.match(path) else MAX_BODY)

        m = TOKEN_PATH.match(path)
        if m:
            mode = m.group(1)
            handler = MODES.get(state.behaviour(mode))
            if handler is None:
                self.send_text(404, "unknown mode: %s\n" % mode)
                return
            headers = {}
            for name, value in self.headers.items():
                name = name.lower()
                headers[name] = (headers[name] + ", " + value
                                 if name in headers else value)
            req = Request(mode, method, self.path, headers, body)
            req.peer_cert = (self.connection.getpeercert(binary_form=True)
                             if isinstance(self.connection, ssl.SSLSocket) else None)
            state.record(mode, req.entry)
            try:
                handler(self, req)
            except OAuthError as e:
                self.send_oauth_error(e)
            return

        if method == "GET" and path == "/_count":
            self.send_text(200, "%d\n" % state.count())
        elif method == "GET" and path.startswith("/_count/"):
            self.send_text(200, "%d\n" % state.count(path[len("/_count/"):]))
        elif method == "GET" and path == "/_issued":
            # every token issued, with its expiry (time.time()): what a reader may hold
            with state.lock:
                issued = {t: e for t, (e, _) in state.issued.items()}
            self.send_body(200, "application/json; charset=utf-8",
                           json.dumps(issued).encode("utf-8"))
        elif method == "GET" and path.startswith("/_requests/"):
            self.send_body(200, "application/json; charset=utf-8",
                           state.resource_json(path[len("/_requests/"):]).encode("utf-8"))
        elif method == "GET" and path.startswith("/_last/"):
            entry = state.last_json(path[len("/_last/"):])
            if entry is None:
                self.send_text(404, "no request recorded\n")
            else:
                self.send_body(200, "application/json; charset=utf-8",
                               entry.encode("utf-8"))
        elif method == "POST" and path == "/_revoke":
            # A resource server's view of a token revoked before it expired.
            found = state.revoke(body.decode("ascii", "replace").strip())
            self.send_body(204 if found else 404, None, b"")
        elif method == "POST" and path.startswith("/_override/"):
            behaviour = body.decode("ascii", "replace").strip()
            if behaviour and behaviour not in MODES:
                self.send_text(400, "unknown mode: %s\n" % behaviour)
                return
            state.set_override(path[len("/_override/"):], behaviour)
            self.send_body(204, None, b"")
        elif method == "POST" and path == "/_trust":
            # {"jwks", "issuer", "subject", "subject_audience"}: whose ID tokens count
            state.trust = json.loads(body)
            self.send_body(204, None, b"")
        elif method == "POST" and path == "/_reset":
            state.reset()
            self.send_body(204, None, b"")
        elif method == "GET" and path.startswith("/issuer/") and \
                path.endswith("/.well-known/openid-configuration"):
            self.discovery(path[len("/issuer/"):-len("/.well-known/openid-configuration")])
        elif method == "GET" and path == "/api/hello":
            self.api_hello()
        elif method == "GET" and path == "/api/bound":
            self.api_bound()
        elif path == "/api/deny":
            # A resource that refuses every token, as after a revocation.
            self.send_json(401, {"error": "invalid_token"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        elif LFS_PATH.match(path) and state.git_root:
            m = LFS_PATH.match(path)
            self.resource("lfs", "basic", self.lfs, m.group(1), m.group(2), body)
        elif path.startswith("/git/") and state.git_root:
            self.resource("git", "basic", self.git_http, path[len("/git"):], body)
        elif path.startswith("/cargo/") and state.cargo_root:
            self.resource("cargo", "bearer", self.cargo_registry, path[len("/cargo/"):])
        elif path.startswith("/npm/") and state.npm_root:
            self.resource("npm", "bearer", self.npm_registry, path[len("/npm/"):])
        elif path.startswith("/guarded/"):
            self.resource("guarded", "bearer", self.guarded, path[len("/guarded/"):], body)
        else:
            self.send_text(404, "not found\n")

    def discovery(self, variant):
        """OIDC discovery for the issuer BASE/issuer/<variant>: "ok" names the ok mode's
        token endpoint; "<mode>" names that mode's; "other-issuer" claims another issuer;
        "no-token-endpoint" lacks it; "missing" is a 404. Counted under "discovery"."""
        state = self.server.state
        state.record("discovery", {"path": self.path})
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        base = "%s://127.0.0.1:%d" % (scheme, self.server.server_address[1])
        issuer = "%s/issuer/%s" % (base, variant)
        doc = {"issuer": issuer, "token_endpoint": "%s/%s/token" % (base, variant),
               "jwks_uri": "%s/jwks" % base,
               "grant_types_supported": ["client_credentials"]}
        if variant == "missing":
            self.send_text(404, "not found\n")
            return
        if variant == "other-issuer":
            doc["issuer"] = "https://elsewhere.example"
            doc["token_endpoint"] = "%s/ok/token" % base
        elif variant == "no-token-endpoint":
            del doc["token_endpoint"]
        elif variant == "mtls-alias":
            # RFC 8705 section 5: a plain endpoint that refuses, an alias that takes
            # certificates
            doc["token_endpoint"] = "%s/invalid-client/token" % base
            doc["mtls_endpoint_aliases"] = {"token_endpoint": "%s/mtls/token" % base}
        elif variant == "mtls-alias-http":
            doc["mtls_endpoint_aliases"] = {"token_endpoint": "http://192.0.2.1/mtls/token"}
        elif variant == "mtls-alias-list":
            doc["mtls_endpoint_aliases"] = ["%s/mtls/token" % base]
        self.send_json(200, doc)

    def api_hello(self):
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        client_id = None
        if scheme.lower() == "bearer" and token.strip():
            client_id = self.server.state.lookup(token.strip())
        if client_id is None:
            self.send_json(401, {"error": "invalid_token"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        else:
            self.send_json(200, {"hello": "world", "client_id": client_id})

    def api_bound(self):
        """A resource that takes only a certificate-bound token (RFC 8705 section 3), over
        a connection with the very certificate it is bound to."""
        scheme, _, token = self.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        state = self.server.state
        der = (self.connection.getpeercert(binary_form=True)
               if isinstance(self.connection, ssl.SSLSocket) else None)
        client_id = state.lookup(token) if scheme.lower() == "bearer" and token else None
        state.record_resource("bound", {"auth": "valid" if client_id else "invalid",
                                        "cert": cert_thumbprint(der) if der else None})
        if client_id is None:
            self.send_json(401, {"error": "invalid_token"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        elif der is None or state.bindings.get(token) != cert_thumbprint(der):
            self.send_json(401, {"error": "invalid_token",
                                 "error_description": "not the certificate the token is bound to"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        else:
            self.send_json(200, {"hello": "bound", "client_id": client_id,
                                 "x5t#S256": cert_thumbprint(der)})

    def presented_token(self, scheme):
        """What the Authorization header holds: "none" without one, else "valid"
        (with the client id) for a token this server issued that has not expired,
        or "invalid". scheme "bearer" wants `Bearer <token>`, as cargo sends it;
        "basic" wants the token as the password of a Basic login, as git and
        git-lfs send it without the authtype capability."""
        header = self.headers.get("Authorization")
        if header is None:
            return "none", None
        kind, _, value = header.partition(" ")
        token = None
        if kind.lower() == scheme == "bearer":
            token = value
        elif kind.lower() == scheme == "basic":
            try:
                token = base64.b64decode(value, validate=True).decode("utf-8").partition(":")[2]
            except (ValueError, UnicodeDecodeError):
                token = None
        client_id = self.server.state.lookup(token) if token else None
        return ("valid", client_id) if client_id is not None else ("invalid", None)

    def resource(self, area, scheme, handler, *args):
        """Runs handler(client_id, *args) for a request with a valid token, and
        answers every other one with a 401; either way it is listed under area, in
        the order the requests came (a request a client makes after an answer is
        listed after the request it answered)."""
        auth, client_id = self.presented_token(scheme)
        self.resource_entry = self.server.state.record_resource(area, {
            "host": self.headers.get("Host"), "method": self.command, "path": self.path,
            "auth": auth, "status": None})
        if client_id is None:
            challenge = 'Basic realm="git"' if scheme == "basic" else "Bearer"
            self.send_text(401, "token required\n", {"WWW-Authenticate": challenge})
        else:
            handler(client_id, *args)

    def cargo_registry(self, client_id, rel):
        """A cargo sparse registry: the files below --cargo-root, as they are
        (the test writes config.json, the index files and the .crate files)."""
        root = os.path.realpath(self.server.state.cargo_root)
        file = os.path.realpath(os.path.join(root, rel))
        if self.command != "GET":
            self.send_text(405, "GET only\n", {"Allow": "GET"})
        elif not file.startswith(root + os.sep) or not os.path.isfile(file):
            self.send_text(404, "not found\n")
        else:
            with open(file, "rb") as f:
                data = f.read()
            ctype = "application/json" if rel.endswith(".json") else "application/octet-stream"
            self.send_body(200, ctype, data)

    def npm_registry(self, client_id, rel):
        """An npm registry: GET /npm/NAME answers NAME/packument.json below --npm-root,
        /npm/NAME/-/FILE the tarball NAME/-/FILE (the test writes both)."""
        root = os.path.realpath(self.server.state.npm_root)
        name, sep, _ = rel.partition("/-/")
        file = os.path.realpath(os.path.join(root, rel if sep else name + "/packument.json"))
        if self.command != "GET":
            self.send_text(405, "GET only\n", {"Allow": "GET"})
        elif not file.startswith(root + os.sep) or not os.path.isfile(file):
            self.send_json(404, {"error": "not found"})
        else:
            with open(file, "rb") as f:
                data = f.read()
            self.send_body(200, "application/octet-stream" if sep else "application/json",
                           data)

    def guarded(self, client_id, rel, body):
        """A resource for HTTP clients: deny refuses every token (as a resource that
        revoked it would), redirect/PATH points to /PATH, anything else echoes the
        method, path and body it got."""
        if rel == "deny":
            self.send_json(401, {"error": "invalid_token"},
                           {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        elif rel.startswith("redirect/"):
            self.send_body(302, None, b"", {"Location": "/" + rel[len("redirect/"):]})
        else:
            self.send_json(200, {"method": self.command, "path": self.path,
                                 "body": body.decode("utf-8", "replace"),
                                 "client_id": client_id})

    def lfs_base(self, repo):
        # A repository named elsewhere*.git hands out transfer URLs on another host
        # (localhost): a client must not take the token there.
        base = self.server.base_url
        if repo.startswith("elsewhere"):
            base = base.replace("://127.0.0.1:", "://localhost:")
        return "%s/git/%s/info/lfs" % (base, repo)

    def lfs_object_path(self, repo, oid):
        return os.path.join(self.server.state.git_root, repo, "lfs", "objects", oid)

    def lfs(self, client_id, repo, rest, body):
        """A minimal Git LFS API: the batch endpoint with the basic transfer
        adapter (upload, verify, download), objects stored by oid in the
        repository's lfs/objects, and lock verification (no locks)."""
        if not os.path.isdir(os.path.join(self.server.state.git_root, repo)):
            self.send_json(404, {"message": "no such repository"})
            return
        parts = rest.split("/")
        if self.command == "POST" and rest == "objects/batch":
            self.lfs_batch(repo, json.loads(body))
        elif self.command == "POST" and rest == "locks/verify":
            self.send_body(200, LFS_JSON, json.dumps({"ours": [], "theirs": []}).encode())
        elif len(parts) >= 2 and parts[0] == "objects" and LFS_OID.match(parts[1]):
            self.lfs_object(repo, parts[1], parts[2:], body)
        else:
            self.send_body(404, LFS_JSON, b'{"message":"not found"}')

    def lfs_batch(self, repo, request):
        operation = request.get("operation")
        if operation not in ("upload", "download") or \
                "basic" not in request.get("transfers", ["basic"]):
            self.send_body(422, LFS_JSON, b'{"message":"basic upload or download only"}')
            return
        objects = []
        for obj in request.get("objects", []):
            oid, size = obj.get("oid", ""), obj.get("size")
            href = "%s/objects/%s" % (self.lfs_base(repo), oid)
            entry = {"oid": oid, "size": size}
            stored = self.lfs_object_path(repo, oid)
            present = LFS_OID.match(oid) and os.path.isfile(stored) and \
                os.path.getsize(stored) == size
            # No "authenticated" and no header in the actions: git-lfs must find
            # credentials for every href itself, through git's credential helper.
            if not LFS_OID.match(oid) or not isinstance(size, int) or size < 0:
                entry["error"] = {"code": 422, "message": "bad oid or size"}
            elif operation == "upload" and not present:
                entry["actions"] = {"upload": {"href": href, "expires_in": 3600},
                                    "verify": {"href": href + "/verify",
                                               "expires_in": 3600}}
            elif operation == "download" and present:
                entry["actions"] = {"download": {"href": href, "expires_in": 3600}}
            elif operation == "download":
                entry["error"] = {"code": 404, "message": "object does not exist"}
            objects.append(entry)
        self.send_body(200, LFS_JSON, json.dumps(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode())

    def lfs_object(self, repo, oid, rest, body):
        stored = self.lfs_object_path(repo, oid)
        if self.command == "PUT" and not rest:
            if hashlib.sha256(body).hexdigest() != oid:
                self.send_body(422, LFS_JSON, b'{"message":"content does not match oid"}')
                return
            os.makedirs(os.path.dirname(stored), exist_ok=True)
            with open(stored + ".tmp", "wb") as f:
                f.write(body)
            os.rename(stored + ".tmp", stored)
            self.send_body(200, None, b"")
        elif self.command == "POST" and rest == ["verify"]:
            size = json.loads(body).get("size")
            ok = os.path.isfile(stored) and os.path.getsize(stored) == size
            self.send_body(200 if ok else 404, LFS_JSON,
                           b"{}" if ok else b'{"message":"object not stored"}')
        elif self.command == "GET" and not rest and os.path.isfile(stored):
            with open(stored, "rb") as f:
                self.send_body(200, "application/octet-stream", f.read())
        else:
            self.send_body(404, LFS_JSON, b'{"message":"not found"}')

    def git_http(self, client_id, path_info, body):
        """git's smart HTTP through `git http-backend`, for a client that
        authenticates the way git does without the authtype capability: the
        token as the password of a Basic login."""
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": self.server.state.git_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path_info,
            "QUERY_STRING": urllib.parse.urlsplit(self.path).query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": client_id,
            "REMOTE_ADDR": "127.0.0.1",
            "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
            # git gzips a large fetch negotiation; http-backend undoes it
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
        }
        result = subprocess.run(["git", "http-backend"], input=body, env=env,
                                capture_output=True, timeout=30)
        head, _, payload = result.stdout.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = result.stdout.partition(b"\n\n")
        status, content_type, headers = 200, "application/octet-stream", {}
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name.lower() == "content-type":
                content_type = value.strip()
            else:
                headers[name] = value.strip()
        self.send_body(status, content_type, payload, headers)

    # -- logging: to --log only, never stderr ------------------------------

    def log_message(self, fmt, *args):
        self.server.state.log("%s %s [%s] %s" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), self.address_string(),
            self.server.scheme, fmt % args))


def drain_and_close(tls):
    """Closes a socket whose TLS handshake failed without a RST: its send side
    first, then what the peer still sends is read (raw, not as TLS) until it
    closes or 2 s pass."""
    try:
        socket.socket.shutdown(tls, socket.SHUT_WR)
        tls.settimeout(2)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and socket.socket.recv(tls, 4096):
            pass
    except OSError:
        pass
    tls.close()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 makes the kernel drop SYNs when
    # dozens of clients connect at once; their retransmits then arrive a
    # second late and the requests no longer overlap as a test intends.
    request_queue_size = 128

    def __init__(self, state, tls_context):
        self.state = state
        self.tls_context = tls_context
        self.scheme = "https" if tls_context else "http"
        super().__init__(("127.0.0.1", 0), Handler)

    def server_bind(self):
        # HTTPServer.server_bind would call socket.getfqdn(), which can stall
        # on DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
        self.base_url = "%s://127.0.0.1:%d" % (self.scheme, self.server_port)

    def finish_request(self, request, client_address):
        if self.tls_context is None:
            return super().finish_request(request, client_address)
        # Handshake here, in the per-connection thread, rather than on the
        # listening socket: there it would run in the accept loop and one
        # silent client would stall every other connection.
        request.settimeout(Handler.timeout)
        tls = self.tls_context.wrap_socket(request, server_side=True,
                                           do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except (ssl.SSLError, OSError):
            # A refused client certificate: OpenSSL has sent its alert.  Closed
            # with the client's last flight unread, the socket would send a RST,
            # and the client could lose the alert before reading it (and fail
            # with "connection reset" instead of the refusal): read what is left,
            # briefly, then close.
            drain_and_close(tls)
            raise
        try:
            super().finish_request(tls, client_address)
        finally:
            # Send close_notify: huge-stream's body ends at connection close,
            # and by default OpenSSL 3 treats a bare TCP EOF as truncation
            # ("unexpected eof while reading").  Bounded: the peer may be gone.
            try:
                tls.settimeout(2)
                tls.unwrap()
            except (OSError, ValueError):
                pass
            tls.close()

    def handle_error(self, request, client_address):
        # Failed handshakes and mid-request hang-ups are routine for a fault
        # injection server; keep them out of stderr.
        exc = sys.exc_info()[1]
        self.state.log("%s connection error from %s: %r" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), client_address[0], exc))


def read_secret(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.endswith(b"\n"):
        data = data[:-1]
    return data.decode("utf-8")


def write_port_file(path, port):
    # Write then rename, so a polling test never reads a partial number.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--client-ca",
                    help="ask for client certificates and accept those this CA issued "
                         "(mutual TLS; a connection without one still works)")
    ap.add_argument("--slow-seconds", type=float, default=5.0)
    ap.add_argument("--log")
    ap.add_argument("--git-root",
                    help="serve the git repositories below this directory at /git/, "
                         "to clients presenting an issued token as Basic password")
    ap.add_argument("--cargo-root",
                    help="serve this directory at /cargo/ as a cargo sparse registry, "
                         "to clients presenting an issued token as Bearer token")
    ap.add_argument("--npm-root",
                    help="serve this directory at /npm/ as an npm registry, to clients "
                         "presenting an issued token as Bearer token")
    args = ap.parse_args()
    if bool(args.cert) != bool(args.key):
        ap.error("--cert and --key must be given together")

    tls_context = None
    if args.cert:
        tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls_context.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            tls_context.verify_mode = ssl.CERT_OPTIONAL
            tls_context.load_verify_locations(args.client_ca)

    state = State(args.client_id, read_secret(args.secret_file),
                  args.slow_seconds, args.log)
    state.git_root = args.git_root
    state.cargo_root = args.cargo_root
    state.npm_root = args.npm_root
    server = Server(state, tls_context)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return, so it cannot be
        # called from the main thread that is running it.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    write_port_file(args.port_file, server.server_port)
    state.log("%s listening on %s" % (time.strftime("%Y-%m-%dT%H:%M:%S"),
                                      server.base_url))
    try:
        # A short poll interval makes SIGTERM take effect promptly, which
        # keeps test teardown fast.
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
        state.log("%s stopped" % time.strftime("%Y-%m-%dT%H:%M:%S"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

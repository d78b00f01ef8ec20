#!/usr/bin/python3
"""A real OAuth 2.0 authorization server for keybearer's interoperability tests.

Authlib's AuthorizationServer (authlib.integrations.flask_oauth2) with its
ClientCredentialsGrant, as Debian packages them (python3-authlib 1.2,
python3-flask 2.2).  Run it with /usr/bin/python3: another python3 first on
PATH may lack Debian's modules.

Usage:
    authlib_server.py --port-file PATH --cert server.pem --key server.key
                      --secret-file PATH [--client-jwks PATH] [--log PATH]

Listens on 127.0.0.1, on an ephemeral port that it writes to --port-file once
it accepts connections (threaded: one thread per connection).

    POST /oauth/token   the token endpoint (grant client_credentials only)
    GET  /_count        number of token-endpoint requests so far, as text

Clients (scope "read write"), both with the secret read raw from --secret-file
(every byte of the file, nothing stripped), each accepting only its registered
token_endpoint_auth_method; the other method fails with 401 invalid_client:
    kb-basic  client_secret_basic
    kb-post   client_secret_post
    kb-csjwt  client_secret_jwt (RFC 7523 client assertion, HS256 with the secret)
    kb-pkjwt  private_key_jwt, its public keys the JWKS of --client-jwks, read
              anew for every request (the assertion's kid picks one; its alg must
              be one the key fits)
Both JWT clients go through authlib's JWTBearerClientAssertion (rfc7523): aud
must be the token endpoint's URL, iss = sub = the client, exp given, and a jti
seen before is refused (replay).
With --ci-issuer URL, also a client that holds no secret at all:
    kb-federated  an RFC 7523 client assertion: an RS256 ID token of that issuer (keys
                  from its /.well-known/jwks.json), iss the issuer, sub --ci-subject, aud
                  this token endpoint's URL, unexpired, its jti used once

Tokens are opaque: authlib's default generator (42 random characters),
"token_type": "Bearer", "expires_in": 3600, and "scope" when one was granted
(the requested scopes that the client may have; asking for any other scope
fails with invalid_scope).

Note: authlib 1.2 does not form-decode the credentials of a Basic header
(RFC 6749 section 2.3.1 says the client form-encodes them); it compares the
client_id and secret exactly as they appear after base64 decoding.

--log gets one JSON line per token-endpoint request:
    {"client_id", "auth_method", "grant_type", "scope", "resource", "status", "error"}
where auth_method is what the request actually used (Authorization: Basic
header -> client_secret_basic; client_secret in the form -> client_secret_post;
both -> "client_secret_basic+client_secret_post"; a client_assertion ->
"client_assertion"; none of them -> "none"). A request with a client_assertion
also logs "assertion_type", and of the (unverified) assertion "alg", "kid",
"typ", "iss", "sub", "aud", "jti", "lifetime" (exp - iat) and "has_nbf".

SIGTERM or SIGINT: stops serving and exits 0.
"""

import argparse
import base64
import time
import binascii
import hmac
import io
import json
import logging
import os
import signal
import ssl
import sys
import threading
import urllib.parse
import urllib.request

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.jose import JsonWebKey
from authlib.oauth2.rfc6749 import ClientMixin, InvalidClientError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from flask import Flask
from werkzeug.serving import make_server

TOKEN_PATH = "/oauth/token"
SCOPES = ["read", "write"]
MAX_BODY = 1024 * 1024


class ClientCredentials(ClientCredentialsGrant):
    # authlib's grants accept only client_secret_basic unless told otherwise;
    # which of these a given client may use is its own check_endpoint_auth_method.
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post",
                                   "client_secret_jwt", "private_key_jwt"]

# The algorithms a key of each type may sign an assertion with.
KEY_ALGS = {"RSA": {"RS256", "PS256"}, "EC": {"ES256"}, "OKP": {"EdDSA"}}


class ClientAssertion(JWTBearerClientAssertion):
    """RFC 7523 client authentication under one method name, with replay
    detection: each jti is good for one request."""

    def __init__(self, token_url, method):
        super().__init__(token_url)
        self.CLIENT_AUTH_METHOD = method
        self.seen = set()
        self.lock = threading.Lock()

    def __call__(self, query_client, request):
        # Both methods read the same parameters: the header's alg tells whose an
        # assertion is (a MAC is client_secret_jwt's), and the other passes.
        assertion = request.form.get("client_assertion") or ""
        try:
            header = json.loads(base64.urlsafe_b64decode(
                assertion.split(".")[0] + "=" * (-len(assertion.split(".")[0]) % 4)))
        except (ValueError, binascii.Error):
            header = {}
        symmetric = str(header.get("alg", "")).startswith("HS")
        if symmetric != (self.CLIENT_AUTH_METHOD == "client_secret_jwt"):
            return None
        # a client registered for another method (kb-federated) is that method's
        client = query_client(request.form.get("client_id"))
        if client is not None and client.token_endpoint_auth_method != self.CLIENT_AUTH_METHOD:
            return None
        return super().__call__(query_client, request)

    def validate_jti(self, claims, jti):
        with self.lock:
            if jti in self.seen:
                return False
            self.seen.add(jti)
            return True

    def resolve_client_public_key(self, client, headers):
        alg = headers.get("alg")
        if self.CLIENT_AUTH_METHOD == "client_secret_jwt":
            if alg != "HS256" or client.token_endpoint_auth_method != "client_secret_jwt":
                raise InvalidClientError()
            return client.client_secret.encode("utf-8")
        if client.jwks is None:
            raise InvalidClientError()
        try:
            # read at every request: a test registers a key it has just made
            with open(client.jwks, encoding="utf-8") as f:
                key = JsonWebKey.import_key_set(json.load(f)).find_by_kid(headers.get("kid"))
        except ValueError:
            raise InvalidClientError()
        if alg not in KEY_ALGS.get(key.kty, ()):
            raise InvalidClientError()
        return key


# federated assertions and token exchange
class FederatedAssertion(JWTBearerClientAssertion):
    """RFC 7523 2.2 client authentication by a token someone else issued (workload
    identity federation): the client named by client_id trusts one issuer and subject,
    whose keys are the issuer's published JWKS. authlib's own class expects iss = sub =
    client_id (a key the client holds); here the claims are the federation's."""

    CLIENT_AUTH_METHOD = "federated_client_assertion"

    def __init__(self, token_url, issuer, subject, jwks):
        super().__init__(token_url, validate_jti=True)
        self.issuer = issuer
        self.subject = subject
        self.jwks = JsonWebKey.import_key_set(jwks)
        self.seen = set()
        self.lock = threading.Lock()

    def __call__(self, query_client, request):
        # only the clients registered for it: kb-pkjwt's assertions are its own method's
        client = query_client(request.form.get("client_id"))
        if client is None or client.token_endpoint_auth_method != self.CLIENT_AUTH_METHOD:
            return None
        return super().__call__(query_client, request)

    def create_claims_options(self):
        options = super().create_claims_options()
        options["iss"] = {"essential": True, "value": self.issuer}
        options["sub"] = {"essential": True, "value": self.subject}
        return options

    def create_resolve_key_func(self, query_client, request):
        def resolve_key(headers, payload):
            client = query_client(request.form.get("client_id"))
            if client is None:
                raise InvalidClientError()
            request.client = client
            return self.jwks.find_by_kid(headers.get("kid"))
        return resolve_key

    def validate_jti(self, claims, jti):
        with self.lock:
            if jti in self.seen:
                return False
            self.seen.add(jti)
            return True



class Client(ClientMixin):
    """An in-memory confidential client with one registered auth method."""

    def __init__(self, client_id, secret, auth_method, jwks=None):
        self.client_id = client_id
        self.client_secret = secret
        self.jwks = jwks
        self.token_endpoint_auth_method = auth_method
        self.scope = " ".join(SCOPES)
        self.grant_types = ["client_credentials"]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        if not scope:
            return ""
        allowed = set(self.scope.split())
        return " ".join(s for s in scope.split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        if self.client_secret is None:
            return False
        return hmac.compare_digest(client_secret.encode("utf-8"),
                                   self.client_secret.encode("utf-8"))

    def check_endpoint_auth_method(self, method, endpoint):
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        return True

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in self.grant_types


class Recorder:
    """Counts and logs token-endpoint requests, shared by all request threads."""

    def __init__(self, log_path):
        self.lock = threading.Lock()
        self.count = 0
        self.log_file = open(log_path, "a", encoding="utf-8") if log_path else None

    def record(self, entry):
        with self.lock:
            self.count += 1
            if self.log_file is not None:
                self.log_file.write(json.dumps(entry) + "\n")
                self.log_file.flush()

    def get(self):
        with self.lock:
            return self.count


def describe_token_request(environ, body):
    """What the request presented, whether or not authlib accepted it."""
    form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"),
                                 keep_blank_values=True)

    def field(name):
        values = form.get(name)
        if not values:
            return None
        return values[0] if len(values) == 1 else values

    authorization = environ.get("HTTP_AUTHORIZATION")
    basic = authorization is not None and authorization[:6].lower() == "basic "
    post = "client_secret" in form
    assertion = field("client_assertion")
    client_id = field("client_id")
    if basic:
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode("utf-8")
            if ":" in decoded:
                client_id = decoded.split(":", 1)[0]
        except (binascii.Error, UnicodeDecodeError):
            pass
    if basic and post:
        method = "client_secret_basic+client_secret_post"
    elif basic:
        method = "client_secret_basic"
    elif post:
        method = "client_secret_post"
    elif assertion is not None:
        method = "client_assertion"
    elif authorization is not None:
        method = "other"
    else:
        method = "none"
    entry = {
        "client_id": client_id,
        "auth_method": method,
        "grant_type": field("grant_type"),
        "scope": field("scope"),
        "resource": field("resource"),
    }
    if isinstance(assertion, str):
        entry.update(describe_assertion(assertion))
        entry["assertion_type"] = field("client_assertion_type")
    return entry


def describe_assertion(assertion):
    """The header and claims of a client assertion, as sent (not verified)."""

    def part(s):
        return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))

    try:
        head, claims = (part(p) for p in assertion.split(".")[:2])
    except (ValueError, binascii.Error):
        return {"alg": None}
    lifetime = None
    if isinstance(claims.get("exp"), int) and isinstance(claims.get("iat"), int):
        lifetime = claims["exp"] - claims["iat"]
    return {
        "alg": head.get("alg"), "kid": head.get("kid"), "typ": head.get("typ"),
        "iss": claims.get("iss"), "sub": claims.get("sub"), "aud": claims.get("aud"),
        "jti": claims.get("jti"), "lifetime": lifetime, "has_nbf": "nbf" in claims,
        "iat_age": int(time.time()) - claims["iat"] if isinstance(claims.get("iat"), int) else None,
    }


def recording(app, recorder):
    """WSGI middleware: answers /_count, and records every token request
    before its response goes out (so /_count already includes it then)."""

    def middleware(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_count" and environ.get("REQUEST_METHOD") == "GET":
            data = ("%d\n" % recorder.get()).encode("ascii")
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                                      ("Content-Length", str(len(data)))])
            return [data]
        if path != TOKEN_PATH:
            return app(environ, start_response)

        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(max(length, 0), MAX_BODY)) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        entry = describe_token_request(environ, body)
        status = []

        def capture(status_line, headers, exc_info=None):
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        try:
            result = app(environ, capture)
            chunks = list(result)
            if hasattr(result, "close"):
                result.close()
        except BaseException:
            entry["status"] = 500
            entry["error"] = "exception"
            recorder.record(entry)
            raise
        entry["status"] = status[-1] if status else None
        entry["error"] = None
        if entry["status"] is not None and entry["status"] >= 400:
            try:
                entry["error"] = json.loads(b"".join(chunks)).get("error")
            except ValueError:
                pass
        recorder.record(entry)
        return chunks

    return middleware


def create_app(secret, recorder, client_jwks, federation=None):
    app = Flask(__name__)
    app.config.update(
        OAUTH2_TOKEN_EXPIRES_IN={"client_credentials": 3600},
        OAUTH2_SCOPES_SUPPORTED=SCOPES,
    )
    clients = {
        "kb-basic": Client("kb-basic", secret, "client_secret_basic"),
        "kb-post": Client("kb-post", secret, "client_secret_post"),
        "kb-csjwt": Client("kb-csjwt", secret, "client_secret_jwt"),
        "kb-pkjwt": Client("kb-pkjwt", None, "private_key_jwt", client_jwks),
    }
    if federation is not None:
        # a client without a secret: it trusts the CI issuer's identity instead
        clients["kb-federated"] = Client("kb-federated", "", "federated_client_assertion")
    tokens_lock = threading.Lock()
    tokens = {}

    def query_client(client_id):
        return clients.get(client_id)

    def save_token(token, request):
        with tokens_lock:
            tokens[token["access_token"]] = (request.client.get_client_id(), token)

    server = AuthorizationServer(app, query_client=query_client, save_token=save_token)
    if federation is None:
        server.register_grant(ClientCredentials)
    else:
        # authlib looks up every method a grant names: name this one only when it exists
        class FederatedClientCredentials(ClientCredentials):
            TOKEN_ENDPOINT_AUTH_METHODS = (ClientCredentials.TOKEN_ENDPOINT_AUTH_METHODS
                                           + [FederatedAssertion.CLIENT_AUTH_METHOD])
        server.register_grant(FederatedClientCredentials)
        server.register_client_auth_method(FederatedAssertion.CLIENT_AUTH_METHOD,
                                           FederatedAssertion(**federation))

    @app.route(TOKEN_PATH, methods=["POST"])
    def issue_token():
        return server.create_token_response()

    app.wsgi_app = recording(app.wsgi_app, recorder)
    return app, server


def register_assertion_methods(server, token_url):
    """The JWT methods check aud against the token endpoint's URL, which is only
    known once the port is."""
    for method in ("client_secret_jwt", "private_key_jwt"):
        server.register_client_auth_method(method, ClientAssertion(token_url, method))


class DeferredHandshakeContext(ssl.SSLContext):
    """werkzeug wraps the listening socket, so by default each TLS handshake
    runs inside accept(), on the one thread that accepts: a client that
    connects and sends nothing would stall every other client.  Deferred, the
    handshake happens on the first read, in that connection's own thread."""

    def wrap_socket(self, sock, *args, **kwargs):
        kwargs["do_handshake_on_connect"] = False
        return super().wrap_socket(sock, *args, **kwargs)


def write_port_file(path, port):
    # Write then rename, so a polling test never reads a partial number.
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--secret-file", required=True)
    ap.add_argument("--client-jwks")
    ap.add_argument("--log")
    ap.add_argument("--ci-issuer", help="trust this CI issuer's ID tokens (its JWKS at "
                    "/.well-known/jwks.json) for the client kb-federated")
    ap.add_argument("--ci-subject", default="repo:keybearer/test:ref:refs/heads/main")
    args = ap.parse_args()
    client_jwks = args.client_jwks  # read at every request

    with open(args.secret_file, "rb") as f:
        secret = f.read().decode("utf-8")  # raw: nothing stripped

    # One line per request on stderr would drown test output; errors still show.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    tls = DeferredHandshakeContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)

    recorder = Recorder(args.log)
    # make_server binds and listens before it returns: the token URL is known then.
    server = make_server("127.0.0.1", 0, None, threaded=True, ssl_context=tls)
    token_url = "https://127.0.0.1:%d%s" % (server.server_port, TOKEN_PATH)
    federation = None
    if args.ci_issuer:
        with urllib.request.urlopen(args.ci_issuer + "/.well-known/jwks.json") as reply:
            jwks = json.load(reply)
        federation = {"token_url": token_url, "issuer": args.ci_issuer,
                      "subject": args.ci_subject, "jwks": jwks}
    server.app, oauth = create_app(secret, recorder, client_jwks, federation)
    register_assertion_methods(oauth, token_url)

    def stop(signum, frame):
        # shutdown() waits for serve_forever() to return: not from its thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    write_port_file(args.port_file, server.server_port)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

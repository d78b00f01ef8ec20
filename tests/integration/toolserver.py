#!/usr/bin/python3
"""The servers real host tools talk to in keybearer's integration tests: a Terraform
private module registry and a Kubernetes API server, each answering only requests that
carry a token the token server issued (and has not revoked).

Usage:
    toolserver.py --api registry|kubernetes --port-file FILE --cert PEM --key PEM
                  --token-check URL --ca PEM --log FILE

Listens over HTTPS on 127.0.0.1 on an ephemeral port and writes that port to FILE once it
accepts connections. A request's token is checked by asking the token server's protected
resource (--token-check, its /api/hello) with the same Authorization header, so a token is
valid here exactly when it is there. Every request except the control ones is appended to
--log as one JSON line: {"method", "path", "auth": "none" | "valid" | "refused" |
"signed"} ("signed": no token, but an archive URL this server signed); the
Authorization value itself is never written. GET /_requests returns those lines.

--api registry (the module registry protocol, modules.v1 at /v1/modules/):
    GET /v1/modules/NS/NAME/SYSTEM/versions        {"modules": [{"versions": [...]}]}
    GET /v1/modules/NS/NAME/SYSTEM/VERSION/download 204, X-Terraform-Get: the archive's
                                                   URL, signed (Terraform sends no token
                                                   there, so a registry presigns it)
    GET /archive/NS/NAME/SYSTEM/VERSION.tar.gz?sig=S the module: a main.tf with one output,
                                                   for a signature the server made
--api kubernetes (what kubectl get namespaces reads):
    GET /version, /api, /apis, /api/v1, /api/v1/namespaces (a Table when asked for one)
A request without a valid token gets 401, in each API's own form.

Standard library only: it must run with Debian's /usr/bin/python3.
"""

import argparse
import hashlib
import hmac
import http.server
import io
import json
import os
import re
import socketserver
import secrets
import ssl
import sys
import tarfile
import threading
import urllib.error
import urllib.parse
import urllib.request

VERSIONS = ["0.9.0", "1.0.0"]
MODULE = re.compile(r"^/v1/modules/([a-z0-9-]+)/([a-z0-9-]+)/([a-z0-9-]+)/(.*)$")
ARCHIVE = re.compile(r"^/archive/([a-z0-9-]+)/([a-z0-9-]+)/([a-z0-9-]+)/([0-9.]+)\.tar\.gz$")
NAMESPACES = ["default", "kube-system", "keybearer-test"]


def module_archive(ns, name, system, version):
    """A tar.gz holding the module's main.tf, whose output names the module."""
    main_tf = ('output "greeting" {\n  value = "hello from %s/%s/%s %s"\n}\n'
               % (ns, name, system, version)).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("main.tf")
        info.size = len(main_tf)
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(main_tf))
    return buf.getvalue()


def namespace_table():
    """The meta.k8s.io/v1 Table kubectl asks for: it prints the cells as they are."""
    columns = [
        {"name": "Name", "type": "string", "format": "name", "priority": 0,
         "description": "Name must be unique within a namespace."},
        {"name": "Status", "type": "string", "format": "", "priority": 0,
         "description": "The status of the namespace"},
        {"name": "Age", "type": "string", "format": "", "priority": 0,
         "description": "CreationTimestamp"},
    ]
    rows = [{"cells": [ns, "Active", "10d"],
             "object": {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"name": ns, "uid": "uid-" + ns,
                                     "resourceVersion": "1",
                                     "creationTimestamp": "2026-01-01T00:00:00Z"}}}
            for ns in NAMESPACES]
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": "1"}, "columnDefinitions": columns, "rows": rows}


def namespace_list():
    return {"kind": "NamespaceList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"},
            "items": [{"metadata": {"name": ns, "uid": "uid-" + ns, "resourceVersion": "1",
                                    "creationTimestamp": "2026-01-01T00:00:00Z"},
                       "spec": {"finalizers": ["kubernetes"]},
                       "status": {"phase": "Active"}} for ns in NAMESPACES]}


KUBE_VERSION = {"major": "1", "minor": "30", "gitVersion": "v1.30.0",
                "gitCommit": "0000000000000000000000000000000000000000",
                "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.22.0", "compiler": "gc", "platform": "linux/amd64"}
KUBE_RESOURCES = {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
    {"name": "namespaces", "singularName": "namespace", "namespaced": False,
     "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"]}]}
KUBE_UNAUTHORIZED = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                     "status": "Failure", "message": "Unauthorized", "reason": "Unauthorized",
                     "code": 401}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keybearer-toolserver/1"
    timeout = 60

    def do_GET(self):
        path = self.path.partition("?")[0]
        if path == "/_requests":
            self.send(200, "application/x-ndjson", self.server.requests().encode())
            return
        auth = self.check_token()
        if auth == "none" and self.server.api == "registry" and self.signed(path):
            auth = "signed"  # a presigned archive URL stands for the token that got it
        self.server.record({"method": self.command, "path": self.path, "auth": auth})
        if self.server.api == "registry":
            self.registry(path, auth)
        else:
            self.kubernetes(path, auth)

    do_HEAD = do_POST = do_GET

    def check_token(self):
        header = self.headers.get("Authorization")
        if header is None:
            return "none"
        request = urllib.request.Request(self.server.token_check,
                                         headers={"Authorization": header})
        try:
            with urllib.request.urlopen(request, context=self.server.client_tls,
                                        timeout=10) as reply:
                return "valid" if reply.status == 200 else "refused"
        except urllib.error.HTTPError:
            return "refused"

    # -- the module registry ---------------------------------------------------

    def signed(self, path):
        query = urllib.parse.parse_qs(self.path.partition("?")[2])
        return ARCHIVE.match(path) is not None and hmac.compare_digest(
            query.get("sig", [""])[0], self.server.sign(path))

    def registry(self, path, auth):
        module = MODULE.match(path)
        archive = ARCHIVE.match(path)
        if auth not in ("valid", "signed"):
            self.send_json(401, {"errors": ["a valid Bearer token is required"]})
            return
        if module and module.group(4) == "versions":
            self.send_json(200, {"modules": [{"versions": [{"version": v} for v in VERSIONS]}]})
        elif module and module.group(4).endswith("/download") and \
                module.group(4)[:-len("/download")] in VERSIONS:
            ns, name, system = module.group(1, 2, 3)
            version = module.group(4)[:-len("/download")]
            # a path alone: Terraform resolves it against this download URL
            where = "/archive/%s/%s/%s/%s.tar.gz" % (ns, name, system, version)
            self.send(204, None, b"", {"X-Terraform-Get": "%s?sig=%s"
                                       % (where, self.server.sign(where))})
        elif archive and archive.group(4) in VERSIONS:
            self.send(200, "application/gzip", module_archive(*archive.group(1, 2, 3, 4)))
        else:
            self.send_json(404, {"errors": ["not found"]})

    # -- the Kubernetes API ----------------------------------------------------

    def kubernetes(self, path, auth):
        if auth != "valid":
            self.send_json(401, KUBE_UNAUTHORIZED)
            return
        port = self.server.server_address[1]
        if path == "/version":
            self.send_json(200, KUBE_VERSION)
        elif path == "/api":
            self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                 "serverAddressByClientCIDRs": [
                                     {"clientCIDR": "0.0.0.0/0",
                                      "serverAddress": "127.0.0.1:%d" % port}]})
        elif path == "/apis":
            self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": []})
        elif path == "/api/v1":
            self.send_json(200, KUBE_RESOURCES)
        elif path == "/api/v1/namespaces":
            wants_table = "as=Table" in self.headers.get("Accept", "")
            self.send_json(200, namespace_table() if wants_table else namespace_list())
        else:
            self.send_json(404, {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                 "status": "Failure", "message": "not found",
                                 "reason": "NotFound", "code": 404})

    # -- plumbing ----------------------------------------------------------------

    def send(self, status, ctype, body, headers=None):
        self.send_response(status)
        if ctype is not None:
            self.send_header("Content-Type", ctype)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and status != 204:
            self.wfile.write(body)

    def send_json(self, status, obj):
        self.send(status, "application/json", json.dumps(obj).encode())

    def log_message(self, fmt, *args):
        pass  # the request log is --log, written by record()


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, args):
        self.api = args.api
        self.token_check = args.token_check
        self.log_path = args.log
        self.lock = threading.Lock()
        self.key = secrets.token_bytes(32)  # signs archive URLs
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(args.cert, args.key)
        self.client_tls = ssl.create_default_context(cafile=args.ca)
        super().__init__(("127.0.0.1", 0), Handler)

    def server_bind(self):
        # HTTPServer.server_bind would call socket.getfqdn(): a DNS query
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        # the handshake in the connection's own thread, never in the accept loop
        request.settimeout(Handler.timeout)
        try:
            tls = self.tls.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            request.close()
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        pass  # a client hanging up is no test failure; what it asked is in the log

    def sign(self, path):
        return hmac.new(self.key, path.encode(), hashlib.sha256).hexdigest()

    def record(self, entry):
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")

    def requests(self):
        with self.lock:
            try:
                with open(self.log_path, encoding="utf-8") as log:
                    return log.read()
            except FileNotFoundError:
                return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api", choices=("registry", "kubernetes"), required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--token-check", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--log", required=True)
    args = ap.parse_args()
    server = Server(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_port)
    os.rename(tmp, args.port_file)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

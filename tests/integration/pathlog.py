#!/usr/bin/python3
"""Plain HTTP listeners on 127.0.0.1 that write down what reaches them, for the tests of
keybearer curl: which words curl fetched as URLs, and whether anything at all reached a
server that stands in for an attacker's host or a proxy.

Usage:
    pathlog.py --ports N --port-file FILE --log FILE

Listens on N ephemeral ports and writes them, space-separated, to FILE once they accept
connections. Every connection adds "PORT connect" to the log, every request
"PORT request TARGET auth=yes|no" (TARGET as sent: a path, or a proxy's absolute URL or
CONNECT host). The value of an Authorization header is never written, only whether one
came. Every request is answered 200 "ok", but /redirect/PORT/PATH with a 302 to
http://127.0.0.1:PORT/PATH. Standard library only: it runs with Debian's /usr/bin/python3.
"""

import argparse
import http.server
import os
import socketserver
import sys
import threading

LOCK = threading.Lock()


def write(log, line):
    with LOCK:
        with open(log, "a", encoding="utf-8") as f:
            f.write(line + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        write(self.server.log, "%d connect" % self.server.server_address[1])

    def handle_one_request(self):
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if not self.parse_request():
            return
        write(self.server.log, "%d request %s auth=%s" % (
            self.server.server_address[1], self.path,
            "yes" if "Authorization" in self.headers else "no"))
        self.read_body()
        body = b"ok\n"
        parts = self.path.split("/", 3)
        if len(parts) == 4 and parts[1] == "redirect" and parts[2].isdigit():
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%s/%s" % (parts[2], parts[3]))
        else:
            self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.close_connection = True

    def read_body(self):
        if self.headers.get("Expect", "").lower() == "100-continue":
            self.send_response_only(100)
            self.end_headers()
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                self.rfile.read(size + 2)
                if size == 0:
                    break
        else:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ports", type=int, required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    open(args.log, "a").close()
    servers = []
    for _ in range(args.ports):
        server = Server(("127.0.0.1", 0), Handler)
        server.log = args.log
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(" ".join(str(s.server_address[1]) for s in servers) + "\n")
    os.rename(tmp, args.port_file)
    threading.Event().wait()


if __name__ == "__main__":
    sys.exit(main())

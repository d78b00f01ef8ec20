#!/usr/bin/python3
"""An HTTP CONNECT proxy for keybearer's tests: proves the token request honours
https_proxy. Every tunnel goes to 127.0.0.1 whatever host was asked for, so a made-up name
(token.test) stands for a remote endpoint. Each CONNECT target is appended to --log.

Usage: connectproxy.py --port-file FILE --log FILE
"""

import argparse
import os
import socket
import socketserver
import threading


class Tunnel(socketserver.StreamRequestHandler):
    def handle(self):
        request = self.rfile.readline(8192).decode("latin-1").split()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # the rest of the request head
        if len(request) != 3 or request[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            return
        host, _, port = request[1].rpartition(":")
        with self.server.lock, open(self.server.log, "a") as log:
            log.write(request[1] + "\n")
        upstream = socket.create_connection(("127.0.0.1", int(port)), timeout=30)
        self.wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.wfile.flush()
        pump = threading.Thread(target=copy, args=(upstream, self.connection), daemon=True)
        pump.start()
        copy(self.connection, upstream)
        pump.join(30)
        upstream.close()


def copy(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Tunnel)
    server.lock = threading.Lock()
    server.log = args.log
    open(args.log, "w").close()
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()

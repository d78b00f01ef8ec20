#!/usr/bin/python3
"""Drives `keybearer login` on a pseudo-terminal, as a person would: answers the client id
prompt and the secret prompt, and checks what the terminal showed. Exits non-zero with a
message when the secret was echoed or a prompt did not come.

Usage: pty-login.py KEYBEARER PROFILE TOKEN_URL CLIENT_ID  (the secret on stdin)
"""

import os
import pty
import select
import sys
import time


def read_until(fd, wanted, seen, timeout=10):
    deadline = time.monotonic() + timeout
    while wanted not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            sys.exit("no prompt %r; the terminal showed %r" % (wanted, seen))
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            chunk = b""
        if not chunk:
            sys.exit("keybearer ended before %r; the terminal showed %r" % (wanted, seen))
        seen += chunk
    return seen


def main():
    keybearer, profile, token_url, client_id = sys.argv[1:5]
    secret = sys.stdin.buffer.read()
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(keybearer, [keybearer, "login", "--profile", profile,
                             "--token-url", token_url, "--no-verify"])
    seen = read_until(fd, b"Client id for profile %s: " % profile.encode(), b"")
    os.write(fd, client_id.encode() + b"\n")
    seen = read_until(fd, b"(not shown): ", seen)
    os.write(fd, secret + b"\n")
    seen = read_until(fd, b"stored the secret", seen)
    _, status = os.waitpid(pid, 0)
    if secret in seen:
        sys.exit("the secret was echoed: %r" % seen)
    if client_id.encode() not in seen:
        sys.exit("the client id was not echoed: %r" % seen)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("login exited %d: %r" % (os.waitstatus_to_exitcode(status), seen))


if __name__ == "__main__":
    main()

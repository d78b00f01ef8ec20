#!/usr/bin/python3
"""The command side of keybearer exec --token-file, for tokenfile.sh.

    tokenfile-reader.py read VARIABLE SECONDS LOG
        reads the file $VARIABLE names every 100 ms for SECONDS, one line per read in
        LOG: "<time after the read> <token>|EMPTY <mode> <uid>", or "<time> ENOENT"
    tokenfile-reader.py check LOG ISSUED LIFETIME WINDOW [--allow-missing]
        checks LOG against ISSUED (the token server's /_issued: token -> expiry): every
        token read is one the server issued, read before its expiry, whole, in a 0600
        file of ours; with --allow-missing a read may find no file. The issue times must
        follow get's refresh rules: each token asked for no sooner than LIFETIME - WINDOW
        after the one before it (it was fresh until then), and no later than 2 s past
        that; at most 1 + (the run's time / (LIFETIME - WINDOW)) of them. Prints
        "reads N, tokens N, missing N".
    tokenfile-reader.py count-signal SIGNAL READY SECONDS
        counts the deliveries of SIGNAL for SECONDS after the first one (READY is
        created once the handler is in place) and exits with that count.
    tokenfile-reader.py ctrl-c READY -- COMMAND...
        runs COMMAND on a new pseudo-terminal as its foreground job, types ^C once READY
        exists, and prints the command's wait status as "exit N" or "signal N".

Standard library only: it must run with Debian's /usr/bin/python3.
"""

import json
import os
import pty
import signal
import stat
import sys
import time


def read(variable, seconds, log):
    path = os.environ[variable]
    end = time.time() + float(seconds)
    with open(log, "w") as out:
        while time.time() < end:
            try:
                with open(path, "rb") as f:
                    data = f.read()
                    st = os.fstat(f.fileno())
                line = "%s %o %d" % (data.decode("ascii", "replace") or "EMPTY",
                                     stat.S_IMODE(st.st_mode), st.st_uid)
            except FileNotFoundError:
                line = "ENOENT"
            out.write("%.3f %s\n" % (time.time(), line))
            out.flush()
            time.sleep(0.1)


def check(log, issued_file, lifetime, window, allow_missing):
    with open(issued_file) as f:
        issued = json.load(f)
    problems, seen, reads, missing = [], [], 0, 0
    with open(log) as f:
        for line in f:
            reads += 1
            fields = line.split()
            when, what = float(fields[0]), fields[1]
            if what == "ENOENT":
                missing += 1
                if not allow_missing:
                    problems.append("no file at %.3f" % when)
                continue
            mode, uid = fields[2], int(fields[3])
            if what not in issued:
                problems.append("a token the server never issued (torn or empty?) at "
                                "%.3f: %.40s" % (when, what))
            elif when >= issued[what]:
                problems.append("a dead token at %.3f, %.3f s past its expiry"
                                % (when, when - issued[what]))
            if mode != "600" or uid != os.getuid():
                problems.append("mode %s uid %d at %.3f" % (mode, uid, when))
            if what not in seen:
                seen.append(what)
    # every token of the run was in the file long enough to be read: the issue times of
    # those read are those of all the requests the run made
    issue_times = sorted(issued[t] - float(lifetime) for t in seen)
    fresh_for = float(lifetime) - float(window)
    if issue_times and not allow_missing:
        ran = when - issue_times[0]
        most = 1 + int(ran // fresh_for)
        if len(seen) > most:
            problems.append("%d tokens in %.1f s: get's rules ask for at most %d"
                            % (len(seen), ran, most))
    for before, after in zip(issue_times, issue_times[1:]):
        gap = after - before
        if gap < fresh_for - 0.1:
            problems.append("a token asked for %.3f s after the one before, which was "
                            "fresh for %.0f s" % (gap, fresh_for))
        if not allow_missing and gap > fresh_for + 2:
            problems.append("a refresh %.3f s after the one before, late" % gap)
    for p in problems[:10]:
        print("PROBLEM: " + p)
    print("reads %d, tokens %d, missing %d" % (reads, len(seen), missing))
    return 1 if problems else 0


def count_signal(signame, ready, seconds):
    sig = getattr(signal, signame)
    got = []
    signal.signal(sig, lambda s, f: got.append(time.time()))
    open(ready, "w").close()
    while not got:
        time.sleep(0.05)
    end = got[0] + float(seconds)
    while time.time() < end:
        time.sleep(0.05)
    sys.exit(len(got))


def ctrl_c(ready, command):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(command[0], command)
    deadline = time.time() + 20
    while not os.path.exists(ready) and time.time() < deadline:
        time.sleep(0.05)
    os.write(fd, b"\x03")
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except OSError:
            break
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        print("signal %d" % os.WTERMSIG(status))
    else:
        print("exit %d" % os.WEXITSTATUS(status))


def main():
    verb, args = sys.argv[1], sys.argv[2:]
    if verb == "read":
        read(*args)
    elif verb == "check":
        allow = "--allow-missing" in args
        args = [a for a in args if a != "--allow-missing"]
        return check(*args, allow_missing=allow)
    elif verb == "count-signal":
        count_signal(*args)
    elif verb == "ctrl-c":
        ctrl_c(args[0], args[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main())

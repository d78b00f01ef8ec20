#!/usr/bin/python3
"""The measurements hyperfine cannot make, for bench/run.sh. Each prints one JSON object.

  measure.py heap [--stdin FILE] -- CMD...         peak heap of CMD (valgrind massif)
  measure.py crowd N -- CMD...                     N copies of CMD started at once
  measure.py cold RUNS [--one-post PATH URL CA FORM] PROFILE... -- KEYBEARER
                                                   cold gets, with KEYBEARER_DEBUG timings
  measure.py percentiles JSON                      p50/p99/max per hyperfine command
  measure.py capath                                libcurl's CA directory and bundle
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def split_command(args):
    if "--" not in args:
        sys.exit("measure.py: missing -- before the command")
    i = args.index("--")
    return args[:i], args[i + 1:]


def heap(args):
    """Peak heap of CMD as valgrind's massif sees it (CMD must be dynamically linked)."""
    opts, cmd = split_command(args)
    stdin = open(opts[1], "rb") if opts[:1] == ["--stdin"] else subprocess.DEVNULL
    with tempfile.NamedTemporaryFile("r") as out:
        subprocess.run(["valgrind", "-q", "--tool=massif", "--massif-out-file=" + out.name,
                        "--detailed-freq=1000000"] + cmd,
                       stdin=stdin, stdout=subprocess.DEVNULL, check=True)
        text = out.read()
    useful = [int(v) for v in re.findall(r"^mem_heap_B=(\d+)", text, re.M)]
    extra = [int(v) for v in re.findall(r"^mem_heap_extra_B=(\d+)", text, re.M)]
    return {"peak_kib": max(u + e for u, e in zip(useful, extra)) / 1024}


def crowd(args):
    opts, cmd = split_command(args)
    count = int(opts[0])
    outputs, procs = [], {}
    start = time.monotonic()
    for _ in range(count):
        out = tempfile.TemporaryFile()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.DEVNULL)
        procs[proc.pid] = (proc, out)
    latencies, failed = [], 0
    while procs:
        pid, status = os.wait()
        latencies.append(time.monotonic() - start)
        proc, out = procs.pop(pid)
        failed += os.waitstatus_to_exitcode(status) != 0
        out.seek(0)
        outputs.append(out.read())
        out.close()
    return {"slowest_ms": max(latencies) * 1000,
            "median_ms": statistics.median(latencies) * 1000,
            "failed": failed, "distinct_answers": len(set(outputs))}


TIMING = re.compile(r"timing: (.*)$")  # "timing: NAME 1.234 ms[, NAME 5.678 ms]..."
PART = re.compile(r"(.+) ([0-9]+(?:\.[0-9]+)?) ms")


def cold(args):
    """Medians of each phase of RUNS cold gets of each PROFILE, by profile. The profiles take
    turns, so what else the machine does weighs on each alike. PROFILE@LABEL=PATH: that
    profile's cold get by the keybearer at PATH, reported as PROFILE@LABEL. --one-post: the
    bench's bare client (one_post.c) takes its turn too, POSTing FORM to URL, as one-post."""
    opts, cmd = split_command(args)
    runs, specs = int(opts[0]), opts[1:]
    env = dict(os.environ, KEYBEARER_DEBUG="1")
    callers = {}
    if specs[:1] == ["--one-post"]:
        path, url, ca, form = specs[1:5]
        callers["one-post"] = ([path, url, ca], form, None)
        specs = specs[5:]
    for spec in specs:
        key, _, path = spec.partition("=")
        profile = key.partition("@")[0]
        callers[key] = ([path or cmd[0], "get", "--profile", profile], None, profile)
    parts = {key: {} for key in callers}
    for _ in range(runs):
        for key, (argv, form, profile) in callers.items():
            if profile is not None:
                subprocess.run([argv[0], "invalidate", "--profile", profile], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            stdin = open(form, "rb") if form else subprocess.DEVNULL
            start = time.monotonic()
            proc = subprocess.run(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
            wall = (time.monotonic() - start) * 1000
            if form:
                stdin.close()
            if proc.returncode != 0:
                sys.exit("measure.py: a cold get of %s failed: %s" % (key, proc.stderr))
            seen = {"wall": wall}
            for line in proc.stderr.splitlines():
                m = TIMING.search(line)
                if m:
                    for part in m.group(1).split(", "):
                        # a line another writer cut into (a wait notice) is not a timing
                        t = PART.fullmatch(part)
                        if t:
                            seen[t.group(1)] = float(t.group(2))
            for name, value in seen.items():
                parts[key].setdefault(name, []).append(value)
    return {key: {name: statistics.median(values) for name, values in phases.items()}
            for key, phases in parts.items()}


def percentiles(args):
    with open(args[0]) as f:
        results = json.load(f)["results"]
    answer = {}
    for r in results:
        times = sorted(r["times"])
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        answer[r["command"]] = {"p50_ms": statistics.median(times) * 1000,
                                "p99_ms": p99 * 1000, "max_ms": times[-1] * 1000,
                                "runs": len(times)}
    return answer


def capath(args):
    """Where this machine's libcurl finds the system's CAs: its hashed directory and its
    bundle (curl_version_info's capath and cainfo; empty when it has none)."""
    import ctypes

    class Info(ctypes.Structure):
        _fields_ = [("age", ctypes.c_int), ("version", ctypes.c_char_p),
                    ("version_num", ctypes.c_uint), ("host", ctypes.c_char_p),
                    ("features", ctypes.c_int), ("ssl_version", ctypes.c_char_p),
                    ("ssl_version_num", ctypes.c_long), ("libz_version", ctypes.c_char_p),
                    ("protocols", ctypes.c_void_p), ("ares", ctypes.c_char_p),
                    ("ares_num", ctypes.c_int), ("libidn", ctypes.c_char_p),
                    ("iconv_ver_num", ctypes.c_int), ("libssh_version", ctypes.c_char_p),
                    ("brotli_ver_num", ctypes.c_uint), ("brotli_version", ctypes.c_char_p),
                    ("nghttp2_ver_num", ctypes.c_uint), ("nghttp2_version", ctypes.c_char_p),
                    ("quic_version", ctypes.c_char_p), ("cainfo", ctypes.c_char_p),
                    ("capath", ctypes.c_char_p)]

    curl = ctypes.CDLL("libcurl.so.4")
    curl.curl_version_info.restype = ctypes.POINTER(Info)
    info = curl.curl_version_info(9).contents  # CURLVERSION_TENTH: the layout above
    known = info.age >= 6  # capath and cainfo came with the seventh
    return {"capath": (info.capath or b"").decode() if known else "",
            "cainfo": (info.cainfo or b"").decode() if known else ""}


COMMANDS = {"heap": heap, "crowd": crowd, "cold": cold,
            "percentiles": percentiles, "capath": capath}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit(__doc__)
    print(json.dumps(COMMANDS[sys.argv[1]](sys.argv[2:])))

#!/usr/bin/python3
"""Runs the golden protocol cases: each file in a directory is one host tool's request and
the exact answer keybearer must give. One runner, the cases are data.

A case file:
    # comments
    args: git-credential-keybearer get      program (in the installed bin/) and arguments,
                                            split as a shell would
    env: NAME=value                         optional, repeatable
    exit: 0
    --- stdin                               optional; every line ends with a newline,
    ...                                     except one ending in @NOEOL@
    --- stdout                              compared byte for byte (stdin and stdout are UTF-8)
    ...
    --- stderr                              optional: a regular expression (re.search);
    ...                                     without it, stderr must be empty

Anywhere, @NAME@ is replaced by the value given as --subst NAME=value, @CR@ by a carriage
return, @REPEAT:c:n@ by n times the character c, and @FILL:c:n@ by as many c as make the
line that holds it exactly n bytes long, its newline not counted (for a limit's boundary,
whatever the length of the substituted values around it).

Usage: golden.py --bin DIR [--subst NAME=value]... CASE_DIR
"""

import argparse
import os
import re
import shlex
import subprocess
import sys

SECTION = re.compile(r"^--- (stdin|stdout|stderr)$")
FILL = re.compile(r"@FILL:(.):(\d+)@")


def fill_line(line):
    m = FILL.search(line)
    if m is None:
        return line
    count = int(m.group(2)) - len((line[:m.start()] + line[m.end():]).encode("utf-8"))
    if count < 0:
        raise ValueError("@FILL@ in a line already longer than %s bytes" % m.group(2))
    return line[:m.start()] + m.group(1) * count + line[m.end():]


def expand(text, subst):
    text = re.sub(r"@REPEAT:(.):(\d+)@", lambda m: m.group(1) * int(m.group(2)), text)
    text = text.replace("@CR@", "\r")
    for name, value in subst.items():
        text = text.replace("@%s@" % name, value)
    return "\n".join(fill_line(line) for line in text.split("\n"))


def parse_case(path, subst):
    case = {"env": {}, "sections": {}}
    section = None
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for line in lines:
        m = SECTION.match(line)
        if m:
            section = m.group(1)
            case["sections"][section] = []
        elif section is not None:
            case["sections"][section].append(line)
        elif line.startswith("#") or not line.strip():
            continue
        else:
            key, _, value = line.partition(": ")
            value = expand(value, subst)
            if key == "args":
                case["args"] = shlex.split(value)
            elif key == "env":
                name, _, env_value = value.partition("=")
                case["env"][name] = env_value
            elif key == "exit":
                case["exit"] = int(value)
            else:
                raise ValueError("%s: unknown line %r" % (path, line))
    for name, body in case["sections"].items():
        text = "".join(l[:-len("@NOEOL@")] if l.endswith("@NOEOL@") else l + "\n"
                       for l in body)
        case["sections"][name] = expand(text, subst)
    return case


def run_case(path, bin_dir, subst):
    case = parse_case(path, subst)
    argv = [os.path.join(bin_dir, case["args"][0])] + case["args"][1:]
    env = dict(os.environ)
    env.update(case["env"])
    result = subprocess.run(argv, input=case["sections"].get("stdin", "").encode("utf-8"),
                            capture_output=True, env=env, timeout=60)
    problems = []
    if result.returncode != case["exit"]:
        problems.append("exit %d, expected %d" % (result.returncode, case["exit"]))
    want = case["sections"].get("stdout", "").encode("utf-8")
    if result.stdout != want:
        problems.append("stdout %r, expected %r" % (result.stdout, want))
    stderr = result.stderr.decode("utf-8", "replace")
    pattern = case["sections"].get("stderr")
    if pattern is None and stderr:
        problems.append("stderr %r, expected none" % stderr)
    elif pattern is not None and not re.search(pattern.strip(), stderr):
        problems.append("stderr %r does not match %r" % (stderr, pattern.strip()))
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--subst", action="append", default=[])
    ap.add_argument("cases")
    args = ap.parse_args()
    subst = dict(item.split("=", 1) for item in args.subst)
    failed = 0
    names = sorted(n for n in os.listdir(args.cases) if n.endswith(".case"))
    for name in names:
        problems = run_case(os.path.join(args.cases, name), args.bin, subst)
        print("%s %s" % ("FAIL" if problems else "ok", name))
        for problem in problems:
            print("    " + problem)
        failed += bool(problems)
    print("%d of %d golden cases passed" % (len(names) - failed, len(names)))
    return 1 if failed or not names else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A reference reader of a GOAUTH command's output, as `go help goauth` (Go 1.24) gives it:

    Response      = { CredentialSet } .
    CredentialSet = URLLine { URLLine } BlankLine { HeaderLine } BlankLine .
    URLLine       = /* URL that starts with "https://" */ '\\n' .
    HeaderLine    = /* HTTP Request header */ '\\n' .
    BlankLine     = '\\n' .

modelled on cmd/go/internal/auth: parseUserAuth (userauth.go) cuts lines at '\\n', reads
URL lines up to a blank one and header lines up to the next, cuts each header at ": ",
trims the value and checks name and value (httputils.go); storeCredential (auth.go) keys
the headers by the URL without "https://" and one trailing "/"; loadCredential looks a
request URL up by host and path, one path segment shorter at a time.

Usage: goauth-grammar.py FILE [--lookup URL]...
Prints the credentials go would keep, as JSON {prefix: {header: [values]}}, then for each
--lookup URL a line "URL -> {headers}" (or "URL -> none"). Exits 1 with the reason when
FILE does not follow the grammar, stricter than go where the grammar is (every URL line
starts with "https://", every set has one at least).
"""

import json
import re
import sys
import urllib.parse

TCHAR = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def valid_value(value):
    # httputils.go's validHeaderFieldValue: no CTLs but HTAB
    return all(c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in value)


def cut(data, sep):
    i = data.find(sep)
    return (data, "", False) if i < 0 else (data[:i], data[i + len(sep):], True)


def parse(data):
    credentials = {}
    while data != "":
        urls = []
        while True:
            line, data, ok = cut(data, "\n")
            if not ok:
                raise ValueError("missing empty line after URLs")
            if line == "":
                break
            if not line.startswith("https://"):
                raise ValueError("URL line does not start with https://: %r" % line)
            u = urllib.parse.urlsplit(line)
            if not u.netloc or u.query or u.fragment or "@" in u.netloc or " " in line:
                raise ValueError("not a URL go keeps as a prefix: %r" % line)
            urls.append(line)
        if not urls:
            raise ValueError("a credential set without a URL line")
        header = {}
        while True:
            line, data, ok = cut(data, "\n")
            if not ok:
                raise ValueError("missing empty line after headers")
            if line == "":
                break
            name, value, ok = cut(line, ": ")
            value = value.strip(" \t")
            if not ok or not TCHAR.match(name) or not valid_value(value):
                raise ValueError("invalid header line: %r" % line)
            header.setdefault(name.title(), []).append(value)
        for prefix in urls:
            prefix = prefix[len("https://"):]
            if prefix.endswith("/"):
                prefix = prefix[:-1]
            credentials[prefix] = header
    return credentials


def lookup(credentials, url):
    u = urllib.parse.urlsplit(url)
    current = (u.netloc + u.path).removesuffix("/")
    while True:
        if current in credentials:
            return credentials[current]
        if "/" not in current:
            return None
        current = current[:current.rindex("/")]


def main():
    args = sys.argv[1:]
    with open(args[0], "rb") as f:
        raw = f.read()
    try:
        credentials = parse(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        print("not GOAUTH output: %s" % e, file=sys.stderr)
        return 1
    print(json.dumps(credentials, sort_keys=True))
    rest = args[1:]
    while rest:
        if rest[0] != "--lookup" or len(rest) < 2:
            print("usage: goauth-grammar.py FILE [--lookup URL]...", file=sys.stderr)
            return 2
        found = lookup(credentials, rest[1])
        print("%s -> %s" % (rest[1], "none" if found is None else json.dumps(found, separators=(",", ":"))))
        rest = rest[2:]
    return 0


if __name__ == "__main__":
    sys.exit(main())

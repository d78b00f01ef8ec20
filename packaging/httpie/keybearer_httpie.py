"""HTTPie auth plugin: `http -A keybearer [-a PROFILE] URL`.

The token is that of the keybearer profile whose urls claim the request's URL (with -a,
that profile's, if it claims the URL). The URL goes to `keybearer httpie get` on stdin and
the token comes back on its stdout, a pipe: neither is ever in a process's argv.
keybearer's own messages go to HTTPie's stderr as they are.

After a 401 to a request that carried a token, the plugin drops exactly that token
(`keybearer httpie erase`) and sends the request once more with a fresh one, as
`keybearer curl` does; a second 401 is the answer shown. A request whose body was
streamed (stdin, --chunked, a multipart upload) cannot be sent again: its token is
dropped, the 401 shown, and the user told to run the command again.
"""

import shutil
import subprocess
import sys
import urllib.parse

import requests
from httpie.plugins import AuthPlugin

__version__ = "@KEYBEARER_VERSION@"

# What `keybearer httpie get` may print: one token and a newline, never more.
TOKEN_MAX = 16 * 1024 + 1


class KeybearerError(Exception):
    """keybearer could not hand out a token; its message is on stderr already."""


def _program():
    program = shutil.which("keybearer")
    if program is None:
        raise KeybearerError("keybearer is not installed (not found on PATH) — install it, "
                             "or put its directory on PATH")
    return program


def _run(operation, fields, quiet=False):
    """Runs `keybearer httpie OPERATION` with fields as key=value lines on stdin; returns
    its stdout. quiet: its stderr is not shown (a lookup whose failure only means "no
    token")."""
    text = "".join("%s=%s\n" % (key, value) for key, value in fields if value is not None)
    try:
        done = subprocess.run([_program(), "httpie", operation], input=text.encode("utf-8"),
                              stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL if quiet else None, check=False)
    except OSError as e:
        raise KeybearerError("cannot run keybearer: %s — check the installation" % e)
    if done.returncode != 0:
        if quiet:
            return None
        raise KeybearerError("keybearer %s failed (exit status %d): see its message above"
                             % (operation, done.returncode))
    return done.stdout


def _token_for(url, profile, quiet=False):
    """The token for url, or None when no profile claims it."""
    out = _run("get", [("url", url), ("profile", profile)], quiet)
    if not out:
        return None
    if len(out) > TOKEN_MAX or not out.endswith(b"\n") or b"\n" in out[:-1]:
        if quiet:
            return None
        raise KeybearerError("keybearer httpie get printed something that is not one token "
                             "— check the keybearer installation")
    return out[:-1].decode("ascii")


def _resendable(body):
    return body is None or isinstance(body, (bytes, str))


class KeybearerAuth(requests.auth.AuthBase):
    def __init__(self, profile):
        self.profile = profile

    def __call__(self, r):
        token = _token_for(r.url, self.profile)
        if token is not None:
            r.headers["Authorization"] = "Bearer " + token
            r._keybearer_token = token
            r.register_hook("response", self.handle_response)
        return r

    def handle_response(self, r, **kwargs):
        request = r.request  # the request object a redirect is copied from
        sent = getattr(request, "_keybearer_token", None)
        final = r
        if r.status_code == 401 and sent is not None:
            final = self.retry(r, sent, **kwargs)
        if final.is_redirect:
            self.authorize_redirect(final, request)
        return final

    def retry(self, r, refused, **kwargs):
        _run("erase", [("url", r.request.url), ("token", refused), ("profile", self.profile)])
        if not _resendable(r.request.body):
            sys.stderr.write("keybearer: %s refused the token, which is now dropped; the "
                             "request's body was streamed and cannot be sent again — run "
                             "the command again\n" % r.request.url)
            return r
        token = _token_for(r.request.url, self.profile)
        if token is None or token == refused:
            return r
        r.content  # read the 401 whole, so its connection can be used again
        r.close()
        prep = r.request.copy()
        prep.hooks = requests.hooks.default_hooks()  # once: a second 401 is the answer
        requests.cookies.extract_cookies_to_jar(prep._cookies, r.request, r.raw)
        prep.prepare_cookies(prep._cookies)
        prep.headers["Authorization"] = "Bearer " + token
        prep._keybearer_token = token
        # a redirect after the retry is made from the first request: it must carry the
        # new token, not the refused one
        r.request.headers["Authorization"] = prep.headers["Authorization"]
        r.request._keybearer_token = token
        retried = r.connection.send(prep, **kwargs)
        retried.request = prep
        return retried

    def authorize_redirect(self, response, request):
        """The request a redirect leads to is a copy of this one: it gets the token of the
        profile claiming its URL, or none (requests drops it anyway for another host)."""
        location = response.headers.get("location", "")
        target = urllib.parse.urljoin(response.url, location)
        token = _token_for(target, self.profile, quiet=True)
        if token is None:
            request.headers.pop("Authorization", None)
        else:
            request.headers["Authorization"] = "Bearer " + token


class KeybearerAuthPlugin(AuthPlugin):
    name = "keybearer"
    auth_type = "keybearer"
    description = ("a Bearer token from keybearer, for the profile whose urls claim the "
                   "URL (-a PROFILE: that profile)")
    auth_require = False
    auth_parse = False  # -a names a profile, not user:password
    prompt_password = False

    def get_auth(self, username=None, password=None):
        return KeybearerAuth(self.raw_auth or None)

#include "plugin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "curl-options-help.h"
#include "wget-options-help.h"
#include "wget-options-help.h"
#include "obtain.h"
#include "safefile.h"
#include "url.h"

const struct plugin plugins[] = {
	{ "git", "git-credential-keybearer", "git credential helper (credential.helper)",
	  "usage: git-credential-keybearer get|store|erase|capability\n"
	  "       keybearer git get|store|erase|capability\n"
	  "\n"
	  "git's credential helper protocol. Configure it with\n"
	  "  git config --global credential.https://api.example.com.helper keybearer\n"
	  "get answers with the token of the profile whose urls claim the URL git asks about\n"
	  "(as authtype=Bearer when git offers it, else as the password of the profile's\n"
	  "git_username, by default its client id); erase drops the cached token if it is\n"
	  "the one git is erasing; store is ignored.\n",
	  plugin_git },
	{ "bazel", "keybearer-bazel", "Bazel credential helper (--credential_helper)",
	  "usage: keybearer-bazel get < {\"uri\": ...}\n"
	  "\n"
	  "Bazel's credential helper protocol: --credential_helper=api.example.com=$(which "
	  "keybearer-bazel)\n",
	  plugin_bazel },
	{ "kubectl", NULL, "kubectl exec credential plugin (ExecCredential)",
	  "usage: keybearer kubectl [--profile P]\n"
	  "\n"
	  "A client-go exec credential plugin (client.authentication.k8s.io/v1 and v1beta1):\n"
	  "users: [{name: me, user: {exec: {apiVersion: client.authentication.k8s.io/v1,\n"
	  "        command: keybearer, args: [kubectl, --profile, P], interactiveMode: Never}}}]\n"
	  "v1 needs kubectl 1.22 or later; an older one needs v1beta1. With\n"
	  "provideClusterInfo: true, the cluster's server must be in the profile's urls.\n"
	  "kubectl never says that a token was refused: after a revocation, run\n"
	  "keybearer invalidate --profile P.\n",
	  plugin_kubectl },
	{ "cargo", "cargo-credential-keybearer", "cargo credential provider (protocol v1)",
	  "usage: cargo-credential-keybearer --cargo-plugin\n"
	  "       keybearer cargo --cargo-plugin\n"
	  "\n"
	  "cargo's credential provider protocol v1: credential-provider = \"cargo-credential-"
	  "keybearer\"\n",
	  plugin_cargo },
	{ "terraform", "terraform-credentials-keybearer", "Terraform credentials helper",
	  "usage: terraform-credentials-keybearer get|forget HOST\n"
	  "\n"
	  "Terraform's credentials helper protocol: credentials_helper \"keybearer\" {}\n",
	  plugin_terraform },
	{ "curl", NULL, "run curl with the token, retrying once after a 401",
	  "usage: keybearer curl [--profile P] [--] CURL-ARGUMENTS...\n"
	  "\n"
	  "Runs curl with the Authorization header handed over in a config on a file\n"
	  "descriptor, never in argv; stdin stays curl's. After a 401 it drops exactly that\n"
	  "token and runs curl once more with a fresh one, without showing the first answer.\n"
	  "Exits with curl's status. The profile is the one whose urls claim the URLs in the\n"
	  "arguments, and every URL must be one it claims (a URL without a scheme counts as\n"
	  "the http:// one curl would fetch); globs need -g, -L needs the whole origin\n"
	  "claimed. Plain http, which a profile claims only on loopback, goes past every\n"
	  "proxy.\n"
	  "\n"
	  "It passes on only these curl options, spelled exactly (no abbreviations, no \"=\"\n"
	  "between an option and its value); short ones bundle (-sSf), and every word after\n"
	  "\"--\" is a URL:\n" CURL_OPTIONS_ALLOWED_HELP
	  "Any other option is refused, among them those that change where the connection\n"
	  "goes (-x/--proxy, --preproxy, --connect-to, --resolve, --unix-socket), whom curl\n"
	  "trusts (-k/--insecure, --cacert) or that would show the header (-v/--verbose,\n"
	  "--trace, --libcurl), and keybearer curl's own: -K/--config, -D/--dump-header.\n",
	  plugin_curl },
	{ "wget", NULL, "run wget with the token, retrying once after a 401",
	  "usage: keybearer wget [--profile P] [--] WGET-ARGUMENTS...\n"
	  "\n"
	  "Runs wget with the Authorization header in a config it reads once (--config on a\n"
	  "memory file that vanishes as wget opens it), never in argv or a file; stdin stays\n"
	  "wget's. After a 401 (wget's exit status 6), when the arguments name one URL, it\n"
	  "drops exactly that token and runs wget once more with a fresh one, without showing\n"
	  "the first attempt: wget's output waits in keybearer until wget ends, or until a\n"
	  "body comes on stdout (wget shows its dot progress display, as for any output that\n"
	  "is no terminal: --progress=bar:force for the bar). Exits with wget's status.\n"
	  "The profile is the one whose urls claim the URLs in the arguments, and every URL\n"
	  "must be one it claims, written with its scheme (https://...). wget runs with\n"
	  "--max-redirect=0 (wget 1.21 sends the header wherever a redirect points, other\n"
	  "hosts too), --no-netrc, without /etc/wgetrc and ~/.wgetrc, and for a plain-http\n"
	  "URL, which a profile claims only on loopback, with --no-proxy.\n"
	  "\n"
	  "It passes on only these wget options, spelled exactly (no abbreviations); a value\n"
	  "comes after \"=\" or as the next word, short ones bundle (-qO-), and every word\n"
	  "after \"--\" is a URL:\n" WGET_OPTIONS_ALLOWED_HELP
	  "Any other option is refused, among them -e/--execute, those that change where the\n"
	  "connection goes (--proxy, --proxy-user, --bind-address), whom wget trusts\n"
	  "(--no-check-certificate, --ca-certificate), that would show the header\n"
	  "(-d/--debug, --warc-file), that fetch URLs not on the command line (-r, -p, -m,\n"
	  "-i/--input-file), credentials (--user, --password, --netrc), and keybearer wget's\n"
	  "own: --config, --no-config, --max-redirect. --header takes no Authorization\n"
	  "header, and no empty one.\n",
	  plugin_wget },
	{ "pnpm", NULL, "pnpm tokenHelper (a link keybearer-pnpm-PROFILE in ~/.npmrc)",
	  "usage: keybearer-pnpm-PROFILE\n"
	  "       keybearer pnpm [--profile P]\n"
	  "       keybearer pnpm --link P [DIR]\n"
	  "\n"
	  "pnpm's tokenHelper: pnpm runs it with no arguments and sends what it prints,\n"
	  "\"Bearer <token>\", as the Authorization header to the registry of its .npmrc line.\n"
	  "A link named keybearer-pnpm-PROFILE to keybearer answers for PROFILE;\n"
	  "keybearer pnpm --profile P does the same, for a wrapper script.\n"
	  "--link P [DIR] makes DIR/keybearer-pnpm-P (DIR: default ~/.local/bin; yours\n"
	  "alone, its path free of characters a shell reads), never replacing another file,\n"
	  "and prints the ~/.npmrc line for each of P's urls:\n"
	  "  keybearer pnpm --link P >>~/.npmrc\n"
	  "  //registry.example.com/npm/:tokenHelper=/home/me/.local/bin/keybearer-pnpm-P\n"
	  "pnpm takes tokenHelper only from ~/.npmrc, and does not show the helper's\n"
	  "stderr: run the link by hand to see why it failed.\n",
	  plugin_pnpm },
	{ "httpie", NULL, "HTTPie auth plugin's helper (http -A keybearer URL)",
	  "usage: keybearer httpie get|erase < key=value lines\n"
	  "\n"
	  "What HTTPie's keybearer auth plugin (http -A keybearer [-a PROFILE] URL) runs,\n"
	  "with the request on stdin, never in argv: get reads url=URL (and profile=P) and\n"
	  "prints the token of the profile whose urls claim URL, or nothing, with a warning\n"
	  "on stderr, when none does; erase reads url=URL and token=T (and profile=P) and\n"
	  "drops the cached token if it is T, the one the server refused.\n",
	  plugin_httpie },
	{ "exec", NULL, "run a command with the token in an environment variable or a file",
	  "usage: keybearer exec [--profile P] [--env NAME] -- COMMAND [ARGS...]\n"
	  "       keybearer exec [--profile P] --token-file [--env NAME] -- COMMAND [ARGS...]\n"
	  "\n"
	  "Runs COMMAND with the token in the environment variable NAME (default\n"
	  "KEYBEARER_TOKEN), for tools that read their token from one. keybearer becomes\n"
	  "COMMAND (same pid); when COMMAND still runs once that token has expired, a\n"
	  "warning says so on stderr.\n"
	  "\n"
	  "With --token-file, for jobs that outlive a token: NAME (default\n"
	  "KEYBEARER_TOKEN_FILE) holds the path of a 0600 file with the token alone (no\n"
	  "newline) in $XDG_RUNTIME_DIR/keybearer/ (without XDG_RUNTIME_DIR, in a new\n"
	  "private directory under $TMPDIR or /tmp). keybearer stays as COMMAND's parent,\n"
	  "replaces the file atomically before each refresh get would make, and removes it\n"
	  "when COMMAND exits, however it ends; no token is in the environment. When no new\n"
	  "token can be had, the file keeps the old one until it is about to expire, then\n"
	  "goes (a reader sees ENOENT), and comes back with the next token. SIGTERM, SIGINT,\n"
	  "SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are passed on to COMMAND (not\n"
	  "those the terminal sent to both); keybearer exits with COMMAND's status, or dies\n"
	  "of the signal it died of.\n"
	  "\n"
	  "Exits 127 when the command cannot be run.\n",
	  plugin_exec },
	{ "goauth", NULL, "Go modules authentication command (GOAUTH, Go 1.24 and later)",
	  "usage: keybearer goauth [--profile P]... [URL]\n"
	  "\n"
	  "Go's GOAUTH command protocol (go help goauth, Go 1.24 and later):\n"
	  "  export GOAUTH='keybearer goauth'\n"
	  "go runs it once with no URL: keybearer answers, as URL-prefix lines, a blank line,\n"
	  "an Authorization header and a blank line, for every profile whose cached token is\n"
	  "fresh (no refresh due), its https:// urls as the prefixes; it mints nothing and\n"
	  "touches no keyring in that call, so run keybearer get first, or name the profiles\n"
	  "with --profile P (repeatable): then it answers for exactly those, minting as\n"
	  "needed. After a 4xx go runs it again with the URL last and the response on stdin:\n"
	  "a 401, or a 403 whose WWW-Authenticate says Bearer error=\"invalid_token\", drops\n"
	  "the cached token; then it answers for the profile that claims the URL (among those\n"
	  "--profile names), with a fresh token, or with nothing when none claims it. go sends\n"
	  "the header to every URL under a prefix, a path segment at a time. A response that\n"
	  "is not go's (no status line, a line that is no header, no blank line at the end, a\n"
	  "CR or NUL byte, more than 1 MiB) is refused with exit 65.\n",
	  plugin_goauth },
};

const size_t plugin_count = sizeof(plugins) / sizeof(plugins[0]);

const struct plugin *
plugin_find(const char *command, const char *program)
{
	size_t i;

	for (i = 0; i < plugin_count; i++) {
		if ((command != NULL && strcmp(command, plugins[i].name) == 0) ||
		    (program != NULL && plugins[i].program != NULL &&
		     strcmp(program, plugins[i].program) == 0))
			return &plugins[i];
	}
	return NULL;
}

static mode_t caller_umask = 022;

void
plugin_note_caller_umask(mode_t mask)
{
	caller_umask = mask;
}

mode_t
plugin_umask_for_command(void)
{
	return umask(caller_umask);
}

const char *
plugin_cut_mark(const char *value, size_t max)
{
	return strnlen(value, max + 1) > max ? "…" : "";
}

int
plugin_match_url(const struct config *cfg, const char *url, const char *profile_flag,
		 const struct profile **p, struct error *err)
{
	struct url parsed;

	/* No profile could claim such a host, but the tool should hear why it gets nothing. */
	if (url_parse(url, &parsed) == URL_HOST_TOO_LONG)
		return error_set(
			err, KB_EXIT_DATA,
			"no token for %.*s%s: its host is longer than %d bytes — check the "
			"URL (no profile can claim such a host)",
			PLUGIN_QUOTE(url, 64), URL_HOST_MAX - 1);
	if (profile_flag != NULL) {
		*p = config_select(cfg, profile_flag, err);
		if (*p == NULL)
			return -1;
		if (config_profile_claims(*p, url))
			return 0;
	} else {
		*p = config_match_url(cfg, url);
		if (*p != NULL)
			return 0;
	}
	/* the tool hears "no credential" and often shows nothing: --verbose says why */
	if (error_debug_enabled()) {
		char why[ERROR_MESSAGE_MAX];
		config_explain_unclaimed(cfg, profile_flag != NULL ? *p : NULL, url, NULL, why,
					 sizeof(why));
		error_debug("no token: %s", why);
	}
	return 1;
}

int
plugin_token_for_url(const struct config *cfg, const char *url, const char *profile_flag,
		     const struct profile **p, struct cache_record *rec, struct error *err)
{
	int found = plugin_match_url(cfg, url, profile_flag, p, err);

	return found != 0 ? found : obtain_token(cfg, *p, -1, rec, err);
}

int
plugin_token_for_profile(const struct config *cfg, const char *profile_flag,
			 const struct profile **p, struct cache_record *rec, struct error *err)
{
	*p = config_select(cfg, profile_flag, err);
	if (*p == NULL)
		return -1;
	return obtain_token(cfg, *p, -1, rec, err);
}

/* The buffer grows with what comes (a request is a few hundred bytes; the limit is for
 * the odd caller), so memory is what was read, not the limit. */
int
plugin_read_stdin(char **out, size_t *len, size_t max, struct error *err)
{
	size_t cap = 0, used = 0;
	char *buf = NULL, *grown;
	ssize_t n;

	do {
		if (used == cap) {
			/* grown by hand, not realloc: the old copy may hold a password= line,
			 * and is wiped before it is freed */
			size_t old_cap = cap;
			cap = cap == 0 ? 4096 : cap * 2;
			if (cap > max + 1)
				cap = max + 1;
			grown = malloc(cap + 1);
			if (grown == NULL) {
				if (buf != NULL)
					safefile_free_secret(buf, old_cap + 1);
				return error_set(err, KB_EXIT_INTERNAL,
						 "out of memory — free some memory");
			}
			if (buf != NULL) {
				memcpy(grown, buf, used);
				safefile_free_secret(buf, old_cap + 1);
			}
			buf = grown;
		}
		n = safefile_read_up_to(STDIN_FILENO, buf + used, cap - used);
		if (n < 0) {
			safefile_free_secret(buf, cap + 1);
			return error_set(err, KB_EXIT_DATA,
					 "cannot read the request on stdin: %s — check "
					 "the caller",
					 strerror(errno));
		}
		used += (size_t)n;
	} while (used == cap && used <= max);
	if (used > max) {
		safefile_free_secret(buf, cap + 1);
		return error_set(err, KB_EXIT_DATA,
				 "the request on stdin is larger than %zu bytes "
				 "— check the caller",
				 max);
	}
	buf[used] = '\0';
	*out = buf;
	*len = used;
	return 0;
}

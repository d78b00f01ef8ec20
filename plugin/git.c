/* git's credential helper protocol (git-credential(1), gitcredentials(7)). git runs
 * `git-credential-keybearer get|store|erase|capability` with key=value lines on stdin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "output.h"
#include "lockstate.h"
#include "plugin.h"
#include "safefile.h"
#include "url.h"

/* What git sends is refused whole past these, with a message, never cut to fit. */
#define GIT_LINE_MAX  65535 /* git's own limit, newline included */
#define GIT_INPUT_MAX (1024 * 1024)

/* Splits the key=value lines in place. Anything git would never send — a CR, an overlong
 * line, a line without '=' — makes the whole request void: a helper that guesses could
 * hand a token to the wrong host. */
int
git_parse_request(char *text, size_t len, struct git_request *req, struct error *err)
{
	char *line = text, *end, *eq;

	memset(req, 0, sizeof(*req));
	if (memchr(text, '\r', len) != NULL || memchr(text, '\0', len) != NULL)
		return error_set(err, KB_EXIT_DATA,
				 "git's request holds a CR or NUL byte — "
				 "nothing was answered");
	while (*line != '\0') {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (end - line + 1 > GIT_LINE_MAX)
			return error_set(err, KB_EXIT_DATA,
					 "git's request has a line longer than "
					 "%d bytes — nothing was answered",
					 GIT_LINE_MAX);
		if (end == line)
			break; /* a blank line ends the request */
		if (*end != '\0')
			*end++ = '\0';
		eq = strchr(line, '=');
		if (eq == NULL)
			return error_set(err, KB_EXIT_DATA,
					 "git's request has a line without '=' — "
					 "nothing was answered");
		*eq = '\0';
		if (strcmp(line, "protocol") == 0)
			req->protocol = eq + 1;
		else if (strcmp(line, "host") == 0)
			req->host = eq + 1;
		else if (strcmp(line, "path") == 0)
			req->path = eq + 1;
		else if (strcmp(line, "password") == 0)
			req->password = eq + 1;
		else if (strcmp(line, "credential") == 0)
			req->credential = eq + 1;
		else if (strcmp(line, "capability[]") == 0 && strcmp(eq + 1, "authtype") == 0)
			req->authtype = 1;
		line = end;
	}
	return 0;
}

/* protocol://host/path, or NULL for what is not http(s): git asks about ssh too. */
char *
git_request_url(const struct git_request *req)
{
	char *url = NULL;

	if (req->protocol == NULL || req->host == NULL ||
	    (strcmp(req->protocol, "https") != 0 && strcmp(req->protocol, "http") != 0))
		return NULL;
	if (asprintf(&url, "%s://%s/%s", req->protocol, req->host,
		     req->path != NULL ? req->path : "") < 0)
		return NULL;
	return url;
}

static int
answer_get(const struct git_request *req, const struct profile *p, const struct cache_record *rec,
	   struct error *err)
{
	char *text = NULL;
	int rc, n;

	/* git 2.46+ sends Authorization: Bearer itself; older git needs the token as the
	 * password of a Basic login, which servers that take tokens accept. */
	if (req->authtype)
		n = asprintf(&text,
			     "capability[]=authtype\nauthtype=Bearer\ncredential=%s\nephemeral=1\n"
			     "password_expiry_utc=%lld\n",
			     rec->access_token, rec->expires_at);
	else
		n = asprintf(&text, "username=%s\npassword=%s\npassword_expiry_utc=%lld\n",
			     p->git_username != NULL ? p->git_username : p->client_id,
			     rec->access_token, rec->expires_at);
	rc = output_answer(n < 0 ? NULL : text, err);
	safefile_free_string(n < 0 ? NULL : text);
	return rc;
}

/* git asks without the repository's path unless credential.useHttpPath is set: a profile
 * that claims a path on the host can then never match. git shows our stderr: say so. */
static void
hint_use_http_path(const struct config *cfg, const char *url)
{
	const char *entry = NULL;
	const struct profile *p = config_claim_on_origin(cfg, url, &entry);

	if (p != NULL)
		fprintf(stderr,
			"keybearer: no token for %s: git sent no path, and profile %s claims only "
			"%s on that host — run git config --global credential.useHttpPath true, so "
			"that git sends the repository's path\n",
			url, p->name, entry);
}

int
plugin_git(int argc, char **argv, struct error *err)
{
	struct git_request req;
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	char *input = NULL, *url = NULL;
	size_t len;
	int rc = -1, found;

	if (argc != 2)
		return error_set(err, KB_EXIT_USAGE,
				 "git helper arguments: expected one action "
				 "(get, store, erase, capability) — see keybearer git --help");
	if (strcmp(argv[1], "capability") == 0)
		return output_answer("version 0\ncapability authtype\n", err);
	if (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "erase") != 0) {
		/* store carries nothing we keep; unknown actions are ignored, as git asks. The
		 * input is drained so git never writes into a closed pipe. */
		struct error ignored = { 0 };
		if (plugin_read_stdin(&input, &len, GIT_INPUT_MAX, &ignored) == 0)
			safefile_free_secret(input, len);
		return 0;
	}
	if (plugin_read_stdin(&input, &len, GIT_INPUT_MAX, err) != 0 ||
	    git_parse_request(input, len, &req, err) != 0)
		goto out;
	url = git_request_url(&req);
	if (url == NULL) {
		rc = 0; /* not ours to answer */
		goto out;
	}
	if (config_load_for_url(&cfg, url, err) != 0)
		goto out;
	found = plugin_match_url(&cfg, url, NULL, &p, err);
	if (found == 1 && req.path == NULL && strcmp(argv[1], "get") == 0)
		hint_use_http_path(&cfg, url);
	if (found != 0) {
		rc = found == 1 ? 0 : -1; /* 1: no profile claims this URL, no credential */
	} else if (strcmp(argv[1], "erase") == 0) {
		const char *erased = req.credential != NULL ? req.credential : req.password;
		found = erased != NULL ? lockstate_drop(p, erased, err) : 0;
		rc = found < 0 ? -1 : 0;
	} else {
		found = plugin_token_for_url(&cfg, url, NULL, &p, &rec, err);
		rc = found == 0 ? answer_get(&req, p, &rec, err) : found;
		if (rc == 1)
			rc = 0;
	}
	cache_record_free(&rec);
	config_free(&cfg);
out:
	free(url);
	safefile_free_secret(input, input != NULL ? len : 0);
	return rc;
}

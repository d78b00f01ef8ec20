/* The side of HTTPie's auth plugin (packaging/httpie/keybearer_httpie.py) that keybearer
 * speaks: `keybearer httpie get|erase` with key=value lines on stdin, so neither the URL
 * (whose query may hold a secret) nor a token is ever in argv.
 *   get:   url=URL [profile=P]            -> the token alone on stdout, or nothing when
 *                                            no profile claims URL (exit 0 either way)
 *   erase: url=URL token=T [profile=P]    -> drops the profile's cached token if it is T,
 *                                            the one the server just refused */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "lockstate.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"

/* A request is a URL, a token and a profile name: refused whole past this, never cut. */
#define HTTPIE_INPUT_MAX (128 * 1024)

static int
set_field(const char **field, const char *key, const char *value, struct error *err)
{
	if (*field != NULL)
		return error_set(err, KB_EXIT_DATA,
				 "the request on stdin names %s twice — nothing was answered", key);
	if (*value == '\0')
		return error_set(err, KB_EXIT_DATA,
				 "the request on stdin has an empty %s — nothing was answered",
				 key);
	*field = value;
	return 0;
}

/* Splits the key=value lines in place; anything the plugin would never send voids the
 * whole request, as a guess could hand a token to the wrong host. */
int
httpie_parse_request(char *text, size_t len, struct httpie_request *req, struct error *err)
{
	char *line = text, *end, *eq;

	memset(req, 0, sizeof(*req));
	if (memchr(text, '\r', len) != NULL || memchr(text, '\0', len) != NULL)
		return error_set(err, KB_EXIT_DATA,
				 "the request on stdin holds a CR or NUL byte — nothing was "
				 "answered");
	while (*line != '\0') {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (*end != '\0')
			*end++ = '\0';
		eq = strchr(line, '=');
		if (eq == NULL)
			return error_set(err, KB_EXIT_DATA,
					 "the request on stdin has a line without '=' — nothing "
					 "was answered");
		*eq = '\0';
		if (strcmp(line, "url") == 0) {
			if (set_field(&req->url, "url", eq + 1, err) != 0)
				return -1;
		} else if (strcmp(line, "token") == 0) {
			if (set_field(&req->token, "token", eq + 1, err) != 0)
				return -1;
		} else if (strcmp(line, "profile") == 0) {
			if (set_field(&req->profile, "profile", eq + 1, err) != 0)
				return -1;
		} else {
			return error_set(err, KB_EXIT_DATA,
					 "the request on stdin has an unknown key \"%.*s%s\" — "
					 "nothing was answered",
					 PLUGIN_QUOTE(line, 32));
		}
		line = end;
	}
	if (req->url == NULL)
		return error_set(err, KB_EXIT_DATA,
				 "the request on stdin names no url — nothing was answered");
	return 0;
}

/* No profile claims the URL: the request goes without a token, and the user, who asked
 * for keybearer's, hears why. */
static void
warn_unclaimed(const struct config *cfg, const struct profile *chosen, const char *url)
{
	char why[ERROR_MESSAGE_MAX];

	config_explain_unclaimed(cfg, chosen, url, NULL, why, sizeof(why));
	error_warn("%s (the request goes without a token)", why);
}

static int
httpie_get(const struct config *cfg, const struct httpie_request *req, struct error *err)
{
	struct cache_record rec = { 0 };
	const struct profile *p = NULL;
	char *text = NULL;
	int found, rc = -1;

	found = plugin_token_for_url(cfg, req->url, req->profile, &p, &rec, err);
	if (found == 1) {
		warn_unclaimed(cfg, req->profile != NULL ? p : NULL, req->url);
		rc = 0;
	} else if (found == 0) {
		if (asprintf(&text, "%s\n", rec.access_token) < 0) {
			text = NULL;
			error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
		} else {
			rc = output_answer(text, err);
		}
	}
	safefile_free_string(text);
	cache_record_free(&rec);
	return rc;
}

static int
httpie_erase(const struct config *cfg, const struct httpie_request *req, struct error *err)
{
	const struct profile *p = NULL;
	int found;

	if (req->token == NULL)
		return error_set(err, KB_EXIT_DATA,
				 "httpie erase: the request on stdin names no token — nothing was "
				 "dropped");
	found = plugin_match_url(cfg, req->url, req->profile, &p, err);
	if (found != 0)
		return found < 0 ? -1 : 0;
	return lockstate_drop(p, req->token, err) < 0 ? -1 : 0;
}

int
plugin_httpie(int argc, char **argv, struct error *err)
{
	struct httpie_request req;
	struct config cfg;
	char *input = NULL;
	size_t len = 0;
	int rc = -1;

	if (argc != 2 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "erase") != 0))
		return error_set(err, KB_EXIT_USAGE,
				 "httpie arguments: expected get or erase, with the request on "
				 "stdin — see keybearer httpie --help");
	if (plugin_read_stdin(&input, &len, HTTPIE_INPUT_MAX, err) != 0)
		return -1;
	if (httpie_parse_request(input, len, &req, err) != 0)
		goto out;
	if (strcmp(argv[1], "get") == 0 && req.token != NULL) {
		error_set(err, KB_EXIT_DATA,
			  "httpie get: the request on stdin holds a token — only erase takes one");
		goto out;
	}
	if (config_load_named_or_for_url(&cfg, req.profile, req.url, err) != 0)
		goto out;
	rc = strcmp(argv[1], "get") == 0 ? httpie_get(&cfg, &req, err)
					 : httpie_erase(&cfg, &req, err);
	config_free(&cfg);
out:
	safefile_free_secret(input, len);
	return rc;
}

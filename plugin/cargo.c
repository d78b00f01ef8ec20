/* cargo's credential provider protocol v1: a hello, then one JSON request per line, each
 * answered with one JSON line, {"Ok":...} or {"Err":...}, until cargo closes stdin. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "strictjson.h"

/* The longest request line, its newline included (a last line without one counts as if it
 * had it). A longer line is answered with an Err, never cut: cargo's requests are a few
 * hundred bytes, and this leaves room for any index URL. */
#define CARGO_LINE_MAX (1024 * 1024)
#define LINE_END       (-1)
#define LINE_TOO_LONG  (-2)

/* Requests from stdin, a line each. A read takes what is there and never waits for more
 * than that (cargo waits for each answer before it writes again), so reading a block at a
 * time is as safe as a byte at a time, for a system call per request instead of one per
 * byte. The buffer grows with the line, up to CARGO_LINE_MAX. */
struct line_reader {
	char *buf; /* cap + 1 bytes: room for the NUL after a line */
	size_t cap, len;
	size_t handed; /* bytes of the line handed out last, newline included */
	int eof;
};

static int
line_reader_fill(struct line_reader *r, int *too_long)
{
	char *grown;
	size_t cap;
	ssize_t n;

	if (r->len == r->cap) {
		if (r->cap >= CARGO_LINE_MAX) {
			*too_long = 1; /* drop what we have; the line's end is still to come */
			r->len = 0;
		} else {
			cap = r->cap == 0 ? 4096 : r->cap * 2;
			grown = realloc(r->buf, cap + 1);
			if (grown == NULL)
				return -1;
			r->buf = grown;
			r->cap = cap;
		}
	}
	do
		n = read(STDIN_FILENO, r->buf + r->len, r->cap - r->len);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		r->eof = 1;
	else
		r->len += (size_t)n;
	return 0;
}

/* The next line without its newline in *line (valid until the next call). Returns its
 * length; 0 for a line with a NUL byte (not JSON); LINE_TOO_LONG for a line longer than
 * CARGO_LINE_MAX; LINE_END at the end of input or when out of memory. */
static long
read_request_line(struct line_reader *r, char **line)
{
	char *newline = NULL;
	size_t line_len;
	int too_long = 0;

	if (r->handed > 0) {
		memmove(r->buf, r->buf + r->handed, r->len - r->handed);
		r->len -= r->handed;
		r->handed = 0;
	}
	while (r->cap == 0 || ((newline = memchr(r->buf, '\n', r->len)) == NULL && !r->eof)) {
		if (line_reader_fill(r, &too_long) != 0)
			return LINE_END;
	}
	if (newline == NULL && r->len == 0 && !too_long)
		return LINE_END;
	/* a last request without its newline still counts */
	line_len = newline != NULL ? (size_t)(newline - r->buf) : r->len;
	r->handed = line_len + (newline != NULL);
	r->buf[line_len] = '\0';
	*line = r->buf;
	if (too_long)
		return LINE_TOO_LONG;
	if (memchr(r->buf, '\0', line_len) != NULL) {
		r->buf[0] = '\0';
		return 0;
	}
	return (long)line_len;
}

static int
send_line(struct json_object *answer, struct error *err)
{
	char *text = NULL;
	int rc;

	text = output_json_line(answer);
	rc = output_answer(text, err);
	safefile_free_string(text);
	json_object_put(answer);
	return rc;
}

static int
send_error(const char *kind, const char *message, struct error *err)
{
	struct json_object *answer = json_object_new_object(), *error = json_object_new_object();

	json_object_object_add(error, "kind", json_object_new_string(kind));
	if (message != NULL)
		json_object_object_add(error, "message", json_object_new_string(message));
	json_object_object_add(answer, "Err", error);
	return send_line(answer, err);
}

static int
send_token(const struct cache_record *rec, struct error *err)
{
	struct json_object *answer = json_object_new_object(), *ok = json_object_new_object();
	char *header = NULL;
	int rc;

	if (asprintf(&header, "Bearer %s", rec->access_token) < 0)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	json_object_object_add(ok, "kind", json_object_new_string("get"));
	json_object_object_add(ok, "token", json_object_new_string(header));
	json_object_object_add(ok, "cache", json_object_new_string("expires"));
	json_object_object_add(ok, "expiration", json_object_new_int64(rec->expires_at));
	json_object_object_add(ok, "operation_independent", json_object_new_boolean(1));
	json_object_object_add(answer, "Ok", ok);
	rc = send_line(answer, err);
	safefile_free_string(header);
	return rc;
}

/* `args` from cargo's config: keybearer takes "--profile NAME" there. 0 with *profile set
 * (NULL without --profile); -1 for a --profile without a usable name, which must not fall
 * back to another profile. */
static int
profile_argument(struct json_object *request, const char **profile)
{
	struct json_object *args;
	const char *item;
	size_t i, n;

	*profile = NULL;
	if (!json_object_object_get_ex(request, "args", &args) ||
	    !json_object_is_type(args, json_type_array))
		return 0;
	n = json_object_array_length(args);
	for (i = 0; i < n; i++) {
		item = strictjson_string(json_object_array_get_idx(args, i));
		if (item == NULL || strcmp(item, "--profile") != 0)
			continue;
		/* past the end, get_idx is NULL, and so is its string */
		*profile = strictjson_string(json_object_array_get_idx(args, i + 1));
		return *profile != NULL ? 0 : -1;
	}
	return 0;
}

/* The registry's index-url, without cargo's "sparse+": 0 with *url set (NULL when there is
 * none); -1 when it is there but not a whole string. */
static int
index_url_of(struct json_object *request, const char **url)
{
	struct json_object *registry, *member;

	*url = NULL;
	if (!json_object_object_get_ex(request, "registry", &registry) ||
	    !json_object_object_get_ex(registry, "index-url", &member))
		return 0;
	*url = strictjson_string(member);
	if (*url == NULL)
		return -1;
	if (strncmp(*url, "sparse+", 7) == 0)
		*url += 7;
	return 0;
}

int
cargo_parse_request(const char *line, struct cargo_request *req)
{
	struct json_object *request = strictjson_parse(line, strlen(line)), *version;
	const char *kind;

	memset(req, 0, sizeof(*req));
	req->json = request;
	kind = request != NULL && json_object_is_type(request, json_type_object)
		       ? strictjson_get_string(request, "kind")
		       : NULL;
	if (kind == NULL) {
		req->problem = "the request is not a credential request";
	} else if (!json_object_object_get_ex(request, "v", &version) ||
		   !json_object_is_type(version, json_type_int) ||
		   json_object_get_int64(version) != 1) {
		req->problem = "keybearer speaks credential provider protocol v1 only";
	} else if (index_url_of(request, &req->index_url) != 0) {
		req->problem = "the registry's index-url is not a string free of NUL bytes — check "
			       "the registry's index in cargo's config";
	} else if (profile_argument(request, &req->profile) != 0) {
		req->problem = "the provider's args give --profile without a profile name — write "
			       "them as [\"--profile\", \"NAME\"] in cargo's config";
	} else {
		req->kind = strcmp(kind, "get") == 0	  ? CARGO_GET
			    : strcmp(kind, "login") == 0  ? CARGO_LOGIN
			    : strcmp(kind, "logout") == 0 ? CARGO_LOGOUT
							  : CARGO_OTHER;
		if (req->kind != CARGO_OTHER && req->index_url == NULL)
			req->problem = "the request names no registry index-url";
	}
	return req->problem != NULL ? -1 : 0;
}

void
cargo_request_free(struct cargo_request *req)
{
	json_object_put(req->json);
	memset(req, 0, sizeof(*req));
}

/* What to do instead of cargo login or logout, for the profile that claims the registry:
 * keybearer keeps no registry token that cargo could store or remove, but a client secret
 * (in the keyring, or where the profile's secret line says). */
static char *
account_hint(enum cargo_kind kind, const struct profile *p)
{
	int keyring = p->secret_kind == SECRET_KEYRING;
	char *source = NULL, *what = NULL, *hint = NULL;
	size_t size;
	int n;

	size = strlen(p->secret_arg != NULL ? p->secret_arg : "") + sizeof("command:");
	source = malloc(size);
	if (source == NULL)
		return NULL;
	config_describe_secret_source(p, source, size);
	n = asprintf(&what,
		     "keybearer mints its own tokens for this registry, with profile %s's client "
		     "secret%s%s",
		     p->name, keyring ? "" : " from ", keyring ? "" : source);
	free(source);
	if (n < 0)
		return NULL;
	if (kind == CARGO_LOGIN && keyring)
		n = asprintf(&hint, "%s — instead of cargo login, run keybearer login --profile %s",
			     what, p->name);
	else if (kind == CARGO_LOGIN)
		n = asprintf(&hint, "%s — cargo login has nothing to store for it", what);
	else if (keyring)
		n = asprintf(&hint,
			     "%s — instead of cargo logout, run keybearer logout --profile %s: it "
			     "removes the secret from the keyring and drops the cached token",
			     what, p->name);
	else
		n = asprintf(
			&hint,
			"%s — instead of cargo logout, run keybearer logout --profile %s to drop "
			"the cached token",
			what, p->name);
	free(what);
	return n < 0 ? NULL : hint;
}

/* login and logout of a registry a profile claims: an Err cargo shows the user, naming
 * keybearer's own command. A registry no profile claims is another provider's to serve. */
static int
answer_account(const struct config *cfg, const struct cargo_request *req, struct error *err)
{
	struct error match_err = { 0 };
	const struct profile *p;
	char *hint;
	int rc, found;

	found = plugin_match_url(cfg, req->index_url, req->profile, &p, &match_err);
	if (found == 1)
		return send_error("url-not-supported", NULL, err);
	if (found < 0)
		return send_error("other", match_err.message, err);
	hint = account_hint(req->kind, p);
	if (hint == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	rc = send_error("other", hint, err);
	free(hint);
	return rc;
}

/* The profiles a request needs: the one it names, else those that may claim its index (a
 * get), or all (login and logout say which profile would answer). */
static int
load_for_request(struct config *cfg, const struct cargo_request *req, struct error *err)
{
	if (req->kind == CARGO_GET && req->profile != NULL)
		return config_load_selected(cfg, req->profile, err);
	if (req->kind == CARGO_GET)
		return config_load_for_url(cfg, req->index_url, err);
	return config_load(cfg, err);
}

/* One request's answer. A config that cannot be read is the answer's message, and kept in
 * config_err for the exit status. */
static int
answer(const char *line, struct error *config_err, struct error *err)
{
	struct cargo_request req;
	struct cache_record rec = { 0 };
	struct error token_err = { 0 };
	struct config cfg = { 0 };
	const struct profile *p;
	int rc, found, loaded = 0;

	if (cargo_parse_request(line, &req) != 0) {
		rc = send_error("other", req.problem, err);
		goto out;
	}
	if (req.kind != CARGO_GET && req.kind != CARGO_LOGIN && req.kind != CARGO_LOGOUT) {
		rc = send_error("operation-not-supported", NULL, err);
		goto out;
	}
	if (load_for_request(&cfg, &req, config_err) != 0) {
		/* still the protocol's answer: cargo shows it to the user */
		rc = send_error("other", config_err->message, err);
		goto out;
	}
	loaded = 1;
	if (req.kind == CARGO_LOGIN || req.kind == CARGO_LOGOUT) {
		rc = answer_account(&cfg, &req, err);
		goto out;
	}
	found = plugin_token_for_url(&cfg, req.index_url, req.profile, &p, &rec, &token_err);
	if (found == 1)
		rc = send_error("url-not-supported", NULL, err);
	else if (found == 0)
		rc = send_token(&rec, err);
	else
		rc = send_error("other",
				token_err.message[0] != '\0'
					? token_err.message
					: "keybearer could not get a token: see its message above",
				err);
out:
	cache_record_free(&rec);
	cargo_request_free(&req);
	if (loaded)
		config_free(&cfg);
	return rc;
}

/* The answer to a line too long to be read whole. */
static int
answer_too_long(struct error *err)
{
	char *message = NULL;
	int rc;

	if (asprintf(&message,
		     "the request is longer than %d bytes, its newline included — check the "
		     "registry's index-url in cargo's config",
		     CARGO_LINE_MAX) < 0)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	rc = send_error("other", message, err);
	free(message);
	return rc;
}

static int
answer_line(const char *line, long len, struct error *config_err, struct error *err)
{
	return len == LINE_TOO_LONG ? answer_too_long(err) : answer(line, config_err, err);
}

int
plugin_cargo(int argc, char **argv, struct error *err)
{
	struct line_reader reader = { 0 };
	struct error config_err = { 0 };
	char *line;
	long len;
	int rc = 0;

	if (argc != 2 || strcmp(argv[1], "--cargo-plugin") != 0)
		return error_set(err, KB_EXIT_USAGE,
				 "cargo provider arguments: cargo runs it with "
				 "--cargo-plugin — see keybearer cargo --help");
	if (output_answer("{\"v\":[1]}\n", err) != 0)
		return -1;
	while (rc == 0 && (len = read_request_line(&reader, &line)) != LINE_END)
		rc = answer_line(line, len, &config_err, err);
	free(reader.buf);
	if (rc == 0 && config_err.code != KB_EXIT_OK) {
		*err = config_err; /* the exit status says the config was refused */
		return -1;
	}
	return rc;
}

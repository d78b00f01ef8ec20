/* cargo's credential provider protocol v1: a hello, then one JSON request per line, each
 * answered with one JSON line, {"Ok":...} or {"Err":...}, until cargo closes stdin. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "strictjson.h"

#define CARGO_LINE_MAX (1024 * 1024)

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
 * length; 0 for a line that is not JSON (too long, or with a NUL byte); -1 at the end of
 * input or when out of memory. */
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
			return -1;
	}
	if (newline == NULL && r->len == 0 && !too_long)
		return -1;
	/* a last request without its newline still counts */
	line_len = newline != NULL ? (size_t)(newline - r->buf) : r->len;
	r->handed = line_len + (newline != NULL);
	r->buf[line_len] = '\0';
	*line = r->buf;
	if (too_long || memchr(r->buf, '\0', line_len) != NULL) {
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

/* `args` from cargo's config: keybearer takes "--profile NAME" there. */
static const char *
profile_argument(struct json_object *request)
{
	struct json_object *args, *item;
	size_t i, n;

	if (!json_object_object_get_ex(request, "args", &args) ||
	    !json_object_is_type(args, json_type_array))
		return NULL;
	n = json_object_array_length(args);
	for (i = 0; i + 1 < n; i++) {
		item = json_object_array_get_idx(args, i);
		if (json_object_is_type(item, json_type_string) &&
		    strcmp(json_object_get_string(item), "--profile") == 0 &&
		    json_object_is_type(json_object_array_get_idx(args, i + 1), json_type_string))
			return json_object_get_string(json_object_array_get_idx(args, i + 1));
	}
	return NULL;
}

static void
copy_field(char *out, size_t size, const char *value)
{
	snprintf(out, size, "%s", value != NULL ? value : "");
}

int
cargo_parse_request(const char *line, struct cargo_request *req)
{
	struct json_object *request = strictjson_parse(line, strlen(line)), *registry, *version;
	const char *kind, *index_url = NULL;

	memset(req, 0, sizeof(*req));
	kind = request != NULL && json_object_is_type(request, json_type_object)
		       ? strictjson_get_string(request, "kind")
		       : NULL;
	if (kind == NULL) {
		req->problem = "the request is not a credential request";
	} else if (!json_object_object_get_ex(request, "v", &version) ||
		   !json_object_is_type(version, json_type_int) ||
		   json_object_get_int64(version) != 1) {
		req->problem = "keybearer speaks credential provider protocol v1 only";
	} else {
		if (json_object_object_get_ex(request, "registry", &registry))
			index_url = strictjson_get_string(registry, "index-url");
		if (index_url != NULL && strncmp(index_url, "sparse+", 7) == 0)
			index_url += 7;
		req->is_get = strcmp(kind, "get") == 0;
		if (req->is_get && index_url == NULL)
			req->problem = "the request names no registry index-url";
		copy_field(req->index_url, sizeof(req->index_url), index_url);
		copy_field(req->profile, sizeof(req->profile), profile_argument(request));
	}
	json_object_put(request);
	return req->problem != NULL ? -1 : 0;
}

static int
answer(const struct config *cfg, const char *line, struct error *err)
{
	struct cargo_request req;
	struct cache_record rec = { 0 };
	struct error token_err = { 0 };
	const struct profile *p;
	int rc, found;

	if (cargo_parse_request(line, &req) != 0)
		return send_error("other", req.problem, err);
	if (!req.is_get)
		return send_error("operation-not-supported", NULL, err); /* login, logout, ... */
	found = plugin_token_for_url(cfg, req.index_url, req.profile[0] ? req.profile : NULL, &p,
				     &rec, &token_err);
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
	cache_record_free(&rec);
	return rc;
}

int
plugin_cargo(int argc, char **argv, struct error *err)
{
	struct line_reader reader = { 0 };
	struct config cfg;
	char *line;
	int rc = 0;

	if (argc != 2 || strcmp(argv[1], "--cargo-plugin") != 0)
		return error_set(err, KB_EXIT_USAGE,
				 "cargo provider arguments: cargo runs it with "
				 "--cargo-plugin — see keybearer cargo --help");
	if (output_answer("{\"v\":[1]}\n", err) != 0)
		return -1;
	if (config_load(&cfg, err) != 0) {
		/* still the protocol's answer: cargo shows it to the user */
		while (read_request_line(&reader, &line) >= 0 && rc == 0)
			rc = send_error("other", err->message, err);
		free(reader.buf);
		return -1;
	}
	while (rc == 0 && read_request_line(&reader, &line) >= 0)
		rc = answer(&cfg, line, err);
	config_free(&cfg);
	free(reader.buf);
	return rc;
}

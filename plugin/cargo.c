/* cargo's credential provider protocol v1: a hello, then one JSON request per line, each
 * answered with one JSON line, {"Ok":...} or {"Err":...}, until cargo closes stdin. */
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

/* One line from stdin without its newline; byte by byte, as cargo waits for each answer
 * before it writes the next request. Returns the length, or -1 at end of input. */
static long
read_request_line(char *buf, size_t cap)
{
	size_t len = 0;
	int unusable = 0; /* too long, or a NUL byte: not JSON */
	char c;

	for (;;) {
		ssize_t n = read(STDIN_FILENO, &c, 1);
		if (n <= 0 && len == 0)
			return -1;
		if (n <= 0 || c == '\n')
			break; /* a last request without its newline still counts */
		if (c == '\0')
			unusable = 1;
		if (len + 1 < cap)
			buf[len++] = c;
		else
			unusable = 1;
	}
	buf[unusable ? 0 : len] = '\0';
	return unusable ? 0 : (long)len;
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
	struct config cfg;
	char *line;
	long len;
	int rc = 0;

	if (argc != 2 || strcmp(argv[1], "--cargo-plugin") != 0)
		return error_set(err, KB_EXIT_USAGE,
				 "cargo provider arguments: cargo runs it with "
				 "--cargo-plugin — see keybearer cargo --help");
	if (output_answer("{\"v\":[1]}\n", err) != 0)
		return -1;
	line = malloc(CARGO_LINE_MAX);
	if (line == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	if (config_load(&cfg, err) != 0) {
		/* still the protocol's answer: cargo shows it to the user */
		while (read_request_line(line, CARGO_LINE_MAX) >= 0 && rc == 0)
			rc = send_error("other", err->message, err);
		free(line);
		return -1;
	}
	while (rc == 0 && (len = read_request_line(line, CARGO_LINE_MAX)) >= 0)
		rc = answer(&cfg, line, err);
	config_free(&cfg);
	free(line);
	return rc;
}

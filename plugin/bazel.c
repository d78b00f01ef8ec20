/* Bazel's credential helper protocol (EngFlow credential-helper-spec): `helper get` with
 * {"uri": "..."} on stdin; headers and an expiry on stdout, or {} for "none needed". */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "plugin.h"
#include "safefile.h"
#include "strictjson.h"

/* A longer request is refused with a message, never cut: {"uri": ...} is rarely 1 KiB. */
#define BAZEL_INPUT_MAX (64 * 1024)

static char *
render_headers(const struct cache_record *rec)
{
	struct json_object *answer = json_object_new_object(), *headers, *values;
	char expires[32], *header = NULL, *text = NULL;

	if (asprintf(&header, "Bearer %s", rec->access_token) < 0)
		header = NULL;
	headers = json_object_new_object();
	values = json_object_new_array();
	json_object_array_add(values, json_object_new_string(header != NULL ? header : ""));
	json_object_object_add(headers, "Authorization", values);
	json_object_object_add(answer, "headers", headers);
	/* RFC 3339 without fractions: Bazel rejects them. */
	output_rfc3339(rec->expires_at, expires, sizeof(expires));
	json_object_object_add(answer, "expires", json_object_new_string(expires));
	text = header != NULL ? output_json_line(answer) : NULL;
	safefile_free_string(header);
	json_object_put(answer);
	return text;
}

int
bazel_parse_request(const char *text, size_t len, char **uri, struct error *err)
{
	struct json_object *request = strictjson_parse(text, len);
	const char *found = request != NULL && json_object_is_type(request, json_type_object)
				    ? strictjson_get_string(request, "uri")
				    : NULL;

	*uri = found != NULL ? strdup(found) : NULL;
	json_object_put(request);
	if (*uri == NULL)
		return error_set(err, KB_EXIT_DATA,
				 "Bazel's request is not {\"uri\": \"...\"} — "
				 "check the --credential_helper setting");
	return 0;
}

int
plugin_bazel(int argc, char **argv, struct error *err)
{
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	char *input = NULL, *text, *uri = NULL;
	size_t len;
	int rc = -1, found;

	if (argc != 2 || strcmp(argv[1], "get") != 0)
		return error_set(err, KB_EXIT_USAGE,
				 "Bazel helper arguments: expected get — see "
				 "keybearer bazel --help");
	if (plugin_read_stdin(&input, &len, BAZEL_INPUT_MAX, err) != 0)
		return -1;
	if (bazel_parse_request(input, len, &uri, err) != 0)
		goto out;
	if (config_load_for_url(&cfg, uri, err) != 0)
		goto out;
	found = plugin_token_for_url(&cfg, uri, NULL, &p, &rec, err);
	if (found == 1) {
		rc = output_answer("{}\n", err); /* no profile claims this URI */
	} else if (found == 0) {
		text = render_headers(&rec);
		rc = output_answer(text, err);
		safefile_free_string(text);
	}
	cache_record_free(&rec);
	config_free(&cfg);
out:
	free(uri);
	free(input);
	return rc;
}

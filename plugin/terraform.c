/* Terraform's credentials helper protocol: `terraform-credentials-keybearer get HOST`
 * answers {"token": "..."} or {} ("no credentials"); forget drops the cached token. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "lockstate.h"
#include "plugin.h"
#include "safefile.h"

/* store's stdin, read only so Terraform never writes into a closed pipe. */
#define TERRAFORM_INPUT_MAX (64 * 1024)

static int
answer_token(const struct cache_record *rec, struct error *err)
{
	struct json_object *answer = json_object_new_object();
	char *text = NULL;
	int rc;

	json_object_object_add(answer, "token", json_object_new_string(rec->access_token));
	text = output_json_line(answer);
	rc = output_answer(text, err);
	safefile_free_string(text);
	json_object_put(answer);
	return rc;
}

int
plugin_terraform(int argc, char **argv, struct error *err)
{
	struct cache_record rec = { 0 };
	const struct profile *p;
	struct config cfg;
	char *url = NULL, *input = NULL;
	size_t len;
	int rc = -1, found;

	if (argc != 3 || (strcmp(argv[1], "get") != 0 && strcmp(argv[1], "store") != 0 &&
			  strcmp(argv[1], "forget") != 0))
		return error_set(err, KB_EXIT_USAGE,
				 "Terraform helper arguments: expected get, "
				 "store or forget, and a host — see keybearer terraform --help");
	if (strcmp(argv[1], "store") == 0) {
		/* terraform login hands over a token it got itself; ours are minted here */
		if (plugin_read_stdin(&input, &len, TERRAFORM_INPUT_MAX, err) == 0)
			safefile_free_secret(input, len);
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer mints its own tokens for %.*s%s — instead of terraform "
				 "login, run keybearer login",
				 PLUGIN_QUOTE(argv[2], 200));
	}
	/* Terraform names a service host (with :port when not 443), always over https. */
	if (strchr(argv[2], '/') != NULL || asprintf(&url, "https://%s/", argv[2]) < 0)
		return error_set(err, KB_EXIT_USAGE,
				 "\"%.*s%s\" is not a host name — Terraform "
				 "passes one",
				 PLUGIN_QUOTE(argv[2], 200));
	if (config_load_for_url(&cfg, url, err) != 0)
		goto out;
	if (strcmp(argv[1], "forget") == 0) {
		found = plugin_match_url(&cfg, url, NULL, &p, err);
		rc = found == 1 || (found == 0 && lockstate_drop(p, NULL, err) >= 0) ? 0 : -1;
	} else {
		found = plugin_token_for_url(&cfg, url, NULL, &p, &rec, err);
		if (found == 1)
			rc = output_answer("{}\n", err);
		else if (found == 0)
			rc = answer_token(&rec, err);
		cache_record_free(&rec);
	}
	config_free(&cfg);
out:
	free(url);
	return rc;
}

/* libFuzzer: the INI config, through inih and every value rule. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
same_string(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* What a profile says, as far as a filtered load must agree with a full one. */
static int
same_profile(const struct profile *a, const struct profile *b)
{
	size_t i;

	if (a == NULL || b == NULL)
		return a == b;
	if (!same_string(a->token_url, b->token_url) || !same_string(a->client_id, b->client_id) ||
	    !same_string(a->scope, b->scope) || !same_string(a->secret_arg, b->secret_arg) ||
	    !same_string(a->ca_file, b->ca_file) || a->secret_kind != b->secret_kind ||
	    a->timeout != b->timeout || a->refresh_margin != b->refresh_margin ||
	    a->url_count != b->url_count)
		return 0;
	for (i = 0; i < a->url_count; i++) {
		if (!same_string(a->urls[i], b->urls[i]))
			return 0;
	}
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg = { 0 }, one = { 0 };
	struct error err = { 0 }, one_err = { 0 };
	char *text = malloc(size + 1);
	int rc, one_rc;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = config_load_text(&cfg, "fuzz.ini", text, NULL, &err);
	if (rc != 0 && err.code == KB_EXIT_OK)
		abort();
	/* Keeping one profile checks the others as strictly and reads that one the same. */
	one_rc = config_load_text(&one, "fuzz.ini", text, "a", &one_err);
	if (one_rc != rc || strcmp(err.message, one_err.message) != 0)
		abort();
	if (rc == 0 && !same_profile(config_find(&cfg, "a"), config_find(&one, "a")))
		abort();
	config_free(&one);
	config_free(&cfg);
	free(text);
	return 0;
}

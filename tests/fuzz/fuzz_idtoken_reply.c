/* libFuzzer: the CI's ID-token endpoint's reply (GitHub Actions' {"value": JWT}). The
 * first byte picks the HTTP status; the rest is the body. An accepted value must be a JWT
 * a form body can carry as it is, and no message may show the request token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "external.h"
#include "safefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUEST_TOKEN "ghs_fuzzRequestToken0123456789"
static struct redaction redaction; /* built once */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 200, 401, 403, 404, 429, 503 };
	struct profile p = { 0 };
	struct external_use use;
	struct token_reply reply = { 0 };
	struct error err = { 0 };
	char *value = NULL;
	size_t i;

	if (size == 0)
		return 0;
	p.name = "fuzz";
	external_use_assertion(&p, &use);
	reply.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	reply.body = (const char *)data + 1;
	reply.body_len = size - 1;
	if (redaction.count == 0 && token_redaction_build(NULL, REQUEST_TOKEN, &redaction) != 0)
		abort();
	if (github_reply_parse(&reply, &redaction, &use, &value, &err) == 0) {
		size_t len = strlen(value);
		if (len == 0 || len > ASSERTION_MAX)
			abort();
		for (i = 0; i < len; i++) {
			if (strchr("&=% \r\n\"", value[i]) != NULL)
				abort();
		}
		safefile_free_string(value);
	} else if (err.code == KB_EXIT_OK || value != NULL) {
		abort();
	}
	if (strstr(err.message, REQUEST_TOKEN) != NULL)
		abort();
	return 0;
}

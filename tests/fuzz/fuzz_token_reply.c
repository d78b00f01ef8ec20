/* libFuzzer: the token endpoint's reply is the most hostile input keybearer reads. The
 * first byte picks the HTTP status; the rest is the body. Whatever comes back, a token that
 * is accepted must be one a header line can carry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every form of the secret that is printable: none may show in a message. */
#define CLIENT_ID "fuzz"
#define SECRET	  "s3\"c\\r3t/x"
static const char *const shown[] = {
	SECRET,
	"s3%22c%5Cr3t%2Fx",		/* form */
	"s3\\\"c\\\\r3t\\/x",		/* JSON, as json-c writes it */
	"ZnV6ejpzMyUyMmMlNUNyM3QlMkZ4", /* base64 of form(id):form(secret), unpadded */
	"ZnV6ejpzMyJjXHIzdC94",		/* base64 of id:secret */
};
static struct redaction redaction; /* built once: the harness runs millions of inputs */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 200, 400, 401, 302, 429, 503 };
	struct token_reply reply = { 0 };
	struct token_result result;
	struct error err = { 0 };
	size_t i;

	if (size == 0)
		return 0;
	reply.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	reply.content_type = "application/json";
	reply.retry_after = "30";
	reply.location = "https://example.com/next";
	reply.body = (const char *)data + 1;
	reply.body_len = size - 1;
	if (redaction.count == 0 && token_redaction_build(CLIENT_ID, SECRET, &redaction) != 0)
		abort();
	if (token_reply_parse(&reply, &redaction, 1700000000, &result, &err) == 0) {
		size_t len = strlen(result.access_token);
		if (!token_is_b64token(result.access_token, len) || len > TOKEN_MAX_LENGTH ||
		    result.expires_at < result.obtained_at)
			abort();
		token_result_free(&result);
	} else if (err.code == KB_EXIT_OK) {
		abort();
	} else {
		for (i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
			if (strstr(err.message, shown[i]) != NULL)
				abort();
		}
	}
	return 0;
}

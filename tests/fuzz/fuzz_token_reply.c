/* libFuzzer: the token endpoint's reply is the most hostile input keybearer reads. The
 * first byte picks the HTTP status; the rest is the body. Whatever comes back, a token that
 * is accepted must be one a header line can carry. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 200, 400, 401, 302, 429, 503 };
	struct token_reply reply = { 0 };
	struct token_result result;
	struct error err = { 0 };

	if (size == 0)
		return 0;
	reply.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	reply.content_type = "application/json";
	reply.retry_after = "30";
	reply.location = "https://example.com/next";
	reply.body = (const char *)data + 1;
	reply.body_len = size - 1;
	if (token_reply_parse(&reply, "s3cr3t", 1700000000, &result, &err) == 0) {
		size_t len = strlen(result.access_token);
		if (!token_is_b64token(result.access_token, len) || len > TOKEN_MAX_LENGTH ||
		    result.expires_at < result.obtained_at)
			abort();
		token_result_free(&result);
	} else if (err.code == KB_EXIT_OK || strstr(err.message, "s3cr3t") != NULL) {
		abort();
	}
	return 0;
}

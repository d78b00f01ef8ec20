/* libFuzzer: a token exchange reply (RFC 8693 2.2). The first byte picks the HTTP status
 * and what the request asked for; the rest is the body. An accepted token must be one a
 * header line can carry, from a reply whose issued_token_type is one a Bearer header
 * takes — the one asked for, when one was — and no message may show the subject token. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strictjson.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SUBJECT "eyJhbGciOiJub25lIn0.eyJzdWIiOiJmdXp6In0.c2lnbmF0dXJl"
static struct redaction redaction; /* built once */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = { 200, 200, 200, 400, 401, 500 };
	static const char *const asked[] = { NULL, TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN };
	struct token_reply reply = { 0 };
	struct token_result result;
	struct error err = { 0 };

	if (size == 0)
		return 0;
	reply.status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	reply.token_exchange = 1;
	reply.requested_token_type = asked[(data[0] >> 4) % 3];
	reply.content_type = "application/json";
	reply.body = (const char *)data + 1;
	reply.body_len = size - 1;
	if (redaction.count == 0 && (redaction_add(&redaction, SUBJECT, strlen(SUBJECT)) != 0))
		abort();
	if (token_reply_parse(&reply, &redaction, 1700000000, &result, &err) == 0) {
		struct json_object *obj = strictjson_parse(reply.body, reply.body_len);
		const char *issued =
			obj != NULL ? strictjson_get_string(obj, "issued_token_type") : NULL;
		size_t len = strlen(result.access_token);
		if (!token_is_b64token(result.access_token, len) || len > TOKEN_MAX_LENGTH ||
		    issued == NULL ||
		    (strcmp(issued, TOKEN_TYPE_JWT) != 0 &&
		     strcmp(issued, TOKEN_TYPE_ACCESS_TOKEN) != 0) ||
		    (reply.requested_token_type != NULL &&
		     strcmp(issued, reply.requested_token_type) != 0))
			abort();
		json_object_put(obj);
		token_result_free(&result);
	} else if (err.code == KB_EXIT_OK) {
		abort();
	}
	if (strstr(err.message, SUBJECT) != NULL)
		abort();
	return 0;
}

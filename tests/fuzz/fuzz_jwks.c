/* libFuzzer: verifying a token against a JWKS, both hostile. The input's first line is the
 * token, the rest the JWKS text. Beyond not crashing, the outcome must be coherent: a
 * result only with 0, a reason and a known exit code with -1. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_jwks_check(int rc, const struct jwks_result *result, const struct error *err)
{
	if (rc == 0) {
		if (err->code != KB_EXIT_OK ||
		    (strcmp(result->alg, "RS256") != 0 && strcmp(result->alg, "ES256") != 0) ||
		    memchr(result->kid, '\0', sizeof(result->kid)) == NULL)
			abort();
		return;
	}
	if (rc != -1 || err->message[0] == '\0' || result->alg[0] != '\0' || result->kid[0] != '\0')
		abort();
	if (err->code != KB_EXIT_REJECTED && err->code != KB_EXIT_PROTOCOL &&
	    err->code != KB_EXIT_DATA && err->code != KB_EXIT_INTERNAL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *newline = memchr(data, '\n', size);
	size_t token_len = newline != NULL ? (size_t)(newline - data) : size;
	size_t jwks_len = newline != NULL ? size - token_len - 1 : 0;
	struct jwks_result result;
	struct error err = { 0 };
	char *token = malloc(token_len + 1);
	/* No NUL after the JWKS: it is read by length, and ASan sees any read past it. */
	char *jwks = malloc(jwks_len > 0 ? jwks_len : 1);
	int rc;

	if (token == NULL || jwks == NULL)
		goto out;
	memcpy(token, data, token_len);
	token[token_len] = '\0';
	if (jwks_len > 0)
		memcpy(jwks, newline + 1, jwks_len);
	rc = jwks_verify(jwks, jwks_len, token, &result, &err);
	fuzz_jwks_check(rc, &result, &err);
out:
	free(token);
	free(jwks);
	return 0;
}

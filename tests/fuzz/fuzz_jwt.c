/* libFuzzer: decoding a JWT we hold but cannot verify. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *header, *claims;
	long long expires_at;
	char *token = malloc(size + 1);

	if (token == NULL)
		return 0;
	memcpy(token, data, size);
	token[size] = '\0';
	if (jwt_decode(token, &header, &claims) == 0) {
		json_object_put(header);
		json_object_put(claims);
	}
	jwt_local_expiry(token, 1700000000, 0, &expires_at);
	jwt_local_expiry(token, 1700000000, 1700000000, &expires_at);
	free(token);
	return 0;
}

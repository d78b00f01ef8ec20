/* libFuzzer: a cache file (or keybearer-fetch's answer) is parsed on every cached get. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char key[] =
		"0000000000000000000000000000000000000000000000000000000000000000";
	struct cache_record rec;

	if (cache_record_parse((const char *)data, size, key, &rec) == 0) {
		if (!token_is_b64token(rec.access_token, strlen(rec.access_token)))
			abort();
		cache_record_free(&rec);
	}
	return 0;
}

/* libFuzzer: an OIDC discovery document, as a server (or a cache file) could hand it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "discovery.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	struct discovery d;

	if (discovery_parse((const char *)data, size, "https://issuer.example", &d, &err) == 0) {
		/* accepted: both endpoints are set as promised, and usable */
		if (d.token_endpoint == NULL || strncasecmp(d.token_endpoint, "http", 4) != 0)
			abort();
		discovery_free(&d);
	} else if (err.code == KB_EXIT_OK || d.token_endpoint != NULL) {
		abort();
	}
	return 0;
}

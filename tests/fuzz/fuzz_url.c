/* libFuzzer: the URL rules decide where a secret may be sent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct url url;
	char *text = malloc(size + 1), origin[URL_HOST_MAX + 32]; /* what callers give */
	int rc;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	rc = url_parse(text, &url);
	if (rc != 0 && rc != URL_MALFORMED && rc != URL_HOST_TOO_LONG)
		abort();
	if (rc == 0) {
		/* Plain http must never pass for a host that is not loopback. */
		struct error err = { 0 };
		if (url_check_endpoint(text, "fuzz", &err) == 0 &&
		    strcmp(url.scheme, "http") == 0 && !url_host_is_loopback(url.host))
			abort();
		/* the origin of every URL that parses fits: none is ever cut to fit */
		if (url_origin(text, origin, sizeof(origin)) != 0)
			abort();
	}
	free(text);
	return 0;
}

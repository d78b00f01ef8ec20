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
	char *text = malloc(size + 1), origin[512];

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (url_parse(text, &url) == 0) {
		/* Plain http must never pass for a host that is not loopback. */
		struct error err = { 0 };
		if (url_check_endpoint(text, "fuzz", &err) == 0 &&
		    strcmp(url.scheme, "http") == 0 && !url_host_is_loopback(url.host))
			abort();
		url_origin(text, origin, sizeof(origin));
	}
	free(text);
	return 0;
}

/* libFuzzer: what git writes to its credential helper. Whatever it is, a URL built from it
 * must be one url_parse accepts, or none. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct git_request req;
	struct error err = { 0 };
	struct url parsed;
	char *text = malloc(size + 1), *url;

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (git_parse_request(text, size, &req, &err) == 0) {
		url = git_request_url(&req);
		if (url != NULL && strncmp(url, "http", 4) != 0)
			abort();
		url_parse(url != NULL ? url : "", &parsed);
		free(url);
	} else if (err.code == KB_EXIT_OK) {
		abort();
	}
	free(text);
	return 0;
}

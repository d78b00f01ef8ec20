/* libFuzzer: what HTTPie's auth plugin writes to keybearer httpie get|erase. Whatever it
 * is, a request that parses has a URL, and every field it names is a whole line's value:
 * no CR, LF or NUL in it, nothing empty. A refusal always says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_field(const char *value, const char *text, size_t size)
{
	if (value == NULL)
		return;
	if (value < text || value >= text + size || *value == '\0' ||
	    strpbrk(value, "\r\n") != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct httpie_request req;
	struct error err = { 0 };
	char *text = malloc(size + 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (httpie_parse_request(text, size, &req, &err) == 0) {
		if (req.url == NULL)
			abort();
		check_field(req.url, text, size);
		check_field(req.token, text, size);
		check_field(req.profile, text, size);
	} else if (err.code == KB_EXIT_OK || err.message[0] == '\0') {
		abort();
	}
	free(text);
	return 0;
}

/* libFuzzer: what go writes on a GOAUTH command's stdin after a 4xx, and the
 * WWW-Authenticate values in it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct goauth_response resp;
	struct error err = { 0 };
	/* a copy of exactly size bytes, so that a read past the end is ASan's to see */
	char *text = malloc(size ? size : 1);

	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	if (goauth_parse_response(text, size, &resp, &err) == 0) {
		/* a parse stands for a status, and a refusal only for a 401 or 403 */
		if (resp.status < 100 || resp.status > 599 || err.message[0] != '\0' ||
		    (resp.refused && resp.status != 401 && resp.status != 403) ||
		    (resp.status == 403 && resp.refused != resp.invalid_token) ||
		    (resp.status == 401 && !resp.refused))
			abort();
	} else if (err.code != KB_EXIT_DATA || err.message[0] == '\0') {
		abort();
	}
	(void)goauth_challenge_invalid_token(text, size);
	free(text);
	return 0;
}

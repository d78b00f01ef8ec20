/* libFuzzer: the curl and wget config lines, headers and JSON a token is printed in. Any
 * token that gets printed must come out as exactly one line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum output_format formats[] = { OUTPUT_HEADER, OUTPUT_TOKEN, OUTPUT_CURL,
						      OUTPUT_WGET, OUTPUT_JSON };
	char *token = malloc(size + 1), *text, *quoted;
	size_t i, len;

	if (token == NULL)
		return 0;
	memcpy(token, data, size);
	token[size] = '\0';
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		text = output_render(formats[i], token, 1700003600, 1700000000);
		if (text != NULL) {
			len = strlen(text);
			if (len == 0 || text[len - 1] != '\n' ||
			    memchr(text, '\n', len - 1) != NULL || memchr(text, '\r', len) != NULL)
				abort();
		}
		free(text);
	}
	quoted = output_curl_quote(token);
	if (quoted != NULL && (quoted[0] != '"' || quoted[strlen(quoted) - 1] != '"'))
		abort();
	free(quoted);
	free(token);
	return 0;
}

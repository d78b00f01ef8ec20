/* libFuzzer: one line of cargo's credential provider protocol. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cargo_request req;
	char *line = malloc(size + 1);

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	/* a request is served, or says why not: never both, never neither; a get, login or
	 * logout that is served names its registry */
	if ((cargo_parse_request(line, &req) == 0) != (req.problem == NULL) ||
	    (req.problem == NULL && req.kind != CARGO_OTHER && req.index_url == NULL))
		abort();
	cargo_request_free(&req);
	free(line);
	return 0;
}

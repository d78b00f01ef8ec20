/* libFuzzer: Bazel's {"uri": ...} request. */
#include <stdint.h>
#include <stdlib.h>

#include "plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	char *uri = NULL;

	if (bazel_parse_request((const char *)data, size, &uri, &err) == 0 && uri == NULL)
		abort();
	free(uri);
	return 0;
}

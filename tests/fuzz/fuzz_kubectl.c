/* libFuzzer: KUBERNETES_EXEC_INFO, the ExecCredential request client-go sets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct error err = { 0 };
	const char *api_version = NULL;
	char *info = malloc(size + 1), *server = NULL;

	if (info == NULL)
		return 0;
	memcpy(info, data, size);
	info[size] = '\0';
	if (kubectl_parse_exec_info(info, &api_version, &server, &err) == 0 &&
	    strncmp(api_version, "client.authentication.k8s.io/v1", 31) != 0)
		abort();
	free(server);
	free(info);
	return 0;
}

/* libFuzzer: a client certificate chain as PEM (client_cert = file:) and, after the first
 * NUL byte, a client key (client_key): the x5t#S256 of the first certificate, and the check
 * that the key is that certificate's, both as mtls_load makes them before any request. A
 * thumbprint is 43 base64url characters; a chain with no certificate has none and pairs
 * with no key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mtls.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nul = memchr(data, '\0', size);
	size_t cert_len = nul != NULL ? (size_t)(nul - text) : size;
	const char *key = nul != NULL ? nul + 1 : "";
	size_t key_len = nul != NULL ? size - cert_len - 1 : 0;
	char thumbprint[MTLS_THUMBPRINT_SIZE];
	int has_cert, pair;
	size_t i;

	memset(thumbprint, 'X', sizeof(thumbprint));
	has_cert = mtls_thumbprint(text, cert_len, thumbprint) == 0;
	if (has_cert) {
		if (strlen(thumbprint) != MTLS_THUMBPRINT_SIZE - 1)
			abort();
		for (i = 0; thumbprint[i] != '\0'; i++) {
			if (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-"
				   "_",
				   thumbprint[i]) == NULL)
				abort();
		}
	}
	pair = mtls_check_pair(text, cert_len, key, key_len);
	if (pair < MTLS_PAIR_OK || pair > MTLS_PAIR_NO_CERT ||
	    (pair == MTLS_PAIR_NO_CERT) == has_cert)
		abort();
	return 0;
}

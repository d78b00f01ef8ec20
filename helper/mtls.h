/* Mutual-TLS client authentication (RFC 8705): the profile's client certificate and its
 * private key, read, checked against each other before any request, and handed to libcurl
 * in memory. keybearer-fetch only (libcrypto). */
#ifndef KEYBEARER_MTLS_H
#define KEYBEARER_MTLS_H

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "secret.h"

#define MTLS_CERT_MAX	     (256 * 1024)
#define MTLS_THUMBPRINT_SIZE 44 /* base64url of a SHA-256, unpadded, and its NUL */

struct mtls_credentials {
	/* The chain as client_cert holds it (PEM), in a secret's wrapping: its origin tells
	 * a replaced certificate from the one a server refused. No secret. */
	struct secret cert;
	struct secret key; /* the PEM private key: locked, wiped */
	/* x5t#S256 of the leaf (RFC 8705 section 3.1): what a bound token's cnf names */
	char thumbprint[MTLS_THUMBPRINT_SIZE];
};

/* Reads client_cert (owner and mode under the config file's rules: no one else may change
 * it) and resolves client_key; refuses a certificate that is no PEM, has expired or is not
 * yet valid, an encrypted or unreadable key, and a key that is not the certificate's: all
 * KB_EXIT_CONFIG, before any request. */
int mtls_load(const struct profile *p, struct mtls_credentials *m, struct error *err);

/* Whether key (a PEM text) is the private key of p's client_cert: 0, or -1 with err set
 * (KB_EXIT_CONFIG), as mtls_load would refuse it. For login --client-key, before storing. */
int mtls_check_key(const struct profile *p, const struct secret *key, struct error *err);

void mtls_free(struct mtls_credentials *m);

/* The x5t#S256 of the first certificate of a PEM text into out; 0, or -1 when it holds
 * none. */
int mtls_thumbprint(const char *pem, size_t len, char out[MTLS_THUMBPRINT_SIZE]);

/* Whether key_pem is the private key of cert_pem's first certificate (what mtls_load checks
 * before any request): one of these. */
enum {
	MTLS_PAIR_OK = 0,
	MTLS_PAIR_NO_KEY,    /* no unencrypted PEM private key */
	MTLS_PAIR_OTHER_KEY, /* a key, not the certificate's */
	MTLS_PAIR_NO_CERT,   /* no PEM certificate */
};
int mtls_check_pair(const char *cert_pem, size_t cert_len, const char *key_pem, size_t key_len);

#endif

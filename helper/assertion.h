/* The client assertion of private_key_jwt and client_secret_jwt (RFC 7523 section 3, OIDC
 * Core section 9): a JWT that names the client (iss = sub = client_id) and the endpoint it is
 * for (aud), signed anew for every request with a random jti, valid for a few minutes. */
#ifndef KEYBEARER_ASSERTION_H
#define KEYBEARER_ASSERTION_H

#include <stddef.h>

#include "config.h"
#include "error.h"
#include "signkey.h"

#define ASSERTION_LIFETIME  300 /* seconds from iat to exp: RFC 7523 wants it short */
#define ASSERTION_JTI_BYTES 16
#define ASSERTION_TYPE	    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

/* What one assertion says; the tests fill it in by hand. */
struct assertion_params {
	const char *client_id;
	const char *audience;
	long long issued_at;
	unsigned char jti[ASSERTION_JTI_BYTES];
	enum sign_alg alg;
	const char *kid;	   /* the kid header; NULL: none */
	const struct signkey *key; /* for RS256, PS256, ES256, EdDSA */
	const char *hmac_key;	   /* for HS256: the client secret */
};

struct assertion {
	char *jwt;	       /* header.claims.signature; wiped on free */
	char alg[8];	       /* as signed with, for messages */
	char *kid;	       /* the kid sent, or NULL */
	char key_describe[32]; /* "EC P-256", or "" for HS256 */
};

/* Encodes and signs one assertion. */
int assertion_encode(const struct assertion_params *in, struct assertion *out, struct error *err);

/* The assertion of a profile whose auth_method is private_key_jwt (credential: the PEM
 * private key) or client_secret_jwt (credential: the client secret), for the token endpoint
 * token_url: aud is assertion_audience when set, else token_url; iat now; jti from the
 * kernel's CSPRNG. origin names the credential's source in messages. */
int assertion_make(const struct profile *p, const char *credential, const char *origin,
		   const char *token_url, struct assertion *out, struct error *err);

/* The key's kid as a profile names it: key_id when set, else the RFC 7638 thumbprint of the
 * key's public half. 0, or -1 when it cannot be computed. */
int assertion_key_id(const struct profile *p, const struct signkey *key, char **kid);

void assertion_free(struct assertion *a);

#endif

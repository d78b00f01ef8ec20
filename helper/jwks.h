/* Verifying a JWT access token's signature against the issuer's published keys (a JWKS, RFC
 * 7517). jwt.h only decodes; this is for callers that must know a token is genuine. Only the
 * asymmetric algorithms resource servers use are accepted: RS256 and ES256. */
#ifndef KEYBEARER_JWKS_H
#define KEYBEARER_JWKS_H

#include <stddef.h>

#include "error.h"

/* Which key verified a token, for the caller to show. */
struct jwks_result {
	char alg[8];   /* "RS256" or "ES256" */
	char kid[128]; /* the key's kid, printable ASCII, "" when it has none */
};

/* Verifies the signature of the compact JWS `token` with a key of the JWKS JSON text
 * jwks_json[0..jwks_len) ({"keys":[...]}, at most 64 KiB; only the first 32 keys are read).
 * RS256: RSA PKCS#1 v1.5 with SHA-256, modulus of 2048 to 16384 bits. ES256: ECDSA on P-256
 * with SHA-256, the signature r||s (64 bytes, RFC 7518 section 3.4).
 * The key: the one whose kid equals the header's kid; without a kid in the header, the only
 * key whose kty fits the alg. Either way the key's "use", if present, must be "sig", its
 * "alg", if present, the header's, and its "key_ops", if present, must hold "verify".
 * Returns 0 with *result filled when the signature is valid. Otherwise -1, *result zeroed,
 * and err says why, with err->code:
 *   KB_EXIT_REJECTED (77)  the token does not verify: alg none, HS*, no fitting key, a
 *                          signature that does not match, a crit header we cannot honour;
 *   KB_EXIT_PROTOCOL (76)  the JWKS is broken: not JSON, no "keys", a kid shared by two
 *                          fitting keys, unusable key material (RSA below 2048 bits...);
 *   KB_EXIT_DATA (65)      the token is not a JWT at all;
 *   KB_EXIT_INTERNAL (70)  libcrypto failed (out of memory).
 * err must start with code KB_EXIT_OK (error_set keeps the first failure only). */
int jwks_verify(const char *jwks_json, size_t jwks_len, const char *token,
		struct jwks_result *result, struct error *err);

#endif

/* Reading a JWT access token as its holder: we decode, never verify. The signature is for
 * the resource server; we only want to know when the token expires and show what it says. */
#ifndef KEYBEARER_JWT_H
#define KEYBEARER_JWT_H

#include <json-c/json.h>
#include <time.h>

/* Decodes header and claims of a compact JWS (three base64url parts). The caller puts both
 * objects. Returns 0, or -1 when the token is not a JWT. */
int jwt_decode(const char *token, struct json_object **header, struct json_object **claims);

/* Expiry in local time for a token without expires_in: the shortest life its claims and
 * the clocks allow — exp against the local clock, against the issuer's clock when it
 * replied (server_now, the HTTP Date header; 0 when unknown), and exp - iat, the issuer's
 * own word on the lifetime. A skewed local clock, a Date header far behind or an iat far
 * back can each only shorten it. Returns 0, or -1 when the token is not a JWT or has no
 * usable exp. */
int jwt_local_expiry(const char *token, time_t now, long long server_now, long long *expires_at);

/* exp - iat of a JWT that has both (iat <= exp): the lifetime its issuer gave it, which
 * no expires_in may exceed. 0, or -1 when it is not a JWT or lacks either claim. */
int jwt_claimed_lifetime(const char *token, long long *lifetime);

/* A NumericDate claim (RFC 7519: seconds, possibly fractional) as whole seconds; -1 when
 * absent or not a sane non-negative number. */
int jwt_claim_time(struct json_object *claims, const char *name, long long *out);

/* Decodes unpadded or padded base64url; returns the length, or -1. out needs
 * len * 3 / 4 + 1 bytes; the result is NUL-terminated. */
long jwt_base64url_decode(const char *in, size_t len, unsigned char *out);

#endif

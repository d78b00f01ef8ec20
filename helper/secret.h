/* Where the client secret comes from. Only keybearer-fetch resolves secrets: the hot path
 * never holds one. */
#ifndef KEYBEARER_SECRET_H
#define KEYBEARER_SECRET_H

#include <stddef.h>

#include "config.h"
#include "error.h"

#define SECRET_MAX (64 * 1024)

struct secret {
	char *value; /* NUL-terminated, locked in memory where the system lets us, wiped */
	size_t size; /* bytes allocated */
	/* What tells this secret's source apart from a replaced one without looking at the
	 * secret: a secret file's device, inode, size and change times; "" for the others. */
	char origin[160];
};

/* The profile's source: `secret = keyring` (the default), `env:NAME`, `file:PATH` or
 * `command:CMD`; the env profile's is env:KEYBEARER_CLIENT_SECRET. */
int secret_resolve(const struct profile *p, struct secret *s, struct error *err);

/* mutual-TLS client authentication: the PEM private key of the profile's client_cert, from
 * client_key = keyring (an item of its own, never the secret's), file:PATH (under the
 * secret file's rules of owner and mode) or command:CMD (its whole stdout), held like the
 * secret: locked in memory where allowed, wiped by secret_free. */
int secret_resolve_client_key(const struct profile *p, struct secret *s, struct error *err);

/* Copies len bytes into s, refusing an empty or binary secret; origin names the source in
 * messages ("the keyring", "file /x"). */
int secret_take(struct secret *s, const char *value, size_t len, const struct profile *p,
		const char *origin, struct error *err);

/* The same for the client key: its messages name it. */
int secret_take_client_key(struct secret *s, const char *value, size_t len, const struct profile *p,
			   const char *origin, struct error *err);

void secret_free(struct secret *s);

#endif

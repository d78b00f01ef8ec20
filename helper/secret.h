/* Where the client secret comes from. Only keybearer-fetch resolves secrets: the hot path
 * never holds one. */
#ifndef KEYBEARER_SECRET_H
#define KEYBEARER_SECRET_H

#include <stddef.h>

#include "config.h"
#include "error.h"

#define SECRET_MAX (64 * 1024)

struct secret {
	char *value; /* NUL-terminated; wiped by secret_free */
	size_t size; /* bytes allocated, all wiped */
};

/* The profile's `secret = env:NAME | file:PATH`; the "env" profile's is
 * env:KEYBEARER_CLIENT_SECRET. */
int secret_resolve(const struct profile *p, struct secret *s, struct error *err);

void secret_free(struct secret *s);

#endif

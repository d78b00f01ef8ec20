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

/* Copies len bytes into s, refusing an empty or binary secret; origin names the source in
 * messages ("the keyring", "file /x"). */
int secret_take(struct secret *s, const char *value, size_t len, const struct profile *p,
		const char *origin, struct error *err);

void secret_free(struct secret *s);

/* Runs command with /bin/sh -c, exactly as written, within the profile's timeout, and
 * leaves the first line of its stdout (line end stripped) at the start of buf (cap bytes,
 * the caller's, locked and wiped by it), its length in *line_len. what names the command
 * in messages: "secret command", "assertion command". */
int secret_command_line(const struct profile *p, const char *command, const char *what, char *buf,
			size_t cap, size_t *line_len, struct error *err);

#endif

/* Where the client's credential comes from: its secret, or its private key. Only keybearer-fetch
 * resolves secrets: the hot path never holds one. */
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

/* The credentials a profile may hold, each with its own source key and keyring item. */
enum credential_item {
	CREDENTIAL_SECRET,	/* secret = ...: the client secret */
	CREDENTIAL_PRIVATE_KEY, /* private_key = ...: the PEM key of private_key_jwt */
	CREDENTIAL_CLIENT_KEY,	/* client_key = ...: the PEM key of an mTLS client_cert */
};

/* One credential of a profile and where it comes from: what every source resolves the
 * same way (a file's mode and owner, a command's deadline, the keyring). */
struct credential_source {
	enum credential_item item;
	const char *what; /* "client secret", "private key": in messages */
	const char *key;  /* its config key: "secret", "private_key" */
	enum secret_kind kind;
	const char *arg; /* variable name, file path or command; NULL for the keyring */
	int whole_text;	 /* every line belongs to it (a PEM), not the first line only */
};

/* The source of the profile's credential item, as its config says. */
void credential_source_of(const struct profile *p, enum credential_item item,
			  struct credential_source *src);

/* Where src says the credential comes from, in words: "the keyring", "file PATH",
 * "environment variable NAME", "its private_key command". */
void credential_origin(const struct credential_source *src, char *out, size_t size);

/* The credential the profile's auth_method authenticates with: the private key for
 * private_key_jwt, else the client secret. */
enum credential_item credential_for_method(const struct profile *p);

/* Resolves src into s: keyring (its own item per credential), env:NAME, file:PATH (mode and
 * owner checked, as for the secret file), command:CMD (under the profile's timeout). */
int credential_resolve(const struct profile *p, const struct credential_source *src,
		       struct secret *s, struct error *err);

/* Copies len bytes into s, refusing an empty or binary value or one over SECRET_MAX; origin
 * names the source in messages ("the keyring", "file /x"). */
int credential_take(struct secret *s, const char *value, size_t len, const struct profile *p,
		    const struct credential_source *src, const char *origin, struct error *err);

/* The credential of the profile's auth_method (credential_for_method), from its source:
 * `secret = keyring` (the default), `env:NAME`, `file:PATH` or `command:CMD` (the env
 * profile's is env:KEYBEARER_CLIENT_SECRET); `private_key = keyring | file: | command:`. */
int secret_resolve(const struct profile *p, struct secret *s, struct error *err);

/* mutual-TLS client authentication: the PEM private key of the profile's client_cert,
 * resolved as credential_resolve does (CREDENTIAL_CLIENT_KEY). */
int secret_resolve_client_key(const struct profile *p, struct secret *s, struct error *err);

/* credential_take for the client secret. */
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

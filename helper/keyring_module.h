/* The keyring module (keybearer-keyring.so, beside keybearer-fetch): the Secret Service
 * client, the only part of keybearer that links libsecret and GLib. keybearer-fetch loads it
 * (keyring.c) the first time a profile's credential is in the keyring, so that a mint from
 * a file, a variable or a command never maps either. Its one symbol is a const table of
 * functions; it knows nothing of the config, only what a keyring item is named by. */
#ifndef KEYBEARER_KEYRING_MODULE_H
#define KEYBEARER_KEYRING_MODULE_H

#include <stddef.h>

#include "error.h"
#include "keyring.h"
#include "secret.h"

#define KEYRING_MODULE_FILE   "keybearer-keyring.so"
#define KEYRING_MODULE_SYMBOL "keybearer_keyring_module"
/* Changes with any change to the structures below: keybearer-fetch refuses another. */
#define KEYRING_MODULE_ABI 1

/* One credential item of one profile, and how long to wait for the Secret Service. */
struct keyring_subject {
	const char *name;	    /* the profile, in messages */
	const char *item_profile;   /* attribute profile: the end of its inherit chain */
	const char *token_url;	    /* attribute token_url (the endpoint identity), or NULL */
	const char *client_id;	    /* attribute client_id, or NULL */
	enum credential_item item;  /* which schema: the secret, a private key, a client key */
	int timeout_seconds;	    /* keyring_timeout: each call to the service */
	int prompt_timeout_seconds; /* an unlock prompt, which waits for a person */
	void (*notice)(const char *what); /* notice.h: "keybearer: waiting for <what>" */
};

/* Receives the secret's bytes while the module still holds them (not NUL-terminated);
 * what it returns, lookup returns. */
typedef int (*keyring_take_fn)(void *ctx, const char *bytes, size_t len, struct error *err);

struct keyring_module {
	unsigned abi;	     /* KEYRING_MODULE_ABI */
	const char *version; /* KEYBEARER_VERSION it was built as */
	/* keyring.h's functions, each for the subject's item */
	int (*lookup)(const struct keyring_subject *s, keyring_take_fn take, void *ctx,
		      struct error *err);
	int (*store)(const struct keyring_subject *s, const char *value, struct error *err);
	int (*clear)(const struct keyring_subject *s, int *removed, struct error *err);
	int (*probe)(const struct keyring_subject *s, enum keyring_state *state, struct error *err);
};

#endif

/* The client secret in the OS keyring, through the Secret Service API (libsecret): GNOME
 * Keyring, KWallet >= 5.97, KeePassXC. Only keybearer-fetch has this, and libsecret only in
 * the keyring module (keyring_module.h), loaded by the first of these calls: a failure to
 * load it is these calls' error (exit 70). Every call is bounded by the profile's
 * keyring_timeout, never D-Bus's own 25 s per call. */
#ifndef KEYBEARER_KEYRING_H
#define KEYBEARER_KEYRING_H

#include "config.h"
#include "error.h"
#include "secret.h"

#define KEYRING_SCHEMA "org.keybearer.ClientSecret"
/* key-based client authentication: the private key is an item of its own schema */
#define KEYRING_KEY_SCHEMA "org.keybearer.PrivateKey"
/* mutual-TLS client authentication: the client_key = keyring item, same attributes */
#define KEYRING_CLIENT_KEY_SCHEMA "org.keybearer.ClientKey"

enum keyring_state {
	KEYRING_STORED,
	KEYRING_MISSING,
	KEYRING_LOCKED,
};

/* The secret stored for the profile (attributes profile, token_url, client_id). A locked
 * keyring is unlocked with the service's own prompt when there is a display; headless, it
 * is an error that says so. */
int keyring_lookup(const struct profile *p, struct secret *out, struct error *err);

/* Stores the secret, replacing the item with the same attributes (the old secret stays
 * until the new one is stored). */
int keyring_store(const struct profile *p, const char *secret, struct error *err);

/* Removes the profile's item (for its token_url and client_id when it has them); *removed
 * tells whether there was one. */
int keyring_clear(const struct profile *p, int *removed, struct error *err);

/* Whether the profile has an item, without unlocking anything or reading a secret. */
int keyring_probe(const struct profile *p, enum keyring_state *state, struct error *err);

/* The same for any credential item of the profile (secret.h): each its own item, so the
 * secret and the key never collide. */
int keyring_lookup_item(const struct profile *p, const struct credential_source *src,
			struct secret *out, struct error *err);
int keyring_store_item(const struct profile *p, enum credential_item item, const char *value,
		       struct error *err);
int keyring_clear_item(const struct profile *p, enum credential_item item, int *removed,
		       struct error *err);
int keyring_probe_item(const struct profile *p, enum credential_item item,
		       enum keyring_state *state, struct error *err);

#endif

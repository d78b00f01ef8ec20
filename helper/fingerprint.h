/* Whether the secret at hand is the one a recorded rejection was made with, without
 * keeping anything on disk that would help anyone guess it.
 *
 * The mark is HMAC-SHA256 of the secret under a random 32-byte key that exists only in the
 * kernel's keyring of this user (keyctl, the "user" keyring): never on disk, gone at
 * reboot, readable only by processes of the user, who can read the secret's source anyway.
 * A copy of the cache directory (a backup, a CI cache) holds marks that cannot be tested
 * against guesses. Where the kernel keyring is unavailable (a container whose seccomp
 * profile forbids keyctl), there is no mark: then only the identity of a secret file
 * (device, inode, size, change times) tells a new secret from the old one. */
#ifndef KEYBEARER_FINGERPRINT_H
#define KEYBEARER_FINGERPRINT_H

#include "cache.h"
#include "secret.h"

struct fingerprint {
	char mark[65];	  /* hex HMAC, "" when there is no key */
	char origin[160]; /* the secret's origin identity (secret.h), "" when none */
};

/* The fingerprint of s for the profile cache c belongs to; with create, the key is made
 * when there is none yet (when recording), else a missing key leaves mark "" (when
 * comparing). */
void fingerprint_secret(const struct cache *c, const struct secret *s, int create,
			struct fingerprint *out);

/* Whether a secret with fingerprint now differs from the one recorded: any part both know
 * that differs. */
int fingerprint_changed(const struct fingerprint *recorded, const struct fingerprint *now);

#endif

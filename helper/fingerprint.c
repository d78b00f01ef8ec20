#include "fingerprint.h"

#include <errno.h>
#include <linux/keyctl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sha256.h"

#define KEY_BYTES 32
/* possessor: everything; the user's other processes: view, read, search */
#define KEY_PERMISSIONS 0x3f0b0000

/* The profile's key from the user keyring, made first when create says so; 0 or -1. */
static int
profile_key(const struct cache *c, int create, unsigned char key[KEY_BYTES])
{
	char description[80];
	long id, n;

	snprintf(description, sizeof(description), "keybearer:%.32s", c->key);
	id = syscall(SYS_keyctl, KEYCTL_SEARCH, KEY_SPEC_USER_KEYRING, "user", description, 0);
	if (id < 0 && create) {
		if (getrandom(key, KEY_BYTES, 0) != KEY_BYTES)
			return -1;
		/* made under the profile's lock: no other process adds this key meanwhile */
		id = syscall(SYS_add_key, "user", description, key, (size_t)KEY_BYTES,
			     KEY_SPEC_USER_KEYRING);
		explicit_bzero(key, KEY_BYTES);
		if (id < 0)
			return -1;
		/* a process whose session keyring does not link the user keyring finds it too */
		syscall(SYS_keyctl, KEYCTL_SETPERM, id, KEY_PERMISSIONS);
	}
	if (id < 0)
		return -1;
	n = syscall(SYS_keyctl, KEYCTL_READ, id, key, (size_t)KEY_BYTES);
	if (n != KEY_BYTES) {
		explicit_bzero(key, KEY_BYTES);
		return -1;
	}
	return 0;
}

void
fingerprint_secret(const struct cache *c, const struct secret *s, int create,
		   struct fingerprint *out)
{
	unsigned char key[KEY_BYTES], mac[SHA256_DIGEST_SIZE];

	memset(out, 0, sizeof(*out));
	snprintf(out->origin, sizeof(out->origin), "%s", s->origin);
	if (s->value == NULL || profile_key(c, create, key) != 0)
		return;
	sha256_hmac(key, KEY_BYTES, s->value, strlen(s->value), mac);
	sha256_hex(mac, sizeof(mac), out->mark);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(mac, sizeof(mac));
}

int
fingerprint_changed(const struct fingerprint *recorded, const struct fingerprint *now)
{
	if (recorded->mark[0] != '\0' && now->mark[0] != '\0')
		return strcmp(recorded->mark, now->mark) != 0;
	/* the key is gone (someone removed it): the mark says nothing any more, and a
	 * changed secret cannot be ruled out */
	if (recorded->mark[0] != '\0')
		return 1;
	return strcmp(recorded->origin, now->origin) != 0;
}

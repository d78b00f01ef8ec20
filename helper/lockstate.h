/* What a profile's lock file holds besides the lock: the last refresh that failed, so that
 * every process of the profile gives the same answer until something changed, and a token
 * the cache file could not take (a full disk), so that the next caller need not mint it
 * again. Read and written under the lock; status reads the failure without it. */
#ifndef KEYBEARER_LOCKSTATE_H
#define KEYBEARER_LOCKSTATE_H

#include "cache.h"
#include "error.h"

#define LOCKSTATE_FORMAT "keybearer-lock/1"
/* After the endpoint said no for good (a rejected secret, a scope it will not grant, a
 * reply keybearer cannot use), nobody asks again for this long — unless the secret or the
 * profile changed, which is tried at once. */
#define LOCKSTATE_REJECTION_SECONDS 300

/* Where a failure happened, which is what its message must name when it is repeated. */
enum lockstate_source {
	LOCKSTATE_ENDPOINT,
	LOCKSTATE_DISCOVERY,
	LOCKSTATE_KEYRING,
	LOCKSTATE_SECRET_COMMAND,
	LOCKSTATE_CACHE,    /* a new token the cache directory could not take */
	LOCKSTATE_ID_TOKEN, /* the CI's ID-token endpoint (assertion = github-actions) */
};

struct lockstate_failure {
	long long failed_at;   /* wall clock; 0: nothing recorded */
	long long failed_boot; /* boot clock, -1 when unknown */
	char boot_id[40];
	long long hold; /* seconds after failed_at that no process asks again */
	enum exit_code code;
	enum lockstate_source source;
	char profile[65];	 /* cache_profile_fingerprint of the profile that failed */
	char secret_mark[65];	 /* fingerprint.h: of the secret that was refused; "" none */
	char secret_origin[160]; /* the secret file's identity; "" none */
	char message[ERROR_MESSAGE_MAX];
};

struct lockstate {
	struct lockstate_failure failure;
	struct cache_record spare; /* access_token NULL: none */
};

/* The state in c's lock file: an empty one when there is none, or none that is ours. 0, or
 * -1 when the file cannot be read. */
int lockstate_read(const struct cache *c, int lock_fd, struct lockstate *st);
int lockstate_read_failure(const struct cache *c, int lock_fd, struct lockstate_failure *f);

/* Replaces the state, in place. 0, or -1 with errno set. */
int lockstate_write(const struct cache *c, int lock_fd, const struct lockstate *st);

void lockstate_free(struct lockstate *st);

/* The failure recorded for the profile, read without its lock: for status. 0 when there
 * is none (failed_at 0). */
void lockstate_peek(const struct profile *p, struct lockstate_failure *f);

/* How many more seconds the failure holds for the profile whose fingerprint is given: 0
 * when none is recorded, its hold is over (by the boot's clock, which no wall-clock step
 * moves; another boot ends it), or the profile has changed since. */
long long lockstate_failure_holds(const struct lockstate_failure *f, const struct cache_clock *now,
				  const char *profile);

/* The answer a recorded failure gives while it holds (always -1, err set): a final answer
 * word for word, with its exit code; a transient one as what failed, how long ago, and
 * when keybearer asks again. */
int lockstate_repeat(const struct profile *p, const struct lockstate_failure *f, long long holds,
		     struct error *err);

/* Whether a failure stands for the secret's answer (a rejection), which a new secret
 * may change. */
int lockstate_failure_is_rejection(const struct lockstate_failure *f);

/* Drops the profile's cached token under its lock, in the cache file and beside the lock
 * — with only_if, only when the cached token is that one (a token a server just refused),
 * so a token another process has already put in its place survives. Without only_if the
 * recorded failure goes too: a user who says "start again" means it. Returns 1 when a
 * token was dropped, 0 when not, -1. */
int lockstate_drop(const struct profile *p, const char *only_if, struct error *err);

/* The profile's lock, for a background refresh to start under, when none is running (the
 * lock is free) and no failed refresh of this very profile is being waited out; else -1. */
int lockstate_background_lock(const struct profile *p, const struct cache_clock *now);

/* "the token endpoint", "the keyring", ...: for "X of profile P failed N s ago". */
const char *lockstate_source_name(enum lockstate_source source);

#endif

/* What keybearer-fetch's commands share besides the modules: fetch_main.c's. */
#ifndef KEYBEARER_FETCH_H
#define KEYBEARER_FETCH_H

#include "cache.h"
#include "error.h"
#include "lockstate.h"
#include "secret.h"

/* Records a failure beside the cache (under the lock), so that every process of the
 * profile gives the same answer instead of asking again, for as long as its kind holds
 * (nothing for a configuration error). A rejection of the secret carries the secret's
 * fingerprint, so that a new secret is tried at once. */
void fetch_record_failure(const struct cache *c, int lock_fd, struct lockstate *st,
			  const char *profile_fp, enum lockstate_source source,
			  const struct error *failure, int retry_after,
			  const struct secret *secret);

#endif

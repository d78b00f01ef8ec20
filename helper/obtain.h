/* The hot path's one question: a token good for long enough, from the cache if it can
 * answer, else from keybearer-fetch. */
#ifndef KEYBEARER_OBTAIN_H
#define KEYBEARER_OBTAIN_H

#include "cache.h"
#include "config.h"
#include "error.h"

/* keybearer-fetch is $KEYBEARER_FETCH, else the one installed beside us.
 * min_ttl < 0: the profile's refresh margin decides. An error already reported by
 * keybearer-fetch on stderr comes back with an empty message. */
int obtain_token(const struct config *cfg, const struct profile *p, int min_ttl,
		 struct cache_record *rec, struct error *err);

#endif

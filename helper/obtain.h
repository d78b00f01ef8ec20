/* The hot path's one question: a token good for long enough, from the cache if it can
 * answer, else from keybearer-fetch. */
#ifndef KEYBEARER_OBTAIN_H
#define KEYBEARER_OBTAIN_H

#include <sys/types.h>

#include "cache.h"
#include "config.h"
#include "error.h"

/* keybearer-fetch is $KEYBEARER_FETCH, else the one installed beside us.
 * min_ttl < 0: the profile's refresh margin decides; a token inside the margin but still
 * good is handed out at once while keybearer-fetch refreshes it in the background. An error already
 * reported by keybearer-fetch on stderr comes back with an empty message. */
int obtain_token(const struct config *cfg, const struct profile *p, int min_ttl,
		 struct cache_record *rec, struct error *err);

/* Runs keybearer-fetch with args (NULL-terminated, args[0] its command), stdin from
 * /dev/null, and reads its stdout into answer; pass_fd (>= 0) stays open in it under its
 * own number. A failure it reported itself on stderr comes back with its exit code and an
 * empty message. */
int obtain_run_fetch(const char *const args[], int pass_fd, char *answer, size_t cap,
		     ssize_t *answer_len, struct error *err);

/* Replaces this process with `keybearer-fetch command argv[1..]`, for the commands that
 * need the keyring or a terminal; returns only on failure. */
int obtain_exec_fetch(const char *command, int argc, char **argv, struct error *err);

#endif

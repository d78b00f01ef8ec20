/* keybearer exec's two ways of handing a token to a command that may outlive it: a file
 * kept fresh for as long as the command runs (--token-file), and, for the token in an
 * environment variable, a warning when the command outlives it. */
#ifndef KEYBEARER_TOKENFILE_H
#define KEYBEARER_TOKENFILE_H

#include "cache.h"
#include "config.h"
#include "error.h"

/* Runs argv[0] with the path of a 0600 file that holds p's current token in the variable
 * NAME, replaces the file atomically before each refresh get would make, and removes it
 * when the command ends, however it ends. first is the token to start with (taken). The
 * command's exit status comes back as err->code with an empty message; its death by a
 * signal is mirrored by raising that signal. -1 with err set when it cannot run. */
int tokenfile_exec(const struct config *cfg, const struct profile *p, struct cache_record *first,
		   const char *variable, char **argv, struct error *err);

/* Before a real exec of argv[0]: starts a detached watcher that says once on stderr, when
 * the token in variable expires while the command this process becomes still runs, that
 * it does. Costs two forks; does nothing where it cannot watch (no pidfd). */
void tokenfile_watch_expiry(const struct cache_record *rec, const char *variable, char **argv);

#endif

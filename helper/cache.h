/* The token cache: one private file per profile, replaced atomically, guarded by a lock
 * file so that only one process at a time asks the token endpoint. */
#ifndef KEYBEARER_CACHE_H
#define KEYBEARER_CACHE_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "error.h"

#define CACHE_FORMAT	 "keybearer-cache/1"
#define CACHE_RECORD_MAX (64 * 1024)
/* After a refresh failed for a transient reason, no process of the profile asks the token
 * endpoint again for this long (or as long as its Retry-After asked, up to
 * BACKOFF_RETRY_AFTER_CAP): an outage costs one round of retries, not one per caller. */
#define CACHE_BACKOFF_SECONDS 30
/* How much longer than a token request's own deadline to wait for another process's. */
#define CACHE_LOCK_GRACE_SECONDS 5

struct cache_record {
	char *access_token;
	long long obtained_at;
	long long expires_at;
};

/* One profile's place in the cache directory. */
struct cache {
	int dirfd;
	char dir[4096];
	char key[65];	    /* hex SHA-256 of the profile's identity */
	char file_name[48]; /* <first 32 hex digits>.json */
	char lock_name[48]; /* <first 32 hex digits>.lock */
};

/* The hex key of token_url, client_id, scope, audience and resource (never the secret). */
void cache_profile_key(const struct profile *p, char out[65]);

/* Opens (with create: makes) the cache directory and checks it is a private directory of
 * ours. Returns 0, 1 when it does not exist and create is 0, -1 with err set. */
int cache_open(struct cache *c, const struct profile *p, int create, struct error *err);
void cache_close(struct cache *c);

/* 0 with rec filled, 1 for a miss (absent, corrupt, foreign, another profile's), -1 when
 * the file is unsafe (err set). */
int cache_read(const struct cache *c, struct cache_record *rec, struct error *err);

/* cache_open without creating, cache_read, cache_close: the read-only look of the hot path.
 * 0 with rec filled, 1 for a miss (no directory either), -1 with err set. */
int cache_lookup(const struct profile *p, struct cache_record *rec, struct error *err);

/* Temp file, fsync, rename: a reader sees the old record or the new one, never half. */
int cache_write(const struct cache *c, const struct cache_record *rec, struct error *err);

/* The same for another file of the cache directory (an issuer's discovery document), and
 * reading one under the cache file's rules: 0, 1 when absent, -1 with err set. */
int cache_write_file(const struct cache *c, const char *name, const char *text, struct error *err);
int cache_read_file(const struct cache *c, const char *name, char **text, size_t *len,
		    struct error *err);

/* Removes the cached token; absent is fine. */
int cache_remove(const struct cache *c, struct error *err);

/* Drops the profile's cached token under its lock — with only_if, only when the cached
 * token is that one (a token a server just refused), so a token another process has
 * already put in its place survives. Returns 1 when one was dropped, 0 when not, -1. */
int cache_drop(const struct profile *p, const char *only_if, struct error *err);

/* The failed refresh keybearer-fetch leaves in the profile's lock file, read under the lock
 * by the next process (and by status, without it). */
struct cache_backoff {
	long long failed_at;	/* Unix seconds; 0: no failure recorded */
	long long next_attempt; /* no request to the token endpoint before this */
	char reason[256];	/* the failure's message, one printable line */
};

/* 0 with b filled (failed_at 0 when nothing is recorded), or -1 on a read error. */
int cache_backoff_read(int lock_fd, struct cache_backoff *b);
int cache_backoff_write(int lock_fd, const struct cache_backoff *b);
void cache_backoff_clear(int lock_fd);

/* cache_backoff_read for a profile without taking its lock: for status. */
int cache_backoff_peek(const struct profile *p, struct cache_backoff *b);

/* How long to wait for the profile's lock: as long as its holder may take — the secret
 * (a keyring prompt, a command) and then the token request — plus a little. */
int cache_lock_wait(const struct profile *p);

/* Takes the profile's lock, waiting at most timeout_seconds; returns the lock fd (closing
 * it releases the lock) or -1 with err set. */
int cache_lock(const struct cache *c, const char *profile_name, int timeout_seconds,
	       struct error *err);

/* The error of a lock that stayed busy for timeout_seconds; returns -1. */
int cache_lock_busy(const char *profile_name, int timeout_seconds, struct error *err);

/* A lock handed down by the process that took it (keybearer takes it before it starts
 * keybearer-fetch, so a crowd of callers starts one keybearer-fetch, not one each). fd
 * must be c's lock file, taken through the same open file: then asking again succeeds at
 * once. Returns fd, or -1 with err set. */
int cache_lock_inherited(const struct cache *c, int fd, struct error *err);

/* The record as the JSON text stored in the cache file (and handed from keybearer-fetch to
 * keybearer); caller frees. */
char *cache_record_format(const char *key, const struct cache_record *rec);

/* Parses such a text; 0, or -1 when it is not a record for key. */
int cache_record_parse(const char *text, size_t len, const char *key, struct cache_record *rec);

void cache_record_free(struct cache_record *rec);

/* What a cached record needs. REFRESH_SOON: still good to hand out, but inside the refresh
 * window (and with at least half that window left), so a refresh can run in the
 * background while callers go on using it. A caller's own min_ttl never waits: it is
 * FRESH or NOW. */
enum cache_need {
	CACHE_FRESH,
	CACHE_REFRESH_SOON,
	CACHE_REFRESH_NOW,
};

enum cache_need cache_need(const struct cache_record *rec, time_t now, int margin, int min_ttl);

/* The profile's lock, for a background refresh to start under, when none is running (the
 * lock is free) and no failed refresh is being waited out; else -1. */
int cache_background_lock(const struct profile *p, time_t now);

/* Whether the record can be handed out as is: at least min_ttl seconds left when
 * 0 <= min_ttl <= the token's lifetime, else at least margin, capped at half the lifetime.
 * (A min_ttl no token from this endpoint can meet would otherwise mint on every call.) */
int cache_is_fresh(const struct cache_record *rec, time_t now, int margin, int min_ttl);

#endif

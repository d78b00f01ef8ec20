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

/* The clocks a record is judged by: the wall clock, and this boot's own clock, which no
 * step of the wall clock moves. */
struct cache_clock {
	long long wall;
	long long boot;	  /* seconds since boot (CLOCK_BOOTTIME), -1 when unknown */
	char boot_id[40]; /* "" when unknown */
};

void cache_clock_now(struct cache_clock *now);

struct cache_record {
	char *access_token;
	long long obtained_at;	 /* wall clock at receipt */
	long long expires_at;	 /* obtained_at + the token's lifetime */
	long long obtained_boot; /* boot clock at receipt, -1 when unknown */
	char boot_id[40];	 /* the boot it was received in, "" when unknown */
};

/* Fills in the boot clock of a record received at obtained_at (a moment ago). */
void cache_record_stamp(struct cache_record *rec, const struct cache_clock *now);

/* Whether a record's times can be believed: one from the future (the clock stepped back)
 * or from another boot cannot — nothing tells how long ago it was really received. Where
 * this boot's id cannot be read (no /proc), the wall clock is all there is. */
enum cache_trust {
	CACHE_TRUSTED,
	CACHE_FROM_THE_FUTURE,
	CACHE_FROM_ANOTHER_BOOT, /* or from a keybearer that did not note the boot */
};

enum cache_trust cache_record_trust(const struct cache_record *rec, const struct cache_clock *now);

/* What the token has left, in seconds, as far as both clocks can tell: by the wall clock
 * and, for a record of this boot, by the time that has really passed since it was
 * received. A record from the future (the clock stepped back) or from another boot counts
 * as dead (0): nothing can tell how long ago it really was received. */
long long cache_record_left(const struct cache_record *rec, const struct cache_clock *now);

/* now->wall + cache_record_left: the expiry to show and hand on, which no clock step can
 * make later than the token's real one. */
long long cache_record_expiry(const struct cache_record *rec, const struct cache_clock *now);

/* The least a token must have left to be handed out at all, even as a fallback: 10 s, or a
 * quarter of a lifetime shorter than 40 s (at least 2 s). */
long long cache_floor(long long lifetime);

/* The refresh window of a token of this lifetime: the margin, capped at half the lifetime,
 * never below the floor. A token with less than this left is due for a refresh. */
long long cache_refresh_window(long long lifetime, int margin);

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

/* Temp file, rename (no fsync: see cache_write_file): a reader sees the old record or the
 * new one, never half. */
int cache_write(const struct cache *c, const struct cache_record *rec, struct error *err);

/* The same for another file of the cache directory (an issuer's discovery document), and
 * reading one under the cache file's rules: 0, 1 when absent, -1 with err set. */
int cache_write_file(const struct cache *c, const char *name, const char *text, struct error *err);
int cache_read_file(const struct cache *c, const char *name, char **text, size_t *len,
		    struct error *err);

/* Removes the cached token; absent is fine. */
int cache_remove(const struct cache *c, struct error *err);

/* How long to wait for the profile's lock: as long as its holder may take — the secret
 * (a keyring prompt, a command) and then the token request — plus a little. */
int cache_lock_wait(const struct profile *p);

/* The lock file holds the profile's lock state (lockstate.h) in a region of this size, made
 * when the lock file is: later states overwrite it in place, so recording that the disk
 * is full needs no space on the disk. */
#define CACHE_LOCK_FILE_SIZE (20 * 1024)

/* Takes the profile's lock, waiting at most timeout_seconds; returns the lock fd (closing
 * it releases the lock) or -1 with err set (code KB_EXIT_TRANSIENT when it stayed busy,
 * KB_EXIT_IO when the lock file cannot be opened or locked). */
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

/* The same as a json-c object, for records kept inside other files. */
struct json_object *cache_record_to_json(const char *key, const struct cache_record *rec);
int cache_record_from_json(struct json_object *obj, const char *key, struct cache_record *rec);

/* The later of two records (either may have no token); NULL when neither has one. */
const struct cache_record *cache_record_newer(const struct cache_record *a,
					      const struct cache_record *b);

void cache_record_free(struct cache_record *rec);

/* What a cached record needs. REFRESH_SOON: still good to hand out, but inside the refresh
 * window (and with at least half that window left), so a refresh can run in the
 * background while callers go on using it. A caller's own min_ttl never waits: it is
 * FRESH or NOW.
 *
 * For a token of lifetime L the window is the margin (refresh_margin, capped at L/2),
 * never less than the floor (10 s, or L/4 for a token of less than 40 s); the background
 * half of it ends at the floor at the latest. Both scale with L, so even a 20 s token has
 * a background window (from 10 s left down to 5 s). */
enum cache_need {
	CACHE_FRESH,
	CACHE_REFRESH_SOON,
	CACHE_REFRESH_NOW,
};

enum cache_need cache_need(const struct cache_record *rec, const struct cache_clock *now,
			   int margin, int min_ttl);

/* Whether the record can be handed out as is: at least min_ttl seconds left when
 * 0 <= min_ttl <= the token's lifetime, else at least the refresh window; never less than
 * the floor. (A min_ttl no token from this endpoint can meet would otherwise mint on every
 * call.) */
int cache_is_fresh(const struct cache_record *rec, const struct cache_clock *now, int margin,
		   int min_ttl);

/* Whether the record may still be handed out at all (a fallback): the floor is left. */
int cache_is_usable(const struct cache_record *rec, const struct cache_clock *now);

/* A hex digest of everything in the profile that shapes a token request (endpoint, client,
 * scope, audience, resource, auth method, secret source, CA, timeouts; never the secret):
 * a recorded failure holds only while the profile is the same. */
void cache_profile_fingerprint(const struct profile *p, char out[65]);

#endif

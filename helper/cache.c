#include "cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notice.h"
#include "output.h"
#include "safefile.h"
#include "sha256.h"
#include "strictjson.h"
#include "token.h"
#include "monotonic.h"

static const struct safefile_rules cache_file_rules = {
	.what = "cache file",
	.refuse_symlink = 1,
	.allow_root_owner = 0,
	.forbidden = 077,
	.max_size = CACHE_RECORD_MAX,
	.code = KB_EXIT_IO,
};

static void
hash_field(struct sha256 *ctx, const char *value)
{
	char prefix[24];
	size_t len = value != NULL ? strlen(value) : 0;

	/* Length-prefixed, so ("ab","c") and ("a","bc") never hash alike. */
	snprintf(prefix, sizeof(prefix), "%zu:", len);
	sha256_update(ctx, prefix, strlen(prefix));
	if (len > 0)
		sha256_update(ctx, value, len);
	sha256_update(ctx, ",", 1);
}

void
cache_profile_key(const struct profile *p, char out[65])
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct sha256 ctx;

	sha256_init(&ctx);
	hash_field(&ctx, CACHE_FORMAT);
	hash_field(&ctx, config_endpoint_identity(p));
	hash_field(&ctx, p->client_id);
	hash_field(&ctx, p->scope);
	hash_field(&ctx, p->audience);
	hash_field(&ctx, p->resource);
	/* federated assertions and token exchange: an exchanged token is the subject's */
	if (p->grant_type == GRANT_TOKEN_EXCHANGE) {
		char source[4200];
		config_describe_token_source(&p->subject_token, source, sizeof(source));
		hash_field(&ctx, "token_exchange");
		hash_field(&ctx, source);
		hash_field(&ctx, config_subject_token_type(p));
		hash_field(&ctx, p->requested_token_type);
	}
	/* mutual-TLS client authentication: a token bound to one certificate is no use with
	 * another (keys without one stay as they were) */
	if (p->client_cert != NULL && config_auth_is_mtls(p->auth_method))
		hash_field(&ctx, p->client_cert);
	sha256_final(&ctx, digest);
	sha256_hex(digest, SHA256_DIGEST_SIZE, out);
}

void
cache_profile_fingerprint(const struct profile *p, char out[65])
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	char number[32];
	struct sha256 ctx;

	sha256_init(&ctx);
	hash_field(&ctx, "keybearer-profile/1");
	hash_field(&ctx, p->token_url);
	hash_field(&ctx, p->issuer);
	hash_field(&ctx, p->client_id);
	hash_field(&ctx, p->scope);
	hash_field(&ctx, p->audience);
	hash_field(&ctx, p->resource);
	hash_field(&ctx, config_auth_method_name(p->auth_method));
	snprintf(number, sizeof(number), "%d", (int)p->secret_kind);
	hash_field(&ctx, number);
	hash_field(&ctx, p->secret_arg);
	hash_field(&ctx, p->ca_file);
	/* mutual-TLS client authentication */
	if (config_auth_is_mtls(p->auth_method)) {
		char source[4200];
		config_describe_client_key_source(p, source, sizeof(source));
		hash_field(&ctx, p->client_cert);
		hash_field(&ctx, source);
	}
	snprintf(number, sizeof(number), "%d,%d", p->timeout, p->keyring_timeout);
	hash_field(&ctx, number);
	/* key-based client authentication: only where a key setting is used or given, so the
	 * digest of a secret profile stays what it was */
	if (config_auth_signs_assertion(p->auth_method) || p->private_key_arg != NULL ||
	    p->signing_alg != NULL || p->key_id != NULL || p->assertion_audience != NULL) {
		snprintf(number, sizeof(number), "key:%d", (int)p->private_key_kind);
		hash_field(&ctx, number);
		hash_field(&ctx, p->private_key_arg);
		hash_field(&ctx, p->signing_alg);
		hash_field(&ctx, p->key_id);
		hash_field(&ctx, p->assertion_audience);
	}
	/* federated assertions and token exchange */
	if (p->assertion.kind != TOKEN_SOURCE_NONE || p->grant_type != GRANT_CLIENT_CREDENTIALS) {
		char source[4200];
		config_describe_token_source(&p->assertion, source, sizeof(source));
		hash_field(&ctx, source);
		hash_field(&ctx, p->assertion_audience);
		hash_field(&ctx, config_grant_type_name(p->grant_type));
		config_describe_token_source(&p->subject_token, source, sizeof(source));
		hash_field(&ctx, source);
		hash_field(&ctx, p->subject_token_type);
		hash_field(&ctx, p->requested_token_type);
	}
	sha256_final(&ctx, digest);
	sha256_hex(digest, SHA256_DIGEST_SIZE, out);
}

void
cache_clock_now(struct cache_clock *now)
{
	now->wall = (long long)time(NULL);
	now->boot = monotonic_boot_seconds();
	monotonic_boot_id(now->boot_id);
}

void
cache_record_stamp(struct cache_record *rec, const struct cache_clock *now)
{
	/* received obtained_at, a moment ago by the wall clock: as long ago by the boot's */
	long long ago = now->wall - rec->obtained_at;

	rec->obtained_boot = now->boot >= 0 && ago >= 0 && ago <= now->boot ? now->boot - ago : -1;
	snprintf(rec->boot_id, sizeof(rec->boot_id), "%s",
		 rec->obtained_boot >= 0 ? now->boot_id : "");
}

enum cache_trust
cache_record_trust(const struct cache_record *rec, const struct cache_clock *now)
{
	if (rec->obtained_at > now->wall)
		return CACHE_FROM_THE_FUTURE; /* the clock stepped back, by how much nobody knows */
	if (now->boot_id[0] == '\0')
		return CACHE_TRUSTED; /* no boot clock to ask here: the wall clock alone */
	if (strcmp(rec->boot_id, now->boot_id) != 0 || rec->obtained_boot < 0 ||
	    now->boot < rec->obtained_boot)
		return CACHE_FROM_ANOTHER_BOOT;
	return CACHE_TRUSTED;
}

long long
cache_record_left(const struct cache_record *rec, const struct cache_clock *now)
{
	long long left = rec->expires_at - now->wall;
	long long by_boot = rec->expires_at - rec->obtained_at - (now->boot - rec->obtained_boot);

	if (cache_record_trust(rec, now) != CACHE_TRUSTED)
		return 0;
	/* The boot clock says how long ago it really was. Two clocks read in whole seconds
	 * disagree by a second without any step, so only more than that counts: then the
	 * wall clock has stepped. */
	if (now->boot_id[0] != '\0' && by_boot < left - 1)
		left = by_boot;
	return left > 0 ? left : 0;
}

long long
cache_record_expiry(const struct cache_record *rec, const struct cache_clock *now)
{
	return now->wall + cache_record_left(rec, now);
}

long long
cache_floor(long long lifetime)
{
	/* no endpoint's token lives less: such a record is not one of ours, never usable */
	if (lifetime < TOKEN_MIN_LIFETIME)
		return TOKEN_MIN_LIFETIME;
	if (lifetime >= 4 * TOKEN_MIN_LIFETIME)
		return TOKEN_MIN_LIFETIME;
	return lifetime / 4 > 2 ? lifetime / 4 : 2;
}

static int
is_directory(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* $XDG_RUNTIME_DIR/keybearer: private tmpfs that vanishes at logout, the best home for a
 * token; otherwise the cache home. The second path is a parent to create first, or "". */
static int
cache_dir_path(char *dir, size_t size, char *parent, size_t parent_size)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR");
	const char *cache_home = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	int n;

	parent[0] = '\0';
	if (runtime != NULL && runtime[0] == '/' && is_directory(runtime)) {
		n = snprintf(dir, size, "%s/keybearer", runtime);
	} else if (cache_home != NULL && cache_home[0] == '/') {
		snprintf(parent, parent_size, "%s", cache_home);
		n = snprintf(dir, size, "%s/keybearer", cache_home);
	} else if (home != NULL && home[0] == '/') {
		snprintf(parent, parent_size, "%s/.cache", home);
		n = snprintf(dir, size, "%s/.cache/keybearer", home);
	} else {
		return -1;
	}
	return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

int
cache_open(struct cache *c, const struct profile *p, int create, struct error *err)
{
	char parent[4096];
	struct stat st;

	memset(c, 0, sizeof(*c));
	c->dirfd = -1;
	cache_profile_key(p, c->key);
	snprintf(c->file_name, sizeof(c->file_name), "%.32s.json", c->key);
	snprintf(c->lock_name, sizeof(c->lock_name), "%.32s.lock", c->key);
	if (cache_dir_path(c->dir, sizeof(c->dir), parent, sizeof(parent)) != 0)
		return error_set(err, KB_EXIT_IO,
				 "no place for the token cache: neither XDG_RUNTIME_DIR, "
				 "XDG_CACHE_HOME nor HOME is set — set one of them");
	if (create) {
		if (parent[0] != '\0' && mkdir(parent, 0700) != 0 && errno != EEXIST)
			return error_set(err, KB_EXIT_IO,
					 "cannot create %s: %s — create it or "
					 "set XDG_RUNTIME_DIR",
					 parent, strerror(errno));
		if (mkdir(c->dir, 0700) != 0 && errno != EEXIST)
			return error_set(err, KB_EXIT_IO,
					 "cannot create the cache directory %s: "
					 "%s — check its parent's permissions",
					 c->dir, strerror(errno));
	}
	c->dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dirfd < 0) {
		if (errno == ENOENT && !create)
			return 1;
		if (errno == ELOOP || errno == ENOTDIR)
			return error_set(err, KB_EXIT_IO,
					 "cache directory %s is a symbolic link or not a directory "
					 "— remove it; keybearer recreates it",
					 c->dir);
		return error_set(err, KB_EXIT_IO,
				 "cannot open the cache directory %s: %s — "
				 "check its permissions",
				 c->dir, strerror(errno));
	}
	if (fstat(c->dirfd, &st) != 0 || st.st_uid != geteuid()) {
		error_set(err, KB_EXIT_IO,
			  "cache directory %s does not belong to you — remove it; keybearer "
			  "recreates it",
			  c->dir);
		goto refuse;
	}
	if ((st.st_mode & 077) != 0) {
		error_set(err, KB_EXIT_IO,
			  "cache directory %s is accessible to group or others (mode %04o) — run "
			  "chmod 700 %s",
			  c->dir, (unsigned)(st.st_mode & 07777), c->dir);
		goto refuse;
	}
	return 0;
refuse:
	cache_close(c);
	return -1;
}

void
cache_close(struct cache *c)
{
	if (c->dirfd >= 0)
		close(c->dirfd);
	c->dirfd = -1;
}

int
cache_record_from_json(struct json_object *obj, const char *key, struct cache_record *rec)
{
	const char *format, *record_key, *token, *boot_id;

	memset(rec, 0, sizeof(*rec));
	rec->obtained_boot = -1;
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		return -1;
	format = strictjson_get_string(obj, "format");
	record_key = strictjson_get_string(obj, "key");
	token = strictjson_get_string(obj, "access_token");
	if (format == NULL || strcmp(format, CACHE_FORMAT) != 0 || record_key == NULL ||
	    strcmp(record_key, key) != 0 || token == NULL || strlen(token) > TOKEN_MAX_LENGTH ||
	    !token_is_b64token(token, strlen(token)) ||
	    strictjson_get_int(obj, "obtained_at", &rec->obtained_at) != 0 ||
	    strictjson_get_int(obj, "expires_at", &rec->expires_at) != 0 || rec->obtained_at <= 0 ||
	    rec->expires_at < rec->obtained_at ||
	    rec->expires_at - rec->obtained_at > TOKEN_MAX_EXPIRES_IN)
		return -1;
	/* Without the boot's clock (a record of an older keybearer) nothing tells how long ago
	 * it was really received: cache_record_left counts it as dead. */
	boot_id = strictjson_get_string(obj, "boot_id");
	if (boot_id != NULL && strlen(boot_id) < sizeof(rec->boot_id) &&
	    strictjson_get_int(obj, "obtained_boot", &rec->obtained_boot) == 0 &&
	    rec->obtained_boot >= 0)
		memcpy(rec->boot_id, boot_id, strlen(boot_id) + 1);
	else
		rec->obtained_boot = -1;
	rec->access_token = strdup(token);
	return rec->access_token != NULL ? 0 : -1;
}

int
cache_record_parse(const char *text, size_t len, const char *key, struct cache_record *rec)
{
	struct json_object *obj = strictjson_parse(text, len);
	int rc = cache_record_from_json(obj, key, rec);

	json_object_put(obj);
	return rc;
}

struct json_object *
cache_record_to_json(const char *key, const struct cache_record *rec)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "format", json_object_new_string(CACHE_FORMAT));
	json_object_object_add(obj, "key", json_object_new_string(key));
	json_object_object_add(obj, "access_token", json_object_new_string(rec->access_token));
	json_object_object_add(obj, "obtained_at", json_object_new_int64(rec->obtained_at));
	json_object_object_add(obj, "expires_at", json_object_new_int64(rec->expires_at));
	if (rec->boot_id[0] != '\0' && rec->obtained_boot >= 0) {
		json_object_object_add(obj, "boot_id", json_object_new_string(rec->boot_id));
		json_object_object_add(obj, "obtained_boot",
				       json_object_new_int64(rec->obtained_boot));
	}
	return obj;
}

char *
cache_record_format(const char *key, const struct cache_record *rec)
{
	struct json_object *obj = cache_record_to_json(key, rec);
	char *text;

	if (obj == NULL)
		return NULL;
	text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return text;
}

const struct cache_record *
cache_record_newer(const struct cache_record *a, const struct cache_record *b)
{
	if (a->access_token == NULL)
		return b->access_token != NULL ? b : NULL;
	if (b->access_token == NULL)
		return a;
	return b->obtained_at > a->obtained_at ? b : a;
}

void
cache_record_free(struct cache_record *rec)
{
	safefile_free_string(rec->access_token);
	rec->access_token = NULL;
}

int
cache_read(const struct cache *c, struct cache_record *rec, struct error *err)
{
	char *text = NULL;
	size_t len;
	int rc;

	memset(rec, 0, sizeof(*rec));
	rc = safefile_read(c->dirfd, c->file_name, &cache_file_rules, &text, &len, err);
	if (rc != 0)
		return rc;
	rc = cache_record_parse(text, len, c->key, rec) == 0 ? 0 : 1;
	safefile_free_string(text);
	return rc;
}

int
cache_lookup(const struct profile *p, struct cache_record *rec, struct error *err)
{
	struct cache c;
	int rc;

	memset(rec, 0, sizeof(*rec));
	rc = cache_open(&c, p, 0, err);
	if (rc != 0)
		return rc;
	rc = cache_read(&c, rec, err);
	cache_close(&c);
	return rc;
}

static void
random_hex(char *out, size_t bytes)
{
	unsigned char raw[16];
	size_t i;

	if (bytes > sizeof(raw))
		bytes = sizeof(raw);
	if (getrandom(raw, bytes, GRND_NONBLOCK) != (ssize_t)bytes) {
		unsigned long mix = (unsigned long)getpid() ^ (unsigned long)time(NULL) << 16;
		for (i = 0; i < bytes; i++)
			raw[i] = (unsigned char)(mix >> (8 * (i % sizeof(mix))));
	}
	sha256_hex(raw, bytes, out);
}

/* A writer killed between create and rename leaves its temp file. Whoever holds the lock
 * is the only writer of this profile, so any such file it sees is stale. */
static void
remove_stale_temp_files(const struct cache *c, const char *name)
{
	char prefix[64];
	size_t prefix_len, name_len;
	struct dirent *entry;
	int fd = dup(c->dirfd);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	rewinddir(dir);
	snprintf(prefix, sizeof(prefix), ".%s.", name);
	prefix_len = strlen(prefix);
	while ((entry = readdir(dir)) != NULL) {
		name_len = strlen(entry->d_name);
		if (strncmp(entry->d_name, prefix, prefix_len) == 0 && name_len > 4 &&
		    strcmp(entry->d_name + name_len - 4, ".tmp") == 0)
			unlinkat(c->dirfd, entry->d_name, 0);
	}
	closedir(dir);
}

int
cache_write_file(const struct cache *c, const char *name, const char *text, struct error *err)
{
	char tmp_name[96], suffix[33];
	int fd = -1, rc = -1;

	/* only the token file's own writer is alone under the lock: a shared file (an
	 * issuer's discovery document) may have another writer mid-way */
	if (strcmp(name, c->file_name) == 0)
		remove_stale_temp_files(c, name);
	random_hex(suffix, 8);
	snprintf(tmp_name, sizeof(tmp_name), ".%s.%s.tmp", name, suffix);
	fd = openat(c->dirfd, tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		error_set(err, KB_EXIT_IO,
			  "cannot create a file in %s: %s — check the "
			  "directory's permissions and free space",
			  c->dir, strerror(errno));
		goto out;
	}
	/* No fsync, of the file or the directory: a crash can lose the newest copy (the next
	 * call fetches it again) or leave an empty or zero-filled file under the new name,
	 * which fails to parse and so is a miss. Running processes see the old file or the
	 * new one whole, by the rename. The fsyncs cost a millisecond of every mint on a disk
	 * (the runtime directory is a tmpfs on most desktops, but not in CI). */
	if (output_write_all(fd, text, strlen(text)) != 0) {
		error_set(err, KB_EXIT_IO,
			  "cannot write the token cache in %s: %s — check free "
			  "space",
			  c->dir, strerror(errno));
		goto out;
	}
	if (close(fd) != 0) {
		fd = -1;
		error_set(err, KB_EXIT_IO,
			  "cannot write the token cache in %s: %s — check free "
			  "space",
			  c->dir, strerror(errno));
		goto out;
	}
	fd = -1;
	if (renameat(c->dirfd, tmp_name, c->dirfd, name) != 0) {
		error_set(err, KB_EXIT_IO,
			  "cannot replace the token cache in %s: %s — check the "
			  "directory's permissions",
			  c->dir, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		unlinkat(c->dirfd, tmp_name, 0);
	return rc;
}

int
cache_write(const struct cache *c, const struct cache_record *rec, struct error *err)
{
	char *text = cache_record_format(c->key, rec);
	int rc;

	if (text == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	rc = cache_write_file(c, c->file_name, text, err);
	safefile_free_string(text);
	return rc;
}

int
cache_read_file(const struct cache *c, const char *name, char **text, size_t *len,
		struct error *err)
{
	return safefile_read(c->dirfd, name, &cache_file_rules, text, len, err);
}

int
cache_remove(const struct cache *c, struct error *err)
{
	if (unlinkat(c->dirfd, c->file_name, 0) != 0 && errno != ENOENT)
		return error_set(err, KB_EXIT_IO,
				 "cannot remove the cached token %s/%s: %s — "
				 "remove it by hand",
				 c->dir, c->file_name, strerror(errno));
	return 0;
}

int
cache_lock_wait(const struct profile *p)
{
	/* mutual-TLS client authentication: the key's source is the one that may wait */
	enum secret_kind kind =
		config_auth_is_mtls(p->auth_method) ? p->client_key_kind : p->secret_kind;
	int secret = kind == SECRET_KEYRING   ? CONFIG_KEYRING_PROMPT_SECONDS
		     : kind == SECRET_COMMAND ? p->timeout
					      : 0;

	/* an issuer's first mint reads its discovery document first, within its own timeout */
	int discovery = p->issuer != NULL && p->token_url == NULL ? p->timeout : 0;

	return secret + discovery + p->timeout + CACHE_LOCK_GRACE_SECONDS;
}

/* Makes the lock file its full size while the disk still has room, with zeros past what it
 * holds: a later state is written over blocks it already has. Its size is read again here,
 * under the lock: what another holder wrote since we opened it must stay. A failure only
 * means a full disk may leave the state unwritten later. */
static void
reserve_lock_state(int fd)
{
	static const char zeros[4096];
	struct stat st;
	off_t at;

	if (fstat(fd, &st) != 0)
		return;
	for (at = st.st_size; at < CACHE_LOCK_FILE_SIZE;) {
		size_t chunk = CACHE_LOCK_FILE_SIZE - at < (off_t)sizeof(zeros)
				       ? (size_t)(CACHE_LOCK_FILE_SIZE - at)
				       : sizeof(zeros);
		ssize_t n = pwrite(fd, zeros, chunk, at);
		if (n <= 0)
			return;
		at += n;
	}
}

int
cache_lock(const struct cache *c, const char *profile_name, int timeout_seconds, struct error *err)
{
	static const struct safefile_rules lock_rules = {
		.what = "lock file",
		.refuse_symlink = 1,
		.allow_root_owner = 0,
		.forbidden = 077,
		.max_size = CACHE_LOCK_FILE_SIZE,
		.code = KB_EXIT_IO,
	};
	long long started = monotonic_ms(), deadline = started + (long long)timeout_seconds * 1000;
	long pause_ms = 1;
	struct stat st;
	int fd;

	fd = openat(c->dirfd, c->lock_name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_set(err, KB_EXIT_IO,
				 "cannot open the lock file %s/%s: %s — check "
				 "the cache directory",
				 c->dir, c->lock_name, strerror(errno));
	if (safefile_check(fd, c->lock_name, &lock_rules, &st, err) != 0)
		goto fail;
	/* Polling with LOCK_NB keeps the wait bounded without signals or threads. */
	while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		struct timespec pause;
		if (errno != EWOULDBLOCK && errno != EINTR) {
			error_set(err, KB_EXIT_IO,
				  "cannot lock %s/%s: %s — check the cache "
				  "directory",
				  c->dir, c->lock_name, strerror(errno));
			goto fail;
		}
		if (monotonic_ms() >= deadline) {
			cache_lock_busy(profile_name, timeout_seconds, err);
			goto fail;
		}
		if (notice_due(NOTICE_LOCK, started))
			notice_say(NOTICE_LOCK,
				   "another keybearer refreshing profile %s (at most %lld s more)",
				   profile_name, (deadline - monotonic_ms() + 999) / 1000);
		/* A refresh takes tens of ms: waiters notice its end within 10 ms. */
		pause.tv_sec = 0;
		pause.tv_nsec = pause_ms * 1000000L;
		nanosleep(&pause, NULL);
		pause_ms = pause_ms * 2 > 10 ? 10 : pause_ms * 2;
	}
	reserve_lock_state(fd);
	return fd;
fail:
	close(fd);
	return -1;
}

int
cache_lock_busy(const char *profile_name, int timeout_seconds, struct error *err)
{
	return error_set(err, KB_EXIT_TRANSIENT,
			 "another keybearer has been refreshing profile %s for more than %d s — "
			 "try again; if it persists, look for a stuck keybearer-fetch",
			 profile_name, timeout_seconds);
}

int
cache_lock_inherited(const struct cache *c, int fd, struct error *err)
{
	struct stat handed, lock;

	if (fstat(fd, &handed) != 0 ||
	    fstatat(c->dirfd, c->lock_name, &lock, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISREG(handed.st_mode) || handed.st_dev != lock.st_dev ||
	    handed.st_ino != lock.st_ino || flock(fd, LOCK_EX | LOCK_NB) != 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) /* a secret command must not hold it */
		return error_set(err, KB_EXIT_INTERNAL,
				 "keybearer-fetch was not handed the lock of %s/%s — check that "
				 "keybearer and keybearer-fetch come from the same version",
				 c->dir, c->lock_name);
	return fd;
}

long long
cache_refresh_window(long long lifetime, int margin)
{
	long long window = margin, floor = cache_floor(lifetime);

	if (window > lifetime / 2)
		window = lifetime / 2;
	return window > floor ? window : floor;
}

int
cache_is_fresh(const struct cache_record *rec, const struct cache_clock *now, int margin,
	       int min_ttl)
{
	long long lifetime = rec->expires_at - rec->obtained_at;
	long long floor = cache_floor(lifetime), needed;

	if (min_ttl >= 0 && min_ttl <= lifetime)
		needed = min_ttl > floor ? min_ttl : floor;
	else
		needed = cache_refresh_window(lifetime, margin);
	return cache_record_left(rec, now) >= needed;
}

int
cache_is_usable(const struct cache_record *rec, const struct cache_clock *now)
{
	return rec->access_token != NULL &&
	       cache_record_left(rec, now) >= cache_floor(rec->expires_at - rec->obtained_at);
}

enum cache_need
cache_need(const struct cache_record *rec, const struct cache_clock *now, int margin, int min_ttl)
{
	long long lifetime = rec->expires_at - rec->obtained_at;
	long long left = cache_record_left(rec, now), floor = cache_floor(lifetime);
	long long half = cache_refresh_window(lifetime, margin) / 2;

	if (cache_is_fresh(rec, now, margin, min_ttl))
		return CACHE_FRESH;
	if (min_ttl < 0 && left >= (half > floor ? half : floor))
		return CACHE_REFRESH_SOON;
	return CACHE_REFRESH_NOW;
}

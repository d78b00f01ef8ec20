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
hex_encode(const unsigned char *raw, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * len] = '\0';
}

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
	sha256_final(&ctx, digest);
	hex_encode(digest, SHA256_DIGEST_SIZE, out);
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

static int
get_int64(struct json_object *obj, const char *name, long long *out)
{
	struct json_object *member;

	if (!json_object_object_get_ex(obj, name, &member) ||
	    !json_object_is_type(member, json_type_int))
		return -1;
	*out = (long long)json_object_get_int64(member);
	return 0;
}

int
cache_record_parse(const char *text, size_t len, const char *key, struct cache_record *rec)
{
	struct json_object *obj = strictjson_parse(text, len);
	const char *format, *record_key, *token;
	int rc = -1;

	memset(rec, 0, sizeof(*rec));
	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		goto out;
	format = strictjson_get_string(obj, "format");
	record_key = strictjson_get_string(obj, "key");
	token = strictjson_get_string(obj, "access_token");
	if (format == NULL || strcmp(format, CACHE_FORMAT) != 0 || record_key == NULL ||
	    strcmp(record_key, key) != 0 || token == NULL || strlen(token) > TOKEN_MAX_LENGTH ||
	    !token_is_b64token(token, strlen(token)) ||
	    get_int64(obj, "obtained_at", &rec->obtained_at) != 0 ||
	    get_int64(obj, "expires_at", &rec->expires_at) != 0 || rec->obtained_at <= 0 ||
	    rec->expires_at < rec->obtained_at ||
	    rec->expires_at - rec->obtained_at > TOKEN_MAX_EXPIRES_IN)
		goto out;
	rec->access_token = strdup(token);
	rc = rec->access_token != NULL ? 0 : -1;
out:
	json_object_put(obj);
	return rc;
}

char *
cache_record_format(const char *key, const struct cache_record *rec)
{
	struct json_object *obj = json_object_new_object();
	char *text;

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "format", json_object_new_string(CACHE_FORMAT));
	json_object_object_add(obj, "key", json_object_new_string(key));
	json_object_object_add(obj, "access_token", json_object_new_string(rec->access_token));
	json_object_object_add(obj, "obtained_at", json_object_new_int64(rec->obtained_at));
	json_object_object_add(obj, "expires_at", json_object_new_int64(rec->expires_at));
	text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	return text;
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
	hex_encode(raw, bytes, out);
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
	if (output_write_all(fd, text, strlen(text)) != 0 || fsync(fd) != 0) {
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
	fsync(c->dirfd); /* the rename survives a crash; a failure here loses nothing */
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

/* Compares without stopping at the first difference: how much of a token matched is
 * nobody's business. */
static int
same_token(const char *a, const char *b)
{
	size_t len = strlen(a), i;
	unsigned char diff = 0;

	if (len != strlen(b))
		return 0;
	for (i = 0; i < len; i++)
		diff |= (unsigned char)(a[i] ^ b[i]);
	return diff == 0;
}

int
cache_drop(const struct profile *p, const char *only_if, struct error *err)
{
	struct cache_record rec = { 0 };
	struct cache c;
	int lock_fd, found, rc;

	rc = cache_open(&c, p, 0, err);
	if (rc != 0)
		return rc == 1 ? 0 : -1; /* no cache directory: nothing to drop */
	lock_fd = cache_lock(&c, p->name, cache_lock_wait(p), err);
	if (lock_fd < 0) {
		cache_close(&c);
		return -1;
	}
	found = cache_read(&c, &rec, err);
	if (found < 0)
		rc = -1;
	else if (found == 0 && (only_if == NULL || same_token(rec.access_token, only_if)))
		rc = cache_remove(&c, err) == 0 ? 1 : -1;
	else
		rc = 0;
	close(lock_fd);
	cache_record_free(&rec);
	cache_close(&c);
	return rc;
}

#define BACKOFF_FORMAT "keybearer-backoff/1"

int
cache_backoff_read(int lock_fd, struct cache_backoff *b)
{
	char text[512], *newline;
	ssize_t n;

	memset(b, 0, sizeof(*b));
	n = pread(lock_fd, text, sizeof(text) - 1, 0);
	if (n < 0)
		return -1;
	text[n] = '\0';
	if (sscanf(text, BACKOFF_FORMAT " %lld %lld", &b->failed_at, &b->next_attempt) != 2) {
		memset(b, 0, sizeof(*b)); /* empty, or not ours: nothing recorded */
		return 0;
	}
	newline = strchr(text, '\n');
	if (newline != NULL)
		snprintf(b->reason, sizeof(b->reason), "%.*s", (int)strcspn(newline + 1, "\n"),
			 newline + 1);
	return 0;
}

int
cache_backoff_write(int lock_fd, const struct cache_backoff *b)
{
	char text[512];
	int len, i;

	len = snprintf(text, sizeof(text), BACKOFF_FORMAT " %lld %lld\n%s\n", b->failed_at,
		       b->next_attempt, b->reason);
	for (i = (int)strcspn(text, "\n") + 1; i < len - 1; i++) {
		if ((unsigned char)text[i] < 0x20)
			text[i] = ' '; /* the reason stays one line */
	}
	if (ftruncate(lock_fd, 0) != 0 || pwrite(lock_fd, text, (size_t)len, 0) != len)
		return -1;
	return 0;
}

void
cache_backoff_clear(int lock_fd)
{
	if (ftruncate(lock_fd, 0) != 0) {
		/* a stale record only delays the next refresh by its own deadline */
	}
}

int
cache_backoff_peek(const struct profile *p, struct cache_backoff *b)
{
	struct error err = { 0 };
	struct stat st;
	struct cache c;
	int fd, rc = -1;

	memset(b, 0, sizeof(*b));
	if (cache_open(&c, p, 0, &err) != 0)
		return 0;
	fd = openat(c.dirfd, c.lock_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid())
		rc = cache_backoff_read(fd, b);
	else
		rc = 0;
	if (fd >= 0)
		close(fd);
	cache_close(&c);
	return rc;
}

int
cache_lock_wait(const struct profile *p)
{
	int secret = p->secret_kind == SECRET_KEYRING	? CONFIG_KEYRING_PROMPT_SECONDS
		     : p->secret_kind == SECRET_COMMAND ? p->timeout
							: 0;

	/* an issuer's first mint reads its discovery document first, within its own timeout */
	int discovery = p->issuer != NULL && p->token_url == NULL ? p->timeout : 0;

	return secret + discovery + p->timeout + CACHE_LOCK_GRACE_SECONDS;
}

int
cache_lock(const struct cache *c, const char *profile_name, int timeout_seconds, struct error *err)
{
	static const struct safefile_rules lock_rules = {
		.what = "lock file",
		.refuse_symlink = 1,
		.allow_root_owner = 0,
		.forbidden = 077,
		.max_size = 4096,
		.code = KB_EXIT_IO,
	};
	long long deadline = monotonic_ms() + (long long)timeout_seconds * 1000;
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
		/* A refresh takes tens of ms: waiters notice its end within 10 ms. */
		pause.tv_sec = 0;
		pause.tv_nsec = pause_ms * 1000000L;
		nanosleep(&pause, NULL);
		pause_ms = pause_ms * 2 > 10 ? 10 : pause_ms * 2;
	}
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

int
cache_is_fresh(const struct cache_record *rec, time_t now, int margin, int min_ttl)
{
	long long left = rec->expires_at - (long long)now;
	long long lifetime = rec->expires_at - rec->obtained_at;
	long long needed;

	if (min_ttl >= 0 && min_ttl <= lifetime) {
		needed = min_ttl;
	} else {
		needed = margin;
		if (needed > lifetime / 2)
			needed = lifetime / 2;
	}
	if (needed < TOKEN_MIN_LIFETIME)
		needed = TOKEN_MIN_LIFETIME; /* never a token about to die, whatever was asked */
	return left >= needed;
}

enum cache_need
cache_need(const struct cache_record *rec, time_t now, int margin, int min_ttl)
{
	long long left = rec->expires_at - (long long)now;
	long long window = margin, lifetime = rec->expires_at - rec->obtained_at;

	if (cache_is_fresh(rec, now, margin, min_ttl))
		return CACHE_FRESH;
	if (window > lifetime / 2)
		window = lifetime / 2;
	if (min_ttl < 0 && left >= window / 2 && left >= TOKEN_MIN_LIFETIME)
		return CACHE_REFRESH_SOON;
	return CACHE_REFRESH_NOW;
}

int
cache_background_lock(const struct profile *p, time_t now)
{
	struct cache_backoff backoff;
	struct error err = { 0 };
	struct cache c;
	int fd;

	if (cache_open(&c, p, 1, &err) != 0)
		return -1;
	fd = cache_lock(&c, p->name, 0, &err); /* one try: busy means a refresh is running */
	cache_close(&c);
	if (fd >= 0 && cache_backoff_read(fd, &backoff) == 0 &&
	    (long long)now < backoff.next_attempt) {
		close(fd); /* a failed refresh is being waited out */
		fd = -1;
	}
	return fd;
}

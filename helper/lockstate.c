#include "lockstate.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safefile.h"
#include "strictjson.h"

static const char *const source_names[] = {
	[LOCKSTATE_ENDPOINT] = "endpoint", [LOCKSTATE_DISCOVERY] = "discovery",
	[LOCKSTATE_KEYRING] = "keyring",   [LOCKSTATE_SECRET_COMMAND] = "secret-command",
	[LOCKSTATE_CACHE] = "cache",	   [LOCKSTATE_ID_TOKEN] = "id-token",
};

static const char *const source_phrases[] = {
	[LOCKSTATE_ENDPOINT] = "the token endpoint",
	[LOCKSTATE_DISCOVERY] = "the issuer's discovery document",
	[LOCKSTATE_KEYRING] = "the keyring",
	[LOCKSTATE_SECRET_COMMAND] = "the secret command",
	[LOCKSTATE_CACHE] = "the token cache",
	[LOCKSTATE_ID_TOKEN] = "the CI's ID-token endpoint",
};

#define SOURCE_COUNT (sizeof(source_names) / sizeof(source_names[0]))

const char *
lockstate_source_name(enum lockstate_source source)
{
	return (size_t)source < SOURCE_COUNT ? source_phrases[source] : "the token endpoint";
}

int
lockstate_failure_is_rejection(const struct lockstate_failure *f)
{
	return f->source == LOCKSTATE_ENDPOINT &&
	       (f->code == KB_EXIT_REJECTED || f->code == KB_EXIT_PROTOCOL);
}

int
lockstate_repeat(const struct profile *p, const struct lockstate_failure *f, long long holds,
		 struct error *err)
{
	struct cache_clock now;

	cache_clock_now(&now);
	if (f->code != KB_EXIT_TRANSIENT) {
		error_debug("profile %s: the answer of %lld s ago stands (%lld s more, or until "
			    "the secret or the profile changes)",
			    p->name, now.wall - f->failed_at, holds);
		return error_set(err, f->code, "%s", f->message);
	}
	return error_set(err, KB_EXIT_TRANSIENT,
			 "%s of profile %s failed %lld s ago (%s); keybearer asks again in %lld s "
			 "— try again later",
			 lockstate_source_name(f->source), p->name, now.wall - f->failed_at,
			 f->message, holds);
}

long long
lockstate_failure_holds(const struct lockstate_failure *f, const struct cache_clock *now,
			const char *profile)
{
	long long passed;

	if (f->failed_at <= 0 || strcmp(f->profile, profile) != 0)
		return 0;
	if (now->boot_id[0] != '\0') {
		if (strcmp(now->boot_id, f->boot_id) != 0 || f->failed_boot < 0 ||
		    now->boot < f->failed_boot)
			return 0;
		passed = now->boot - f->failed_boot;
	} else {
		/* no boot clock to ask here: the wall clock, with a step back ending it */
		passed = now->wall - f->failed_at;
		if (passed < 0)
			return 0;
	}
	return passed < f->hold ? f->hold - passed : 0;
}

/* Copies a string member into a fixed field; -1 when it is absent or does not fit. */
static int
copy_member(struct json_object *obj, const char *name, char *out, size_t size)
{
	const char *value = strictjson_get_string(obj, name);

	if (value == NULL || strlen(value) >= size)
		return -1;
	memcpy(out, value, strlen(value) + 1);
	return 0;
}

static int
failure_from_json(struct json_object *obj, struct lockstate_failure *f)
{
	char source[32];
	long long code;
	size_t i;

	memset(f, 0, sizeof(*f));
	if (obj == NULL || !json_object_is_type(obj, json_type_object) ||
	    strictjson_get_int(obj, "failed_at", &f->failed_at) != 0 ||
	    strictjson_get_int(obj, "failed_boot", &f->failed_boot) != 0 ||
	    strictjson_get_int(obj, "hold", &f->hold) != 0 ||
	    strictjson_get_int(obj, "code", &code) != 0 || f->failed_at <= 0 || f->hold <= 0 ||
	    code <= 0 || code > 255 ||
	    copy_member(obj, "boot_id", f->boot_id, sizeof(f->boot_id)) ||
	    copy_member(obj, "source", source, sizeof(source)) ||
	    copy_member(obj, "profile", f->profile, sizeof(f->profile)) ||
	    copy_member(obj, "secret_mark", f->secret_mark, sizeof(f->secret_mark)) ||
	    copy_member(obj, "secret_origin", f->secret_origin, sizeof(f->secret_origin)) ||
	    copy_member(obj, "message", f->message, sizeof(f->message)))
		goto corrupt;
	f->code = (enum exit_code)code;
	for (i = 0; i < SOURCE_COUNT && strcmp(source, source_names[i]) != 0; i++)
		;
	if (i == SOURCE_COUNT)
		goto corrupt;
	f->source = (enum lockstate_source)i;
	/* status prints the message: one line of printable text, as it was written */
	for (i = 0; f->message[i] != '\0'; i++) {
		if ((unsigned char)f->message[i] < 0x20 || f->message[i] == 0x7f)
			goto corrupt;
	}
	return 0;
corrupt:
	memset(f, 0, sizeof(*f));
	return -1;
}

static struct json_object *
failure_to_json(const struct lockstate_failure *f)
{
	struct json_object *obj = json_object_new_object();

	if (obj == NULL)
		return NULL;
	json_object_object_add(obj, "failed_at", json_object_new_int64(f->failed_at));
	json_object_object_add(obj, "failed_boot", json_object_new_int64(f->failed_boot));
	json_object_object_add(obj, "boot_id", json_object_new_string(f->boot_id));
	json_object_object_add(obj, "hold", json_object_new_int64(f->hold));
	json_object_object_add(obj, "code", json_object_new_int64(f->code));
	json_object_object_add(
		obj, "source",
		json_object_new_string(
			source_names[(size_t)f->source < SOURCE_COUNT ? f->source : 0]));
	json_object_object_add(obj, "profile", json_object_new_string(f->profile));
	json_object_object_add(obj, "secret_mark", json_object_new_string(f->secret_mark));
	json_object_object_add(obj, "secret_origin", json_object_new_string(f->secret_origin));
	json_object_object_add(obj, "message", json_object_new_string(f->message));
	return obj;
}

/* The lock file's text, up to the first NUL of its zero padding; NULL when unreadable. */
static char *
read_text(int lock_fd, size_t *len)
{
	char *text = malloc(CACHE_LOCK_FILE_SIZE + 1);
	ssize_t n;

	if (text == NULL)
		return NULL;
	n = pread(lock_fd, text, CACHE_LOCK_FILE_SIZE, 0);
	if (n < 0) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = strlen(text);
	return text;
}

/* Parses the state; what is missing or not ours stays empty. */
static void
parse_state(const struct cache *c, const char *text, size_t len, struct lockstate *st,
	    int with_spare)
{
	struct json_object *obj = len > 0 ? strictjson_parse(text, len) : NULL, *member;
	const char *format, *key;

	if (obj == NULL || !json_object_is_type(obj, json_type_object))
		goto out;
	format = strictjson_get_string(obj, "format");
	key = strictjson_get_string(obj, "key");
	if (format == NULL || strcmp(format, LOCKSTATE_FORMAT) != 0 || key == NULL ||
	    strcmp(key, c->key) != 0)
		goto out;
	if (json_object_object_get_ex(obj, "failure", &member))
		failure_from_json(member, &st->failure);
	if (with_spare && json_object_object_get_ex(obj, "spare", &member) &&
	    cache_record_from_json(member, c->key, &st->spare) != 0)
		cache_record_free(&st->spare);
out:
	json_object_put(obj);
}

static int
read_state(const struct cache *c, int lock_fd, struct lockstate *st, int with_spare)
{
	size_t len = 0;
	char *text;

	memset(st, 0, sizeof(*st));
	st->spare.obtained_boot = -1;
	text = read_text(lock_fd, &len);
	if (text == NULL)
		return -1;
	parse_state(c, text, len, st, with_spare);
	/* the text may hold the spare token */
	safefile_free_secret(text, CACHE_LOCK_FILE_SIZE + 1);
	return 0;
}

int
lockstate_read(const struct cache *c, int lock_fd, struct lockstate *st)
{
	return read_state(c, lock_fd, st, 1);
}

int
lockstate_read_failure(const struct cache *c, int lock_fd, struct lockstate_failure *f)
{
	struct lockstate st;
	int rc = read_state(c, lock_fd, &st, 0);

	*f = st.failure;
	return rc;
}

int
lockstate_write(const struct cache *c, int lock_fd, const struct lockstate *st)
{
	struct json_object *obj = json_object_new_object();
	char *region = NULL;
	const char *text;
	size_t len;
	int rc = -1;

	if (obj == NULL)
		goto oom;
	json_object_object_add(obj, "format", json_object_new_string(LOCKSTATE_FORMAT));
	json_object_object_add(obj, "key", json_object_new_string(c->key));
	if (st->failure.failed_at > 0)
		json_object_object_add(obj, "failure", failure_to_json(&st->failure));
	if (st->spare.access_token != NULL)
		json_object_object_add(obj, "spare", cache_record_to_json(c->key, &st->spare));
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	len = text != NULL ? strlen(text) : 0;
	region = calloc(1, CACHE_LOCK_FILE_SIZE);
	if (text == NULL || region == NULL)
		goto oom;
	if (len >= CACHE_LOCK_FILE_SIZE) {
		errno = EFBIG; /* never cut: a state that does not fit is not written */
		goto out;
	}
	/* The whole region, zeros after the text, over the blocks the file already has. */
	memcpy(region, text, len);
	if (pwrite(lock_fd, region, CACHE_LOCK_FILE_SIZE, 0) == CACHE_LOCK_FILE_SIZE)
		rc = 0;
	else if (errno == 0)
		errno = EIO;
	goto out;
oom:
	errno = ENOMEM;
out:
	if (region != NULL)
		safefile_free_secret(region, CACHE_LOCK_FILE_SIZE);
	json_object_put(obj);
	return rc;
}

void
lockstate_free(struct lockstate *st)
{
	cache_record_free(&st->spare);
}

void
lockstate_peek(const struct profile *p, struct lockstate_failure *f)
{
	struct error err = { 0 };
	struct stat st;
	struct cache c;
	int fd;

	memset(f, 0, sizeof(*f));
	if (cache_open(&c, p, 0, &err) != 0)
		return;
	fd = openat(c.dirfd, c.lock_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
	    (st.st_mode & 077) == 0)
		lockstate_read_failure(&c, fd, f);
	if (fd >= 0)
		close(fd);
	cache_close(&c);
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
lockstate_drop(const struct profile *p, const char *only_if, struct error *err)
{
	struct cache_record rec = { 0 };
	struct lockstate st;
	struct cache c;
	int lock_fd, found, rc = 0, changed = 0;

	found = cache_open(&c, p, 0, err);
	if (found != 0)
		return found == 1 ? 0 : -1; /* no cache directory: nothing to drop */
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
	lockstate_read(&c, lock_fd, &st);
	if (st.spare.access_token != NULL &&
	    (only_if == NULL || same_token(st.spare.access_token, only_if))) {
		cache_record_free(&st.spare);
		changed = 1;
		rc = rc < 0 ? rc : 1;
	}
	if (only_if == NULL && st.failure.failed_at > 0) {
		memset(&st.failure, 0, sizeof(st.failure));
		changed = 1;
	}
	if (changed && lockstate_write(&c, lock_fd, &st) != 0 && rc >= 0)
		rc = error_set(err, KB_EXIT_IO,
			       "cannot rewrite the lock file %s/%s: %s — remove it by hand", c.dir,
			       c.lock_name, strerror(errno));
	lockstate_free(&st);
	close(lock_fd);
	cache_record_free(&rec);
	cache_close(&c);
	return rc;
}

int
lockstate_background_lock(const struct profile *p, const struct cache_clock *now)
{
	struct lockstate_failure failure;
	struct error err = { 0 };
	char fingerprint[65];
	struct cache c;
	int fd;

	if (cache_open(&c, p, 1, &err) != 0)
		return -1;
	fd = cache_lock(&c, p->name, 0, &err); /* one try: busy means a refresh is running */
	if (fd >= 0) {
		cache_profile_fingerprint(p, fingerprint);
		if (lockstate_read_failure(&c, fd, &failure) == 0 &&
		    lockstate_failure_holds(&failure, now, fingerprint) > 0) {
			close(fd); /* a failed refresh is being waited out */
			fd = -1;
		}
	}
	cache_close(&c);
	return fd;
}

/* The cache holds live bearer tokens on disk: its key decides which profile gets which
 * token, its files must stay private, and its lock keeps a burst of processes from
 * stampeding the token endpoint. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "token.h"
#include "rows.h"

#define TOKEN "abc.DEF-_~+/="

static struct profile
sample_profile(void)
{
	struct profile p = { 0 };

	p.name = "work";
	p.token_url = "https://login.example.com/token";
	p.client_id = "work-client";
	p.scope = "read write";
	p.audience = "https://api.example.com";
	p.resource = "urn:x";
	return p;
}

static int
is_lower_hex(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (strchr("0123456789abcdef", s[i]) == NULL || s[i] == '\0')
			return 0;
	}
	return s[len] == '\0';
}

/* The key names cache files on disk: changing it strands every cached token, so its
 * exact value is pinned (SHA-256 of length-prefixed fields, computed independently). */
static void
test_cache_profile_key_known_value(void **state)
{
	struct profile p = sample_profile();
	char key[65];

	(void)state;
	cache_profile_key(&p, key);
	assert_true(is_lower_hex(key, 64));
	assert_string_equal(key,
			    "bcf10b72f2621b454e88e404bf3241d272893947dd5f2221ef91e3accfbdad21");

	memset(&p, 0, sizeof(p));
	p.token_url = "https://api.aspose.cloud/connect/token";
	p.client_id = "my-client";
	cache_profile_key(&p, key);
	assert_string_equal(key,
			    "47240dff35596c2b0805ae7ac37d19b1c80b3b8934cdc32e809d2d7f02960c19");
}

static void
test_cache_profile_key_is_stable(void **state)
{
	struct profile p = sample_profile();
	char first[65], second[65];

	(void)state;
	cache_profile_key(&p, first);
	cache_profile_key(&p, second);
	assert_string_equal(first, second);
}

/* Any field that changes what the token endpoint hands out must change the key, or one
 * profile would be served another's token. */
static void
test_cache_profile_key_differs_per_field(void **state)
{
	static const struct {
		const char *name;
		size_t offset;
	} fields[] = {
		{ "token_url", offsetof(struct profile, token_url) },
		{ "client_id", offsetof(struct profile, client_id) },
		{ "scope", offsetof(struct profile, scope) },
		{ "audience", offsetof(struct profile, audience) },
		{ "resource", offsetof(struct profile, resource) },
	};
	struct profile base = sample_profile();
	char base_key[65];
	size_t i;
	int failures = 0;

	(void)state;
	cache_profile_key(&base, base_key);
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		struct profile p = base;
		char **field = (char **)((char *)&p + fields[i].offset);
		char key[65];

		*field = "changed";
		cache_profile_key(&p, key);
		if (strcmp(key, base_key) == 0) {
			print_error("changing %s leaves the key unchanged\n", fields[i].name);
			failures++;
		}
		*field = NULL;
		cache_profile_key(&p, key);
		if (strcmp(key, base_key) == 0) {
			print_error("dropping %s leaves the key unchanged\n", fields[i].name);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/* The secret, its source and the transport settings do not change which token the
 * endpoint hands out: rotating the secret must not orphan the cache. */
static void
test_cache_profile_key_ignores_other_fields(void **state)
{
	struct profile base = sample_profile(), p = sample_profile();
	char base_key[65], key[65];

	(void)state;
	cache_profile_key(&base, base_key);
	p.name = "other-name";
	p.secret_kind = SECRET_FILE;
	p.secret_arg = "/run/secrets/x";
	p.ca_file = "/etc/ca.pem";
	p.timeout = 5;
	p.refresh_margin = 1;
	p.auth_method = AUTH_CLIENT_SECRET_BASIC;
	cache_profile_key(&p, key);
	assert_string_equal(key, base_key);
}

static void
test_cache_profile_key_field_boundaries(void **state)
{
	struct profile a = { 0 }, b = { 0 };
	char key_a[65], key_b[65];

	(void)state;
	a.token_url = "ab";
	a.client_id = "c";
	b.token_url = "a";
	b.client_id = "bc";
	cache_profile_key(&a, key_a);
	cache_profile_key(&b, key_b);
	assert_string_not_equal(key_a, key_b);

	/* The same text moved into the neighbouring field. */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	a.scope = "x";
	b.audience = "x";
	cache_profile_key(&a, key_a);
	cache_profile_key(&b, key_b);
	assert_string_not_equal(key_a, key_b);
}

#define KEY "bcf10b72f2621b454e88e404bf3241d272893947dd5f2221ef91e3accfbdad21"

static void
test_cache_record_format_exact(void **state)
{
	struct cache_record rec = { TOKEN, 1700000000, 1700003600, -1, "" };
	char *text = cache_record_format(KEY, &rec);

	(void)state;
	assert_string_equal(text, "{\"format\":\"keybearer-cache/1\",\"key\":\"" KEY
				  "\",\"access_token\":\"" TOKEN
				  "\",\"obtained_at\":1700000000,\"expires_at\":1700003600}");
	free(text);
}

static void
test_cache_record_round_trip(void **state)
{
	struct cache_record rec = { TOKEN, 1700000000, 2015360000LL, -1, "" }, back;
	char *text = cache_record_format(KEY, &rec);

	(void)state;
	assert_non_null(text);
	assert_int_equal(cache_record_parse(text, strlen(text), KEY, &back), 0);
	assert_string_equal(back.access_token, TOKEN);
	assert_int_equal(back.obtained_at, 1700000000);
	assert_int_equal(back.expires_at, 2015360000LL);
	cache_record_free(&back);
	assert_null(back.access_token);
	free(text);
}

#define RECORD(format, key, token, obtained, expires)                                              \
	"{\"format\":" format ",\"key\":" key ",\"access_token\":" token                           \
	",\"obtained_at\":" obtained ",\"expires_at\":" expires "}"
#define GOOD_FORMAT "\"keybearer-cache/1\""
#define GOOD_KEY    "\"" KEY "\""
#define GOOD_TOKEN  "\"" TOKEN "\""

struct parse_case {
	const char *name;
	const char *text;
	int rc;
};

static const struct parse_case parse_cases[] = {
	{ "valid", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "2"), 0 },
	{ "valid with whitespace", " " RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "2") "\n",
	  0 },
	{ "another profile's key",
	  RECORD(GOOD_FORMAT,
		 "\"0000000000000000000000000000000000000000000000000000000000000000\"", GOOD_TOKEN,
		 "1", "2"),
	  -1 },
	{ "key prefix only",
	  RECORD(GOOD_FORMAT, "\"bcf10b72f2621b454e88e404bf3241d2\"", GOOD_TOKEN, "1", "2"), -1 },
	{ "other format", RECORD("\"keybearer-cache/2\"", GOOD_KEY, GOOD_TOKEN, "1", "2"), -1 },
	{ "format not a string", RECORD("1", GOOD_KEY, GOOD_TOKEN, "1", "2"), -1 },
	{ "token with space", RECORD(GOOD_FORMAT, GOOD_KEY, "\"a b\"", "1", "2"), -1 },
	{ "token with CR LF", RECORD(GOOD_FORMAT, GOOD_KEY, "\"ab\\r\\n\"", "1", "2"), -1 },
	{ "token empty", RECORD(GOOD_FORMAT, GOOD_KEY, "\"\"", "1", "2"), -1 },
	{ "token a number", RECORD(GOOD_FORMAT, GOOD_KEY, "5", "1", "2"), -1 },
	{ "obtained_at string", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "\"1\"", "2"), -1 },
	{ "expires_at fractional", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "2.5"), -1 },
	{ "expires_at null", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "null"), -1 },
	{ "missing format",
	  "{\"key\":" GOOD_KEY ",\"access_token\":" GOOD_TOKEN
	  ",\"obtained_at\":1,\"expires_at\":2}",
	  -1 },
	{ "missing key",
	  "{\"format\":" GOOD_FORMAT ",\"access_token\":" GOOD_TOKEN
	  ",\"obtained_at\":1,\"expires_at\":2}",
	  -1 },
	{ "missing access_token",
	  "{\"format\":" GOOD_FORMAT ",\"key\":" GOOD_KEY ",\"obtained_at\":1,\"expires_at\":2}",
	  -1 },
	{ "missing obtained_at",
	  "{\"format\":" GOOD_FORMAT ",\"key\":" GOOD_KEY ",\"access_token\":" GOOD_TOKEN
	  ",\"expires_at\":2}",
	  -1 },
	{ "missing expires_at",
	  "{\"format\":" GOOD_FORMAT ",\"key\":" GOOD_KEY ",\"access_token\":" GOOD_TOKEN
	  ",\"obtained_at\":1}",
	  -1 },
	/* Times no token of ours can have: overflow bait for the freshness maths. */
	{ "expires before obtained", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "5", "4"), -1 },
	{ "obtained at 0", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "0", "4"), -1 },
	{ "obtained negative",
	  RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "-9223372036854775807", "4"), -1 },
	{ "lifetime over ten years", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "315360002"),
	  -1 },
	{ "lifetime of ten years", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "315360001"), 0 },
	{ "array", "[" RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "2") "]", -1 },
	{ "trailing garbage", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "2") "x", -1 },
	{ "truncated", "{\"format\":" GOOD_FORMAT ",\"key\":" GOOD_KEY, -1 },
	{ "empty", "", -1 },
};

static void
test_cache_record_parse_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct cache_record rec;
		int rc = cache_record_parse(c->text, strlen(c->text), KEY, &rec);

		failures += mismatch_int(c->name, "rc", rc, c->rc);
		if (rc != 0)
			failures += mismatch_int(c->name, "token NULL on failure",
						 rec.access_token == NULL, 1);
		cache_record_free(&rec);
	}
	assert_int_equal(failures, 0);
}

/* A cache file is read back as untrusted text: the token limit holds there too. */
static void
test_cache_record_parse_token_length_limit(void **state)
{
	static const struct {
		size_t length;
		int rc;
	} lengths[] = {
		{ TOKEN_MAX_LENGTH, 0 },
		{ TOKEN_MAX_LENGTH + 1, -1 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		struct cache_record rec = { 0 }, back;
		char *text;

		rec.access_token = malloc(lengths[i].length + 1);
		assert_non_null(rec.access_token);
		memset(rec.access_token, 'a', lengths[i].length);
		rec.access_token[lengths[i].length] = '\0';
		rec.obtained_at = 1;
		rec.expires_at = 2;
		text = cache_record_format(KEY, &rec);
		assert_non_null(text);
		assert_int_equal(cache_record_parse(text, strlen(text), KEY, &back), lengths[i].rc);
		cache_record_free(&back);
		cache_record_free(&rec);
		free(text);
	}
}

#define T0   1000000LL
#define B0   5000LL /* the boot clock when the wall clock read T0 */
#define BOOT "0b5d1e39-7c4a-4f0e-9a53-3d2e6f1a8b7c"

/* A record received at obtained_at by a clock that has not stepped since. */
static struct cache_record
record_at(long long obtained_at, long long expires_at)
{
	struct cache_record rec = { TOKEN, obtained_at, expires_at, B0 + (obtained_at - T0), BOOT };

	return rec;
}

static struct cache_clock
clock_at(long long wall, long long boot, const char *boot_id)
{
	struct cache_clock now = { wall, boot, "" };

	snprintf(now.boot_id, sizeof(now.boot_id), "%s", boot_id);
	return now;
}

/* The clock of a machine on which the wall clock has not stepped since T0. */
static struct cache_clock
steady_clock(long long wall)
{
	return clock_at(wall, B0 + (wall - T0), BOOT);
}

struct fresh_case {
	const char *name;
	long long obtained_at, expires_at, now;
	int margin, min_ttl;
	int fresh;
};

static const struct fresh_case fresh_cases[] = {
	{ "new token", T0, T0 + 3600, T0, 300, -1, 1 },
	/* Refreshed when less than the margin remains: exactly the margin is still fine. */
	{ "margin left", T0, T0 + 3600, T0 + 3300, 300, -1, 1 },
	{ "margin minus 1 left", T0, T0 + 3600, T0 + 3301, 300, -1, 0 },
	/* A 400 s token with a 300 s margin would be stale after 100 s: cap at half its life. */
	{ "short life, above half", T0, T0 + 400, T0 + 200, 300, -1, 1 },
	{ "short life, below half", T0, T0 + 400, T0 + 201, 300, -1, 0 },
	/* The window scales down with short lives: half of a 20 s or 15 s token. */
	{ "20 s life, 10 s left", T0, T0 + 20, T0 + 10, 300, -1, 1 },
	{ "20 s life, 9 s left", T0, T0 + 20, T0 + 11, 300, -1, 0 },
	{ "15 s life, 7 s left", T0, T0 + 15, T0 + 8, 300, -1, 1 },
	{ "15 s life, 6 s left", T0, T0 + 15, T0 + 9, 300, -1, 0 },
	/* Shorter than any endpoint's token may live: not ours, never fresh. */
	{ "one-second life", T0, T0 + 1, T0, 300, -1, 0 },
	{ "9 s life", T0, T0 + 9, T0, 300, -1, 0 },
	/* The 10 s floor of a long token holds whatever the margin asks. */
	{ "margin 0, 10 s left", T0, T0 + 3600, T0 + 3590, 0, -1, 1 },
	{ "margin 0, 9 s left", T0, T0 + 3600, T0 + 3591, 0, -1, 0 },
	{ "margin 3, 4 s left", T0, T0 + 3600, T0 + 3596, 3, -1, 0 },
	{ "margin 0, 1 s left", T0, T0 + 3600, T0 + 3599, 0, -1, 0 },
	{ "margin 0, 0 left", T0, T0 + 3600, T0 + 3600, 0, -1, 0 },
	{ "expired", T0, T0 + 3600, T0 + 3700, 0, -1, 0 },
	{ "expired at obtain", T0, T0, T0, 300, -1, 0 },
	/* --min-ttl replaces the margin, in both directions. */
	{ "min_ttl below margin", T0, T0 + 3600, T0 + 3550, 300, 10, 1 },
	{ "min_ttl above margin", T0, T0 + 3600, T0 + 1000, 300, 3000, 0 },
	{ "min_ttl exactly left", T0, T0 + 3600, T0 + 600, 300, 3000, 1 },
	{ "min_ttl beyond half life", T0, T0 + 400, T0 + 300, 300, 100, 1 },
	/* No token from this endpoint can meet it: the margin rule, not a mint per call. */
	{ "min_ttl beyond the lifetime, fresh", T0, T0 + 3600, T0 + 100, 300, 7200, 1 },
	{ "min_ttl beyond the lifetime, due", T0, T0 + 3600, T0 + 3400, 300, 7200, 0 },
	{ "min_ttl 0, 10 s left", T0, T0 + 3600, T0 + 3590, 300, 0, 1 },
	{ "min_ttl 2, 4 s left", T0, T0 + 3600, T0 + 3596, 300, 2, 0 },
	{ "min_ttl 0, 1 s left", T0, T0 + 3600, T0 + 3599, 300, 0, 0 },
	{ "min_ttl 0, 0 left", T0, T0 + 3600, T0 + 3600, 300, 0, 0 },
	{ "min_ttl 0, expired", T0, T0 + 3600, T0 + 4000, 300, 0, 0 },
};

static void
test_cache_is_fresh_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(fresh_cases) / sizeof(fresh_cases[0]); i++) {
		const struct fresh_case *c = &fresh_cases[i];
		struct cache_record rec = record_at(c->obtained_at, c->expires_at);
		struct cache_clock now = steady_clock(c->now);

		failures += mismatch_int(c->name, "fresh",
					 cache_is_fresh(&rec, &now, c->margin, c->min_ttl) != 0,
					 c->fresh);
	}
	assert_int_equal(failures, 0);
}

/* What a token has left after the wall clock stepped: never more than the boot's clock,
 * which no step moves, says has really passed. */
struct left_case {
	const char *name;
	long long obtained_at, expires_at, obtained_boot;
	const char *record_boot;
	long long wall, boot;
	const char *now_boot;
	long long left;
};

static const struct left_case left_cases[] = {
	{ "no step", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 + 100, BOOT, 3500 },
	/* whole seconds of two clocks: a second apart without any step, the wall clock's */
	{ "a second apart", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 + 101, BOOT, 3500 },
	{ "two seconds apart", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 + 102, BOOT, 3498 },
	/* stepped back an hour after receipt: the record is from the future */
	{ "from the future", T0, T0 + 3600, B0, BOOT, T0 - 3500, B0 + 100, BOOT, 0 },
	{ "a second in the future", T0, T0 + 3600, B0, BOOT, T0 - 1, B0 + 100, BOOT, 0 },
	/* stepped back, but not past the receipt: 3700 s have really passed, the wall clock
	 * says 304 — the token is dead, though the wall clock gives it 4 min 56 s */
	{ "stepped back, dead", T0, T0 + 3600, B0, BOOT, T0 + 304, B0 + 3700, BOOT, 0 },
	{ "stepped back, alive", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 + 3000, BOOT, 600 },
	/* stepped forward: the wall clock says less, and is believed */
	{ "stepped forward", T0, T0 + 3600, B0, BOOT, T0 + 3000, B0 + 100, BOOT, 600 },
	{ "stepped far forward", T0, T0 + 3600, B0, BOOT, T0 + 7200, B0 + 100, BOOT, 0 },
	/* another boot: how long ago nobody can say */
	{ "another boot", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 + 100,
	  "11111111-2222-3333-4444-555555555555", 0 },
	{ "a record without its boot", T0, T0 + 3600, -1, "", T0 + 100, B0 + 100, BOOT, 0 },
	{ "boot clock behind the record", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 - 1, BOOT, 0 },
	/* no boot id anywhere (no /proc): the wall clock alone, the future still refused */
	{ "no boot clock anywhere", T0, T0 + 3600, -1, "", T0 + 100, -1, "", 3500 },
	{ "no boot clock, from the future", T0, T0 + 3600, -1, "", T0 - 10, -1, "", 0 },
	/* this boot's id unreadable here (no /proc): the record's boot cannot be compared */
	{ "no boot id here", T0, T0 + 3600, B0, BOOT, T0 + 100, B0 + 100, "", 3500 },
	{ "expired", T0, T0 + 3600, B0, BOOT, T0 + 3700, B0 + 3700, BOOT, 0 },
};

static void
test_cache_record_left_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(left_cases) / sizeof(left_cases[0]); i++) {
		const struct left_case *c = &left_cases[i];
		struct cache_record rec = { TOKEN, c->obtained_at, c->expires_at, c->obtained_boot,
					    "" };
		struct cache_clock now = clock_at(c->wall, c->boot, c->now_boot);
		snprintf(rec.boot_id, sizeof(rec.boot_id), "%s", c->record_boot);
		failures += mismatch_int(c->name, "left", cache_record_left(&rec, &now), c->left);
		failures += mismatch_int(c->name, "expiry", cache_record_expiry(&rec, &now),
					 c->wall + c->left);
		if (c->left == 0)
			failures += mismatch_int(c->name, "usable", cache_is_usable(&rec, &now), 0);
	}
	assert_int_equal(failures, 0);
}

/* Refresh windows scale with the lifetime: even a 20 s token has a background half. */
struct need_case {
	const char *name;
	long long lifetime, left;
	int margin, min_ttl;
	enum cache_need need;
};

static const struct need_case need_cases[] = {
	{ "hour, fresh", 3600, 301, 300, -1, CACHE_FRESH },
	{ "hour, window begins", 3600, 299, 300, -1, CACHE_REFRESH_SOON },
	{ "hour, half the window", 3600, 150, 300, -1, CACHE_REFRESH_SOON },
	{ "hour, below half", 3600, 149, 300, -1, CACHE_REFRESH_NOW },
	{ "20 s, fresh", 20, 10, 300, -1, CACHE_FRESH },
	{ "20 s, window begins", 20, 9, 300, -1, CACHE_REFRESH_SOON },
	{ "20 s, at the floor", 20, 5, 300, -1, CACHE_REFRESH_SOON },
	{ "20 s, below the floor", 20, 4, 300, -1, CACHE_REFRESH_NOW },
	{ "30 s, window", 30, 14, 300, -1, CACHE_REFRESH_SOON },
	{ "30 s, floor", 30, 7, 300, -1, CACHE_REFRESH_SOON },
	{ "30 s, below", 30, 6, 300, -1, CACHE_REFRESH_NOW },
	{ "40 s, floor 10", 40, 10, 300, -1, CACHE_REFRESH_SOON },
	{ "40 s, below 10", 40, 9, 300, -1, CACHE_REFRESH_NOW },
	{ "10 s token", 10, 5, 300, -1, CACHE_FRESH },
	{ "10 s token, 2 s left", 10, 2, 300, -1, CACHE_REFRESH_SOON },
	{ "10 s token, 1 s left", 10, 1, 300, -1, CACHE_REFRESH_NOW },
	/* margin 0: refresh as late as the floor allows, and then wait */
	{ "margin 0, floor", 3600, 10, 0, -1, CACHE_FRESH },
	{ "margin 0, below", 3600, 9, 0, -1, CACHE_REFRESH_NOW },
	/* a caller's own --min-ttl never waits in the background */
	{ "min_ttl unmet", 3600, 200, 300, 250, CACHE_REFRESH_NOW },
	{ "min_ttl met", 3600, 250, 300, 250, CACHE_FRESH },
};

static void
test_cache_need_table(void **state)
{
	static const char *const names[] = { "fresh", "soon", "now" };
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(need_cases) / sizeof(need_cases[0]); i++) {
		const struct need_case *c = &need_cases[i];
		struct cache_record rec = record_at(T0, T0 + c->lifetime);
		struct cache_clock now = steady_clock(T0 + c->lifetime - c->left);
		failures += mismatch_str(c->name, "need",
					 names[cache_need(&rec, &now, c->margin, c->min_ttl)],
					 names[c->need]);
	}
	assert_int_equal(failures, 0);
}

/* The file system tests run in a private temporary XDG_RUNTIME_DIR. */
static const char *const cache_variables[] = { "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "HOME" };
static char *saved_variables[3];

struct sandbox {
	char root[256];
	struct profile profile;
	struct cache cache;
};

static int
save_environment(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		const char *value = getenv(cache_variables[i]);
		saved_variables[i] = value != NULL ? strdup(value) : NULL;
	}
	return 0;
}

static int
restore_environment(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		if (saved_variables[i] != NULL)
			setenv(cache_variables[i], saved_variables[i], 1);
		else
			unsetenv(cache_variables[i]);
		free(saved_variables[i]);
		saved_variables[i] = NULL;
	}
	return 0;
}

static int
sandbox_setup(void **state)
{
	struct sandbox *sb = calloc(1, sizeof(*sb));
	const char *tmp = getenv("TMPDIR");

	if (sb == NULL)
		return -1;
	snprintf(sb->root, sizeof(sb->root), "%s/keybearer-cache-test.XXXXXX",
		 tmp != NULL && *tmp == '/' ? tmp : "/tmp");
	if (mkdtemp(sb->root) == NULL) {
		free(sb);
		return -1;
	}
	setenv("XDG_RUNTIME_DIR", sb->root, 1);
	unsetenv("XDG_CACHE_HOME");
	sb->profile = sample_profile();
	sb->cache.dirfd = -1;
	*state = sb;
	return 0;
}

static int
sandbox_teardown(void **state)
{
	struct sandbox *sb = *state;
	size_t i;

	cache_close(&sb->cache);
	remove_tree(sb->root);
	free(sb);
	for (i = 0; i < 3; i++) {
		if (saved_variables[i] != NULL)
			setenv(cache_variables[i], saved_variables[i], 1);
		else
			unsetenv(cache_variables[i]);
	}
	return 0;
}

static void
sandbox_path(const struct sandbox *sb, const char *name, char *out, size_t size)
{
	assert_true((size_t)snprintf(out, size, "%s/keybearer/%s", sb->root, name) < size);
}

static void
write_bytes(const char *path, const char *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	/* fchmod, because open's mode is filtered through the umask. */
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	write_bytes(path, text, strlen(text), mode);
}

/* The names in the cache directory, comma-separated and sorted. */
static void
list_dir(const char *dir, char *out, size_t size)
{
	struct dirent **entries;
	int n, i;
	size_t used = 0;

	out[0] = '\0';
	n = scandir(dir, &entries, NULL, alphasort);
	assert_true(n >= 0);
	for (i = 0; i < n; i++) {
		if (strcmp(entries[i]->d_name, ".") != 0 && strcmp(entries[i]->d_name, "..") != 0)
			used += (size_t)snprintf(out + used, size - used, "%s%s", used ? "," : "",
						 entries[i]->d_name);
		free(entries[i]);
	}
	free(entries);
	assert_true(used < size);
}

static void
test_cache_open_creates_private_dir(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char expected_dir[300], expected_file[48];
	struct stat st;

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	assert_int_equal(err.code, KB_EXIT_OK);
	snprintf(expected_dir, sizeof(expected_dir), "%s/keybearer", sb->root);
	assert_string_equal(sb->cache.dir, expected_dir);
	assert_string_equal(sb->cache.key, KEY);
	snprintf(expected_file, sizeof(expected_file), "%.32s.json", KEY);
	assert_string_equal(sb->cache.file_name, expected_file);
	snprintf(expected_file, sizeof(expected_file), "%.32s.lock", KEY);
	assert_string_equal(sb->cache.lock_name, expected_file);
	assert_true(sb->cache.dirfd >= 0);

	assert_int_equal(stat(expected_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_cache_open_without_create_reports_absence(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char dir[300];

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 0, &err), 1);
	assert_int_equal(err.code, KB_EXIT_OK);
	snprintf(dir, sizeof(dir), "%s/keybearer", sb->root);
	assert_int_equal(access(dir, F_OK), -1);
}

/* Without XDG_RUNTIME_DIR the cache goes under XDG_CACHE_HOME, made private if new. */
static void
test_cache_open_falls_back_to_cache_home(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char cache_home[300], dir[320];
	struct stat st;

	unsetenv("XDG_RUNTIME_DIR");
	snprintf(cache_home, sizeof(cache_home), "%s/cache-home", sb->root);
	setenv("XDG_CACHE_HOME", cache_home, 1);
	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	snprintf(dir, sizeof(dir), "%s/keybearer", cache_home);
	assert_string_equal(sb->cache.dir, dir);
	assert_int_equal(stat(cache_home, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
}

static void
test_cache_open_refuses_group_readable_dir(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/keybearer", sb->root);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_non_null(strstr(err.message, "is accessible to group or others (mode 0755)"));
	assert_non_null(strstr(err.message, "chmod 700"));
	assert_int_equal(sb->cache.dirfd, -1);
}

static void
test_cache_open_refuses_symlinked_dir(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char dir[300], elsewhere[300];

	snprintf(dir, sizeof(dir), "%s/keybearer", sb->root);
	snprintf(elsewhere, sizeof(elsewhere), "%s/elsewhere", sb->root);
	assert_int_equal(mkdir(elsewhere, 0700), 0);
	assert_int_equal(symlink(elsewhere, dir), 0);
	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_non_null(strstr(err.message, "is a symbolic link or not a directory"));
}

static void
test_cache_write_read_round_trip(void **state)
{
	struct sandbox *sb = *state;
	struct cache_record first = { TOKEN, 1700000000, 1700003600, -1, "" };
	struct cache_record second = { "second-token", 1700000100, 1700007300, -1, "" };
	struct cache_record back;
	struct error err = { 0 };
	char path[400], names[256];
	struct stat st;

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	assert_int_equal(cache_write(&sb->cache, &first, &err), 0);
	sandbox_path(sb, sb->cache.file_name, path, sizeof(path));
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	/* The temp file was renamed, not left behind. */
	list_dir(sb->cache.dir, names, sizeof(names));
	assert_string_equal(names, sb->cache.file_name);

	assert_int_equal(cache_read(&sb->cache, &back, &err), 0);
	assert_string_equal(back.access_token, TOKEN);
	assert_int_equal(back.obtained_at, 1700000000);
	assert_int_equal(back.expires_at, 1700003600);
	cache_record_free(&back);

	assert_int_equal(cache_write(&sb->cache, &second, &err), 0);
	assert_int_equal(cache_read(&sb->cache, &back, &err), 0);
	assert_string_equal(back.access_token, "second-token");
	assert_int_equal(back.expires_at, 1700007300);
	cache_record_free(&back);
	list_dir(sb->cache.dir, names, sizeof(names));
	assert_string_equal(names, sb->cache.file_name);
	assert_int_equal(err.code, KB_EXIT_OK);
}

static void
test_cache_remove(void **state)
{
	struct sandbox *sb = *state;
	struct cache_record rec = { TOKEN, 1700000000, 1700003600, -1, "" }, back;
	struct error err = { 0 };
	char names[256];

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	assert_int_equal(cache_write(&sb->cache, &rec, &err), 0);
	assert_int_equal(cache_remove(&sb->cache, &err), 0);
	list_dir(sb->cache.dir, names, sizeof(names));
	assert_string_equal(names, "");
	assert_int_equal(cache_read(&sb->cache, &back, &err), 1);
	/* Removing what is already gone is fine. */
	assert_int_equal(cache_remove(&sb->cache, &err), 0);
	assert_int_equal(err.code, KB_EXIT_OK);
}

/* Anything unreadable in a private file is a miss: the caller fetches a new token. The
 * writer does not fsync, so what a crash leaves (an empty file, zeros where the data was
 * not yet written back) must be a miss too. */
static void
test_cache_read_miss_table(void **state)
{
	static const struct {
		const char *name, *content;
		size_t zeros; /* NUL bytes after content */
	} misses[] = {
		{ "not JSON", "garbage\n", 0 },
		{ "empty", "", 0 },
		{ "truncated", "{\"format\":\"keybearer-cache/1\",\"key\":\"" KEY "\",\"acc", 0 },
		{ "another profile's record",
		  RECORD(GOOD_FORMAT,
			 "\"0000000000000000000000000000000000000000000000000000000000000000\"",
			 GOOD_TOKEN, "1", "2"),
		  0 },
		{ "bad token", RECORD(GOOD_FORMAT, GOOD_KEY, "\"a b\"", "1", "2"), 0 },
		{ "zero-filled", "", 536 },
		{ "a record's head, then zeros", "{\"format\":\"keybearer-cache/1\",\"key\":\"" KEY,
		  400 },
		{ "a whole record, then zeros", RECORD(GOOD_FORMAT, GOOD_KEY, GOOD_TOKEN, "1", "2"),
		  64 },
	};
	char data[1024];
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char path[400];
	size_t i;
	int failures = 0;

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	sandbox_path(sb, sb->cache.file_name, path, sizeof(path));
	for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		struct cache_record rec;

		size_t len = strlen(misses[i].content);

		assert_true(len + misses[i].zeros <= sizeof(data));
		memcpy(data, misses[i].content, len);
		memset(data + len, 0, misses[i].zeros);
		write_bytes(path, data, len + misses[i].zeros, 0600);
		failures += mismatch_int(misses[i].name, "cache_read",
					 cache_read(&sb->cache, &rec, &err), 1);
		failures += mismatch_int(misses[i].name, "exit code", err.code, KB_EXIT_OK);
		cache_record_free(&rec);
	}
	assert_int_equal(failures, 0);
}

/* A symbolic link could point the cache at a file another user controls. */
static void
test_cache_read_refuses_symlink(void **state)
{
	struct sandbox *sb = *state;
	struct cache_record rec = { TOKEN, 1700000000, 1700003600, -1, "" }, back;
	struct error err = { 0 };
	char path[400], target[300], *text;

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	snprintf(target, sizeof(target), "%s/planted.json", sb->root);
	text = cache_record_format(KEY, &rec);
	write_file(target, text, 0600);
	free(text);
	sandbox_path(sb, sb->cache.file_name, path, sizeof(path));
	assert_int_equal(symlink(target, path), 0);

	assert_int_equal(cache_read(&sb->cache, &back, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_non_null(strstr(err.message, "is a symbolic link"));
	assert_null(back.access_token);
}

static void
test_cache_read_refuses_readable_file(void **state)
{
	struct sandbox *sb = *state;
	struct cache_record rec = { TOKEN, 1700000000, 1700003600, -1, "" }, back;
	struct error err = { 0 };
	char path[400], *text;

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	sandbox_path(sb, sb->cache.file_name, path, sizeof(path));
	text = cache_record_format(KEY, &rec);
	write_file(path, text, 0644);
	free(text);

	assert_int_equal(cache_read(&sb->cache, &back, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_non_null(strstr(err.message, "(mode 0644) — run chmod 0600"));
	assert_null(back.access_token);
}

/* The hot path's read-only look: no directory yet is a miss, and it never creates one. */
static void
test_cache_lookup(void **state)
{
	struct sandbox *sb = *state;
	struct cache_record rec = { TOKEN, 1700000000, 1700003600, -1, "" }, back;
	struct error err = { 0 };
	char dir[300];

	snprintf(dir, sizeof(dir), "%s/keybearer", sb->root);
	assert_int_equal(cache_lookup(&sb->profile, &back, &err), 1);
	assert_null(back.access_token);
	assert_int_equal(access(dir, F_OK), -1);

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	assert_int_equal(cache_lookup(&sb->profile, &back, &err), 1);
	assert_int_equal(cache_write(&sb->cache, &rec, &err), 0);
	assert_int_equal(cache_lookup(&sb->profile, &back, &err), 0);
	assert_string_equal(back.access_token, TOKEN);
	assert_int_equal(back.expires_at, 1700003600);
	cache_record_free(&back);
	assert_int_equal(err.code, KB_EXIT_OK);

	assert_int_equal(chmod(dir, 0750), 0);
	assert_int_equal(cache_lookup(&sb->profile, &back, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
}

static double
seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* flock locks belong to the open file description: two cache_lock calls from this one
 * process conflict just as two processes would. */
static void
test_cache_lock_excludes_second_holder(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	struct timespec start;
	char path[400];
	struct stat st;
	double waited;
	int first, second, third;

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	first = cache_lock(&sb->cache, "work", 1, &err);
	assert_true(first >= 0);
	sandbox_path(sb, sb->cache.lock_name, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);

	clock_gettime(CLOCK_MONOTONIC, &start);
	second = cache_lock(&sb->cache, "work", 1, &err);
	waited = seconds_since(&start);
	assert_int_equal(second, -1);
	assert_int_equal(err.code, KB_EXIT_TRANSIENT);
	assert_non_null(strstr(err.message, "another keybearer has been refreshing profile work "
					    "for more than 1 s"));
	print_message("second lock gave up after %.3f s\n", waited);
	assert_true(waited >= 0.95);
	assert_true(waited < 1.5);

	/* Closing the holder's descriptor releases the lock at once. */
	close(first);
	memset(&err, 0, sizeof(err));
	clock_gettime(CLOCK_MONOTONIC, &start);
	third = cache_lock(&sb->cache, "work", 1, &err);
	assert_true(third >= 0);
	assert_true(seconds_since(&start) < 0.5);
	close(third);
}

static void
test_cache_lock_refuses_readable_lock_file(void **state)
{
	struct sandbox *sb = *state;
	struct error err = { 0 };
	char path[400];

	assert_int_equal(cache_open(&sb->cache, &sb->profile, 1, &err), 0);
	sandbox_path(sb, sb->cache.lock_name, path, sizeof(path));
	write_file(path, "", 0644);
	assert_int_equal(cache_lock(&sb->cache, "work", 1, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_non_null(strstr(err.message, "(mode 0644)"));
}

/* key-based client authentication: whatever changes how the client proves itself (the
 * key's source, the algorithm, the kid, the audience, the method) changes the profile's
 * digest, so a rejection recorded under the old settings no longer holds. */
enum key_setting { SET_METHOD, SET_KIND, SET_PATH, SET_ALG, SET_KID, SET_AUDIENCE };

static void
key_profile(struct profile *p)
{
	memset(p, 0, sizeof(*p));
	p->name = "k";
	p->token_url = "https://login.example/token";
	p->client_id = "c";
	p->auth_method = AUTH_PRIVATE_KEY_JWT;
	p->private_key_kind = SECRET_FILE;
	p->private_key_arg = "/keys/a.pem";
	p->signing_alg = "RS256";
	p->key_id = "k1";
}

static void
test_cache_profile_fingerprint_key_settings(void **state)
{
	static const struct {
		const char *name;
		enum key_setting what;
		const char *value;
	} rows[] = {
		{ "method client_secret_jwt", SET_METHOD, NULL },
		{ "key from the keyring", SET_KIND, NULL },
		{ "another key file", SET_PATH, "/keys/b.pem" },
		{ "PS256", SET_ALG, "PS256" },
		{ "the default alg", SET_ALG, NULL },
		{ "another kid", SET_KID, "k2" },
		{ "the thumbprint as kid", SET_KID, NULL },
		{ "an audience", SET_AUDIENCE, "https://login.example/" },
	};
	char base[65], changed[65], again[65];
	struct profile p;
	size_t i;
	int failures = 0;

	(void)state;
	key_profile(&p);
	cache_profile_fingerprint(&p, base);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		key_profile(&p);
		switch (rows[i].what) {
		case SET_METHOD:
			p.auth_method = AUTH_CLIENT_SECRET_JWT;
			break;
		case SET_KIND:
			p.private_key_kind = SECRET_KEYRING;
			p.private_key_arg = NULL;
			break;
		case SET_PATH:
			p.private_key_arg = (char *)rows[i].value;
			break;
		case SET_ALG:
			p.signing_alg = (char *)rows[i].value;
			break;
		case SET_KID:
			p.key_id = (char *)rows[i].value;
			break;
		case SET_AUDIENCE:
			p.assertion_audience = (char *)rows[i].value;
			break;
		}
		cache_profile_fingerprint(&p, changed);
		if (strcmp(changed, base) == 0) {
			print_error("%s: the profile digest did not change\n", rows[i].name);
			failures++;
		}
		cache_profile_fingerprint(&p, again);
		failures += mismatch_str(rows[i].name, "stable", again, changed);
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cache_profile_key_known_value),
		cmocka_unit_test(test_cache_profile_fingerprint_key_settings),
		cmocka_unit_test(test_cache_profile_key_is_stable),
		cmocka_unit_test(test_cache_profile_key_differs_per_field),
		cmocka_unit_test(test_cache_profile_key_ignores_other_fields),
		cmocka_unit_test(test_cache_profile_key_field_boundaries),
		cmocka_unit_test(test_cache_record_format_exact),
		cmocka_unit_test(test_cache_record_round_trip),
		cmocka_unit_test(test_cache_record_parse_table),
		cmocka_unit_test(test_cache_record_parse_token_length_limit),
		cmocka_unit_test(test_cache_is_fresh_table),
		cmocka_unit_test(test_cache_record_left_table),
		cmocka_unit_test(test_cache_need_table),
		cmocka_unit_test_setup_teardown(test_cache_open_creates_private_dir, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_open_without_create_reports_absence,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_open_falls_back_to_cache_home,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_open_refuses_group_readable_dir,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_open_refuses_symlinked_dir,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_write_read_round_trip, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_remove, sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_read_miss_table, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_read_refuses_symlink, sandbox_setup,
						sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_read_refuses_readable_file,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_lookup, sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_lock_excludes_second_holder,
						sandbox_setup, sandbox_teardown),
		cmocka_unit_test_setup_teardown(test_cache_lock_refuses_readable_lock_file,
						sandbox_setup, sandbox_teardown),
	};

	return cmocka_run_group_tests(tests, save_environment, restore_environment);
}

/* keybearer-fetch: the heavy half. keybearer runs it only when its cache cannot answer.
 * It takes the profile's lock, looks at the cache again, resolves the secret, asks the
 * token endpoint, validates, caches, and writes the cache record to stdout for its parent.
 * It also does the keyring's work, which the hot path must never load.
 *
 *   keybearer-fetch mint --profile NAME [--min-ttl SECONDS]
 *   keybearer-fetch login|logout [options]      (keybearer login|logout execs these)
 *   keybearer-fetch keyring-status --profile NAME
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "error.h"
#include "http.h"
#include "login.h"
#include "output.h"
#include "safefile.h"
#include "secret.h"
#include "token.h"

struct mint_job {
	const char *profile_name;
	int min_ttl; /* -1: the profile's refresh margin decides */
};

static void
forbid_core_dumps(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

/* The secret, then one request to the token endpoint; fills rec on success. */
static int
mint(const struct profile *p, struct cache_record *rec, struct error *err)
{
	struct secret secret = { 0 };
	struct token_result result = { 0 };
	int rc = -1;

	if (secret_resolve(p, &secret, err) != 0 || http_mint(p, secret.value, &result, err) != 0)
		goto out;
	rec->access_token = result.access_token;
	rec->obtained_at = result.obtained_at;
	rec->expires_at = result.expires_at;
	result.access_token = NULL;
	rc = 0;
out:
	token_result_free(&result);
	secret_free(&secret);
	return rc;
}

static int
emit(const struct cache *c, const struct cache_record *rec, struct error *err)
{
	char *text = cache_record_format(c->key, rec);
	int rc = output_answer(text, err);

	safefile_free_string(text);
	return rc;
}

/* After a transient failure, a cached token that is still alive beats no token. The
 * failure and the fallback are both said on stderr. With back_off, later callers are served
 * the cached token for CACHE_RETRY_BACKOFF s instead of each waiting out the endpoint again.
 * Returns 0 when the cached token was handed out; -1 leaves err as it was. */
static int
fall_back(const struct profile *p, const struct cache *c, struct cache_record *cached, int back_off,
	  struct error *err)
{
	long long now = (long long)time(NULL), left = cached->expires_at - now;
	struct error ignored = { 0 };

	if (err->code != KB_EXIT_TRANSIENT || cached->access_token == NULL ||
	    left < TOKEN_MIN_LIFETIME)
		return -1;
	error_warn("%s", err->message);
	error_warn("using the cached token of profile %s, valid for %lld more s", p->name, left);
	memset(err, 0, sizeof(*err));
	if (back_off) {
		cached->refresh_after = now + CACHE_RETRY_BACKOFF;
		cache_write(c, cached, &ignored); /* losing the back-off costs one more try */
	}
	return emit(c, cached, err);
}

/* A fresh cached token, else a new one, else a still-valid cached one. */
static int
refresh_locked(const struct profile *p, const struct cache *c, const struct mint_job *job,
	       struct error *err)
{
	struct cache_record cached = { 0 }, fresh = { 0 };
	long long now = (long long)time(NULL);
	int have_cached, rc = -1;

	have_cached = cache_read(c, &cached, err);
	if (have_cached < 0)
		goto out;
	if (have_cached == 0 &&
	    cache_is_fresh(&cached, (time_t)now, p->refresh_margin, job->min_ttl)) {
		rc = emit(c, &cached, err);
		goto out;
	}
	if (have_cached == 0 && now < cached.refresh_after) {
		error_set(err, KB_EXIT_TRANSIENT,
			  "refreshing the token of profile %s failed moments ago; the next try is "
			  "in %lld s",
			  p->name, cached.refresh_after - now);
		rc = fall_back(p, c, &cached, 0, err);
		goto out;
	}
	if (mint(p, &fresh, err) != 0) {
		rc = fall_back(p, c, &cached, 1, err);
		goto out;
	}
	if (cache_write(c, &fresh, err) != 0) {
		/* The token is good; only later calls lose. Say so and hand it out. */
		error_warn("%s", err->message);
		memset(err, 0, sizeof(*err));
	}
	rc = emit(c, &fresh, err);
out:
	cache_record_free(&cached);
	cache_record_free(&fresh);
	return rc;
}

static int
run_mint(const struct mint_job *job, struct error *err)
{
	struct config cfg;
	const struct profile *p;
	struct cache c = { .dirfd = -1 };
	int lock_fd = -1, rc = -1;

	if (config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, job->profile_name, err);
	if (p == NULL || config_check_mintable(&cfg, p, err) != 0)
		goto out;
	if (cache_open(&c, p, 1, err) != 0)
		goto out;
	lock_fd = cache_lock(&c, p->name, cache_lock_wait(p), err);
	if (lock_fd >= 0) {
		rc = refresh_locked(p, &c, job, err);
	} else {
		/* Another process is stuck at the endpoint: what it would refresh may still do. */
		struct cache_record cached = { 0 };
		struct error read_err = { 0 };
		if (cache_read(&c, &cached, &read_err) == 0)
			rc = fall_back(p, &c, &cached, 0, err);
		cache_record_free(&cached);
	}
out:
	if (lock_fd >= 0)
		close(lock_fd);
	cache_close(&c);
	config_free(&cfg);
	return rc;
}

static int
usage_error(struct error *err, const char *what)
{
	return error_set(err, KB_EXIT_USAGE,
			 "%s — keybearer-fetch is run by keybearer: mint --profile NAME "
			 "[--min-ttl SECONDS]",
			 what);
}

static int
run_mint_command(int argc, char **argv, struct error *err)
{
	static const struct option options[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "min-ttl", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct mint_job job = { NULL, -1 };
	char *end;
	long value;
	int opt;

	opterr = 0;
	optind = 2;
	while ((opt = getopt_long(argc, argv, "p:", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			job.profile_name = optarg;
			break;
		case 't':
			value = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || value < 0 || value > 604800)
				return usage_error(err, "bad --min-ttl");
			job.min_ttl = (int)value;
			break;
		default:
			return usage_error(err, "unknown option");
		}
	}
	if (optind != argc || job.profile_name == NULL)
		return usage_error(err, "missing --profile or extra arguments");
	return run_mint(&job, err);
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, struct error *err);
} commands[] = {
	{ "mint", run_mint_command },
	{ "login", login_run },
	{ "logout", login_logout },
	{ "keyring-status", login_keyring_status },
};

int
main(int argc, char **argv)
{
	struct error err = { 0 };
	size_t i;

	umask(077);
	output_keep_standard_fds();
	forbid_core_dumps();
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("keybearer-fetch %s\n", KEYBEARER_VERSION);
		return 0;
	}
	for (i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc, argv, &err) == 0 ? 0 : error_print(&err);
	}
	usage_error(&err, "unknown or missing command");
	return error_print(&err);
}

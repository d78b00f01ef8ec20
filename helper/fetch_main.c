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
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backoff.h"
#include "cache.h"
#include "config.h"
#include "discovery.h"
#include "verify.h"
#include "error.h"
#include "http.h"
#include "login.h"
#include "monotonic.h"
#include "output.h"
#include "safefile.h"
#include "secret.h"
#include "token.h"

/* An attempt that could not even finish a TLS handshake would only turn the endpoint's
 * answer into a timeout: none starts with less than this left. */
#define RETRY_MIN_ATTEMPT_MS 1000

struct mint_job {
	const char *profile_name;
	int min_ttl;	/* -1: the profile's refresh margin decides */
	int background; /* nobody waits: no answer, and a busy lock means someone else is on it */
	int lock_fd;	/* >= 0: the profile's lock, taken by keybearer and handed down */
	int lock_busy;	/* keybearer waited for the lock in vain: do not wait again */
};

static void
forbid_core_dumps(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static unsigned int
random_noise(void)
{
	unsigned int noise = 0;

	if (getrandom(&noise, sizeof(noise), GRND_NONBLOCK) != (ssize_t)sizeof(noise))
		noise = (unsigned int)getpid() ^ (unsigned int)monotonic_us();
	return noise;
}

/* The secret, then requests to the token endpoint: transient failures are retried with
 * backoff (never sooner than that, later when Retry-After asks) until the profile's deadline,
 * permanent ones never. *retry_after is the longest Retry-After seen, in seconds, or -1. */
static int
mint(const struct profile *p, struct cache_record *rec, int *retry_after, struct error *err)
{
	struct secret secret = { 0 };
	struct token_result result = { 0 };
	long long deadline, delay, started;
	int attempt, asked, rc = -1;

	*retry_after = -1;
	/* the config is our own: an issuer's token endpoint is filled in once discovered */
	if (discovery_resolve_token_url((struct profile *)p, err) != 0)
		return -1;
	started = monotonic_us();
	if (secret_resolve(p, &secret, err) != 0)
		return -1;
	error_debug("profile %s: timing: secret %.3f ms", p->name,
		    (monotonic_us() - started) / 1000.0);
	deadline = monotonic_ms() + (long long)p->timeout * 1000;
	for (attempt = 1;; attempt++) {
		struct error attempt_err = { 0 };
		struct timespec pause;
		if (http_mint(p, secret.value, deadline, &result, &asked, &attempt_err) == 0) {
			rc = 0;
			break;
		}
		if (asked > *retry_after)
			*retry_after = asked;
		delay = backoff_delay_ms(attempt - 1, asked, random_noise());
		if (attempt_err.code != KB_EXIT_TRANSIENT ||
		    monotonic_ms() + delay + RETRY_MIN_ATTEMPT_MS > deadline) {
			*err = attempt_err;
			error_debug("attempt %d for profile %s failed for good: %s", attempt,
				    p->name, attempt_err.message);
			break;
		}
		error_debug("attempt %d for profile %s failed, next in %lld ms: %s", attempt,
			    p->name, delay, attempt_err.message);
		pause.tv_sec = (time_t)(delay / 1000);
		pause.tv_nsec = (long)(delay % 1000) * 1000000L;
		nanosleep(&pause, NULL);
	}
	if (rc == 0) {
		rec->access_token = result.access_token;
		rec->obtained_at = result.obtained_at;
		rec->expires_at = result.expires_at;
		result.access_token = NULL;
		error_debug("profile %s: new token after %d attempt(s), %lld s to live", p->name,
			    attempt, rec->expires_at - rec->obtained_at);
	}
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

/* After a transient failure, a cached token that is still alive beats no token; the
 * failure and the fallback are both said on stderr. Returns 0 when the cached token was
 * handed out; -1 leaves err as it was. */
static int
fall_back(const struct profile *p, const struct cache *c, const struct cache_record *cached,
	  struct error *err)
{
	long long left = cached->expires_at - (long long)time(NULL);

	if (err->code != KB_EXIT_TRANSIENT || cached->access_token == NULL ||
	    left < TOKEN_MIN_LIFETIME)
		return -1;
	error_warn("%s", err->message);
	error_warn("using the cached token of profile %s, valid for %lld more s", p->name, left);
	memset(err, 0, sizeof(*err));
	return emit(c, cached, err);
}

/* Records a transient failure beside the cache, so that every process of the profile
 * waits it out instead of asking the endpoint again. */
static void
record_failure(int lock_fd, const struct error *failure, int retry_after)
{
	struct cache_backoff backoff = { 0 };
	long long wait = CACHE_BACKOFF_SECONDS;

	if (retry_after > wait)
		wait = retry_after < BACKOFF_RETRY_AFTER_CAP ? retry_after
							     : BACKOFF_RETRY_AFTER_CAP;
	backoff.failed_at = (long long)time(NULL);
	backoff.next_attempt = backoff.failed_at + wait;
	snprintf(backoff.reason, sizeof(backoff.reason), "%.*s", (int)sizeof(backoff.reason) - 1,
		 failure->message);
	cache_backoff_write(lock_fd, &backoff);
}

/* Under the profile's lock: a fresh cached token, else a new one, else a still-valid cached
 * one. */
static int
refresh_locked(const struct profile *p, const struct cache *c, int lock_fd,
	       const struct mint_job *job, struct error *err)
{
	struct cache_record cached = { 0 }, fresh = { 0 };
	struct cache_backoff backoff;
	long long now = (long long)time(NULL), started;
	int have_cached, retry_after, written, rc = -1;

	have_cached = cache_read(c, &cached, err);
	if (have_cached < 0)
		goto out;
	if (have_cached == 0 &&
	    cache_is_fresh(&cached, (time_t)now, p->refresh_margin, job->min_ttl)) {
		rc = job->background ? 0 : emit(c, &cached, err);
		goto out;
	}
	if (cache_backoff_read(lock_fd, &backoff) == 0 && now < backoff.next_attempt) {
		error_set(err, KB_EXIT_TRANSIENT,
			  "the token endpoint of profile %s failed %lld s ago (%s); keybearer asks "
			  "again in %lld s — try again later",
			  p->name, now - backoff.failed_at, backoff.reason,
			  backoff.next_attempt - now);
		rc = job->background ? -1 : fall_back(p, c, &cached, err);
		goto out;
	}
	if (mint(p, &fresh, &retry_after, err) != 0) {
		/* In the background nobody sees the error: status shows it, and the back-off
		 * keeps every caller from starting the same failing refresh again. */
		if (err->code == KB_EXIT_TRANSIENT || job->background)
			record_failure(lock_fd, err, retry_after);
		rc = job->background ? -1 : fall_back(p, c, &cached, err);
		goto out;
	}
	cache_backoff_clear(lock_fd);
	started = monotonic_us();
	written = cache_write(c, &fresh, err);
	error_debug("profile %s: timing: cache write %.3f ms", p->name,
		    (monotonic_us() - started) / 1000.0);
	if (written != 0) {
		/* The token is good; only later calls lose. Say so and hand it out. */
		error_warn("%s", err->message);
		memset(err, 0, sizeof(*err));
	}
	rc = job->background ? 0 : emit(c, &fresh, err);
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
	/* A secret command runs as our child: it sees no secret variable but the profile's. */
	config_scrub_secret_variables(&cfg, p->secret_kind == SECRET_ENV ? p->secret_arg : NULL);
	if (cache_open(&c, p, 1, err) != 0)
		goto out;
	/* In the background a busy lock means the refresh is already under way. */
	if (job->lock_fd >= 0)
		lock_fd = cache_lock_inherited(&c, job->lock_fd, err);
	else if (job->lock_busy)
		lock_fd = cache_lock_busy(p->name, cache_lock_wait(p), err);
	else
		lock_fd = cache_lock(&c, p->name, job->background ? 0 : cache_lock_wait(p), err);
	if (lock_fd < 0 && job->background) {
		memset(err, 0, sizeof(*err));
		rc = 0;
	} else if (lock_fd >= 0) {
		rc = refresh_locked(p, &c, lock_fd, job, err);
	} else {
		/* Another process is stuck at the endpoint: what it would refresh may still do. */
		struct cache_record cached = { 0 };
		struct error read_err = { 0 };
		if (cache_read(&c, &cached, &read_err) == 0)
			rc = fall_back(p, &c, &cached, err);
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
		{ "background", no_argument, NULL, 'b' },
		{ "lock-fd", required_argument, NULL, 'l' },
		{ "lock-busy", no_argument, NULL, 'B' },
		{ NULL, 0, NULL, 0 },
	};
	struct mint_job job = { NULL, -1, 0, -1, 0 };
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
		case 'b':
			job.background = 1;
			break;
		case 'B':
			job.lock_busy = 1;
			break;
		case 'l':
			value = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || value <= STDERR_FILENO ||
			    value > INT_MAX)
				return usage_error(err, "bad --lock-fd");
			job.lock_fd = (int)value;
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
	{ "mint", run_mint_command }, { "login", login_run },
	{ "logout", login_logout },   { "keyring-status", login_keyring_status },
	{ "verify", verify_run },
};

int
main(int argc, char **argv)
{
	long long started = monotonic_us();
	struct error err = { 0 };
	size_t i;
	int rc;

	umask(077);
	output_keep_standard_fds();
	signal(SIGCHLD, SIG_DFL); /* or an ignored one reaps a secret command before waitpid */
	forbid_core_dumps();
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("keybearer-fetch %s\n", KEYBEARER_VERSION);
		return 0;
	}
	for (i = 0; argc >= 2 && i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		rc = commands[i].run(argc, argv, &err) == 0 ? 0 : error_print(&err);
		error_debug("timing: keybearer-fetch main to exit %.3f ms",
			    (monotonic_us() - started) / 1000.0);
		return rc;
	}
	usage_error(&err, "unknown or missing command");
	return error_print(&err);
}

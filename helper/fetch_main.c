/* keybearer-fetch: the heavy half. keybearer runs it only when its cache cannot answer.
 * It takes the profile's lock, looks at the cache again, resolves the secret, asks the
 * token endpoint, validates, caches, and writes the cache record to stdout for its parent.
 * It also does the keyring's work, which the hot path must never load.
 *
 *   keybearer-fetch mint --profile NAME [--min-ttl SECONDS]
 *   keybearer-fetch login|logout [options]      (keybearer login|logout execs these)
 *   keybearer-fetch keyring-status --profile NAME
 *   keybearer-fetch check --profile NAME        (keybearer check execs it)
 *   keybearer-fetch keygen --profile NAME [--type ec|rsa] [--out FILE]
 *   keybearer-fetch key-status --profile NAME   (keybearer status asks it)
 *   keybearer-fetch client-cert --profile NAME --fd N   (keybearer curl asks it)
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
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
#include "credentials.h"
#include "discovery.h"
#include "verify.h"
#include "check.h"
#include "error.h"
#include "fetch.h"
#include "fingerprint.h"
#include "lockstate.h"
#include "http.h"
#include "keygen.h"
#include "login.h"
#include "monotonic.h"
#include "mtls.h"
#include "notice.h"
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

/* Requests to the token endpoint with the secret: transient failures are retried with
 * backoff (never sooner than that, later when Retry-After asks) until the profile's deadline,
 * permanent ones never. *retry_after is the longest Retry-After seen, in seconds, or -1. */
static int
mint(const struct profile *p, const struct token_credentials *creds, struct cache_record *rec,
     int *retry_after, struct error *err)
{
	struct token_result result = { 0 };
	struct cache_clock now;
	long long deadline, delay, started_ms;
	int attempt, asked, rc = -1;

	*retry_after = -1;
	started_ms = monotonic_ms();
	deadline = started_ms + (long long)p->timeout * 1000;
	for (attempt = 1;; attempt++) {
		struct error attempt_err = { 0 };
		struct timespec pause;
		if (http_mint(p, creds, deadline, &result, &asked, &attempt_err) == 0) {
			rc = 0;
			break;
		}
		if (asked > *retry_after)
			*retry_after = asked;
		delay = backoff_delay_ms(attempt - 1, asked, backoff_noise());
		if (attempt_err.code != KB_EXIT_TRANSIENT ||
		    monotonic_ms() + delay + RETRY_MIN_ATTEMPT_MS > deadline) {
			*err = attempt_err;
			error_debug("attempt %d for profile %s failed for good: %s", attempt,
				    p->name, attempt_err.message);
			break;
		}
		error_debug("attempt %d for profile %s failed, next in %lld ms: %s", attempt,
			    p->name, delay, attempt_err.message);
		/* this pause takes the wait past a second: say so now, not after it */
		if (notice_due(NOTICE_ENDPOINT, started_ms - delay))
			notice_say(NOTICE_ENDPOINT,
				   "the token endpoint of profile %s, which failed (attempt %d): "
				   "trying again for at most %lld s more",
				   p->name, attempt, (deadline - monotonic_ms() + 999) / 1000);
		pause.tv_sec = (time_t)(delay / 1000);
		pause.tv_nsec = (long)(delay % 1000) * 1000000L;
		nanosleep(&pause, NULL);
	}
	if (rc == 0) {
		rec->access_token = result.access_token;
		rec->obtained_at = result.obtained_at;
		rec->expires_at = result.expires_at;
		result.access_token = NULL;
		cache_clock_now(&now);
		cache_record_stamp(rec, &now);
		error_debug("profile %s: new token after %d attempt(s), %lld s to live", p->name,
			    attempt, rec->expires_at - rec->obtained_at);
	}
	token_result_free(&result);
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

/* When no new token can be had for now — the endpoint failing, or the lock out of reach —
 * a cached token that is still alive beats no token; the failure and the fallback are
 * both said on stderr. A rejection is not papered over: the secret needs fixing, and the
 * sooner that is said the better. Returns 0 when the cached token was handed out; -1
 * leaves err as it was. */
static int
fall_back(const struct profile *p, const struct cache *c, const struct cache_record *cached,
	  struct error *err)
{
	struct cache_clock now;

	cache_clock_now(&now);
	if ((err->code != KB_EXIT_TRANSIENT && err->code != KB_EXIT_IO) || cached == NULL ||
	    !cache_is_usable(cached, &now))
		return -1;
	error_warn("%s", err->message);
	error_warn("using the cached token of profile %s, valid for %lld more s", p->name,
		   cache_record_left(cached, &now));
	memset(err, 0, sizeof(*err));
	return emit(c, cached, err);
}

/* How long a failure holds every process of the profile off, or 0 for one not worth
 * recording: a configuration error is cheap to meet again, and its fix must show at once. */
static long long
failure_hold(enum lockstate_source source, enum exit_code code, int retry_after)
{
	long long hold = CACHE_BACKOFF_SECONDS;

	if (code == KB_EXIT_TRANSIENT) {
		if (retry_after > hold)
			hold = retry_after < BACKOFF_RETRY_AFTER_CAP ? retry_after
								     : BACKOFF_RETRY_AFTER_CAP;
		return hold;
	}
	if ((source == LOCKSTATE_ENDPOINT || source == LOCKSTATE_DISCOVERY) &&
	    (code == KB_EXIT_REJECTED || code == KB_EXIT_PROTOCOL))
		return LOCKSTATE_REJECTION_SECONDS;
	if (source == LOCKSTATE_CACHE)
		return CACHE_BACKOFF_SECONDS;
	return 0;
}

/* Records a failure beside the cache, so that every process of the profile gives the same
 * answer instead of asking again. A rejection of the secret carries the secret's
 * fingerprint, so that a new secret is tried at once. */
void
fetch_record_failure(const struct cache *c, int lock_fd, struct lockstate *st,
		     const char *profile_fp, enum lockstate_source source,
		     const struct error *failure, int retry_after, const struct secret *secret)
{
	struct lockstate_failure *f = &st->failure;
	long long hold = failure_hold(source, failure->code, retry_after);
	struct fingerprint print = { 0 };
	struct cache_clock now;

	if (hold <= 0)
		return;
	cache_clock_now(&now);
	memset(f, 0, sizeof(*f));
	f->failed_at = now.wall;
	f->failed_boot = now.boot;
	snprintf(f->boot_id, sizeof(f->boot_id), "%s", now.boot_id);
	f->hold = hold;
	f->code = failure->code;
	f->source = source;
	snprintf(f->profile, sizeof(f->profile), "%s", profile_fp);
	if (secret != NULL && lockstate_failure_is_rejection(f)) {
		fingerprint_secret(c, secret, 1, &print);
		snprintf(f->secret_mark, sizeof(f->secret_mark), "%s", print.mark);
		snprintf(f->secret_origin, sizeof(f->secret_origin), "%s", print.origin);
	}
	snprintf(f->message, sizeof(f->message), "%s", failure->message);
	if (lockstate_write(c, lock_fd, st) != 0)
		error_debug("the failure of profile %s could not be recorded: %s", f->message,
			    strerror(errno));
}

/* Whether secret is not the one the recorded rejection was made with. */
static int
secret_changed(const struct cache *c, const struct lockstate_failure *f,
	       const struct secret *secret)
{
	struct fingerprint recorded = { 0 }, now;

	snprintf(recorded.mark, sizeof(recorded.mark), "%s", f->secret_mark);
	snprintf(recorded.origin, sizeof(recorded.origin), "%s", f->secret_origin);
	fingerprint_secret(c, secret, 0, &now);
	return fingerprint_changed(&recorded, &now);
}

/* A new token the cache file could not take (a full disk, a read-only directory) stays in
 * the lock file, so the next caller is served without a request; the failure shows in
 * status and holds off background refreshes for a while. Takes fresh's token. */
static void
keep_as_spare(const struct cache *c, int lock_fd, struct lockstate *st, const char *profile_fp,
	      struct cache_record *fresh, const struct error *failure)
{
	if (&st->spare != fresh) {
		cache_record_free(&st->spare);
		st->spare = *fresh;
		fresh->access_token = NULL;
	}
	fetch_record_failure(c, lock_fd, st, profile_fp, LOCKSTATE_CACHE, failure, -1, NULL);
}

/* A spare token is moved into the cache file once the directory takes it again. */
static void
store_spare(const struct cache *c, int lock_fd, struct lockstate *st, const char *profile_fp)
{
	struct error write_err = { 0 };

	if (cache_write(c, &st->spare, &write_err) != 0) {
		keep_as_spare(c, lock_fd, st, profile_fp, &st->spare, &write_err);
		return;
	}
	cache_record_free(&st->spare);
	memset(&st->failure, 0, sizeof(st->failure));
	lockstate_write(c, lock_fd, st);
}

/* Under the profile's lock: a fresh cached token, else the answer a recorded failure still
 * gives, else a new token, else a still-valid cached one. */
static int
refresh_locked(struct profile *p, const struct cache *c, int lock_fd, const struct mint_job *job,
	       struct error *err)
{
	struct cache_record from_file = { 0 }, fresh = { 0 };
	const struct cache_record *cached;
	struct credentials creds = { 0 };
	struct token_credentials view;
	struct cache_clock now;
	struct lockstate st;
	enum lockstate_source source = LOCKSTATE_ENDPOINT;
	char profile_fp[65];
	long long holds, started;
	int retry_after = -1, rc = -1;

	/* before discovery fills in the token endpoint: the profile as configured */
	cache_profile_fingerprint(p, profile_fp);
	if (cache_read(c, &from_file, err) < 0)
		return -1;
	lockstate_read(c, lock_fd, &st);
	cache_clock_now(&now);
	cached = cache_record_newer(&from_file, &st.spare);
	if (cached != NULL && cache_is_fresh(cached, &now, p->refresh_margin, job->min_ttl)) {
		rc = job->background ? 0 : emit(c, cached, err);
		if (cached == &st.spare)
			store_spare(c, lock_fd, &st, profile_fp);
		goto out;
	}
	holds = lockstate_failure_holds(&st.failure, &now, profile_fp);
	if (holds > 0 && !lockstate_failure_is_rejection(&st.failure) &&
	    st.failure.source != LOCKSTATE_CACHE) {
		lockstate_repeat(p, &st.failure, holds, err);
		goto failed;
	}
	/* the config is our own: an issuer's token endpoint is filled in once discovered */
	source = LOCKSTATE_DISCOVERY;
	if (discovery_resolve_token_url(p, err) != 0)
		goto record;
	started = monotonic_us();
	if (credentials_read(p, &creds, &source, err) != 0)
		goto record;
	error_debug("profile %s: timing: secret %.3f ms", p->name,
		    (monotonic_us() - started) / 1000.0);
	if (holds > 0 && lockstate_failure_is_rejection(&st.failure)) {
		if (!secret_changed(c, &st.failure, &creds.identity)) {
			lockstate_repeat(p, &st.failure, holds, err);
			goto failed;
		}
		error_debug("profile %s: the secret has changed since it was refused: asking "
			    "again",
			    p->name);
	}
	/* an ID token is asked for only now: a standing answer costs no request */
	source = LOCKSTATE_ID_TOKEN;
	if (credentials_fetch(p, &creds, &retry_after, err) != 0)
		goto record;
	source = LOCKSTATE_ENDPOINT;
	credentials_view(&creds, &view);
	if (mint(p, &view, &fresh, &retry_after, err) != 0)
		goto record;
	started = monotonic_us();
	if (cache_write(c, &fresh, err) != 0) {
		/* The token is good; only later calls would lose it: it waits in the lock
		 * file. Say so and hand it out. */
		error_warn("%s", err->message);
		keep_as_spare(c, lock_fd, &st, profile_fp, &fresh, err);
		memset(err, 0, sizeof(*err));
		rc = job->background ? 0 : emit(c, &st.spare, err);
		goto out;
	}
	error_debug("profile %s: timing: cache write %.3f ms", p->name,
		    (monotonic_us() - started) / 1000.0);
	if (st.failure.failed_at > 0 || st.spare.access_token != NULL) {
		cache_record_free(&st.spare);
		memset(&st.failure, 0, sizeof(st.failure));
		lockstate_write(c, lock_fd, &st);
	}
	rc = job->background ? 0 : emit(c, &fresh, err);
	goto out;
record:
	/* In the background nobody sees the error: status shows it, and the record keeps
	 * every caller from starting the same failing refresh again. */
	fetch_record_failure(c, lock_fd, &st, profile_fp, source, err, retry_after,
			     creds.identity.value != NULL ? &creds.identity : NULL);
failed:
	rc = job->background ? -1 : fall_back(p, c, cached, err);
out:
	credentials_free(&creds);
	lockstate_free(&st);
	cache_record_free(&from_file);
	cache_record_free(&fresh);
	return rc;
}

static int
run_mint(const struct mint_job *job, struct error *err)
{
	struct config cfg;
	struct profile *p;
	struct cache c = { .dirfd = -1 };
	int lock_fd = -1, rc = -1;

	/* the profile alone (and its bases): the others' secret variables are still known */
	if (config_load_selected(&cfg, job->profile_name, err) != 0)
		return -1;
	/* the config is our own: discovery fills in an issuer's token endpoint */
	p = (struct profile *)config_select(&cfg, job->profile_name, err);
	if (p == NULL || config_check_mintable(&cfg, p, err) != 0)
		goto out;
	/* A secret command runs as our child: it sees no secret variable but the profile's. */
	config_scrub_secret_variables(&cfg, p);
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
		/* Another process is stuck at the endpoint, or the lock is out of reach: what
		 * it would refresh may still do. */
		struct cache_record cached = { 0 };
		struct error read_err = { 0 };
		rc = fall_back(p, &c, cache_read(&c, &cached, &read_err) == 0 ? &cached : NULL,
			       err);
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
			notice_silence();
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

/* mutual-TLS client authentication, for keybearer curl: `client-cert --profile NAME --fd N`
 * writes the profile's certificate chain and then its key into the memory file N (made
 * by keybearer with sealing allowed), and seals it, so the tool that opens it can only
 * read it. keybearer never reads the key itself. */
static int
run_client_cert_command(int argc, char **argv, struct error *err)
{
	const unsigned seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	struct mtls_credentials m = { 0 };
	struct config cfg;
	const struct profile *p;
	struct stat st;
	char *end;
	long fd;
	int rc = -1;

	if (argc != 6 || strcmp(argv[2], "--profile") != 0 || strcmp(argv[4], "--fd") != 0)
		return usage_error(err, "client-cert takes --profile NAME --fd N");
	fd = strtol(argv[5], &end, 10);
	if (*argv[5] == '\0' || *end != '\0' || fd <= STDERR_FILENO || fd > INT_MAX)
		return usage_error(err, "bad --fd");
	/* An empty memory file that can still be sealed, as keybearer makes it: the key goes
	 * nowhere else (not a terminal, not a file). Not for a client_key command, nor
	 * anything it starts. */
	if (fcntl((int)fd, F_GET_SEALS) != 0 || fstat((int)fd, &st) != 0 || st.st_size != 0 ||
	    fcntl((int)fd, F_SETFD, FD_CLOEXEC) != 0)
		return usage_error(err, "--fd names no empty, unsealed memory file");
	if (config_load(&cfg, err) != 0)
		return -1;
	p = config_select(&cfg, argv[3], err);
	if (p == NULL)
		goto out;
	if (!config_auth_is_mtls(p->auth_method)) {
		error_set(err, KB_EXIT_INTERNAL,
			  "profile %s has no client certificate — report this bug", p->name);
		goto out;
	}
	config_scrub_secret_variables(&cfg, NULL);
	if (mtls_load(p, &m, err) != 0)
		goto out;
	if (output_write_all((int)fd, m.cert.value, m.cert.size - 1) != 0 ||
	    output_write_all((int)fd, "\n", 1) != 0 ||
	    output_write_all((int)fd, m.key.value, m.key.size - 1) != 0 ||
	    fcntl((int)fd, F_ADD_SEALS, seals) != 0) {
		error_set(err, KB_EXIT_INTERNAL,
			  "cannot hand over the client certificate of profile %s: %s — check the "
			  "memory limits",
			  p->name, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	mtls_free(&m);
	config_free(&cfg);
	return rc;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv, struct error *err);
} commands[] = {
	{ "mint", run_mint_command },
	{ "login", login_run },
	{ "logout", login_logout },
	{ "keyring-status", login_keyring_status },
	{ "verify", verify_run },
	{ "check", check_fetch_run },
	/* key-based client authentication */
	{ "keygen", keygen_run },
	{ "key-status", keygen_key_status },
	/* mutual-TLS client authentication */
	{ "client-cert", run_client_cert_command },
};

/* Whether AddressSanitizer is on: gcc says so by __SANITIZE_ADDRESS__, clang (before
 * 2025) only by __has_feature. */
#if defined(__SANITIZE_ADDRESS__)
#define KEYBEARER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define KEYBEARER_ASAN 1
#endif
#endif

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
	/* OpenSSL's exit handler frees each of its tables one by one: half a millisecond of
	 * every mint, for memory the kernel takes back anyway. Key material is wiped as it
	 * is freed, before the exit. (LeakSanitizer does not look into the locked heap's
	 * pages, where the only pointers to some of OpenSSL's objects are: under it, the
	 * handler frees them.) */
#ifndef KEYBEARER_ASAN
	OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
#endif
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

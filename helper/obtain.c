#include "obtain.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lockstate.h"
#include "monotonic.h"
#include "safefile.h"

extern char **environ;

#ifndef KEYBEARER_FETCH_RELATIVE
#define KEYBEARER_FETCH_RELATIVE "../libexec/keybearer/keybearer-fetch"
#endif
#ifndef KEYBEARER_FETCH_INSTALLED
#define KEYBEARER_FETCH_INSTALLED "/usr/local/libexec/keybearer/keybearer-fetch"
#endif

/* path = dir/name when it fits and is executable. */
static int
executable_at(char *out, size_t size, const char *dir, const char *name)
{
	int n = dir != NULL ? snprintf(out, size, "%s/%s", dir, name)
			    : snprintf(out, size, "%s", name);

	return n > 0 && (size_t)n < size && access(out, X_OK) == 0;
}

static int
fetch_path(char *out, size_t size, struct error *err)
{
	const char *from_env = getenv("KEYBEARER_FETCH");
	char self[4096], *slash;
	ssize_t n;

	if (from_env != NULL && *from_env != '\0') {
		if (executable_at(out, size, NULL, from_env))
			return 0;
		return error_set(
			err, KB_EXIT_INTERNAL,
			"KEYBEARER_FETCH (%.200s) is not an executable file — fix or unset "
			"it",
			from_env);
	}
	/* Relative to our own binary, so a relocated prefix (or a test's staging tree)
	 * runs its own keybearer-fetch, not another installation's. */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash != NULL) {
			*slash = '\0';
			if (executable_at(out, size, self, KEYBEARER_FETCH_RELATIVE) ||
			    executable_at(out, size, self, "keybearer-fetch"))
				return 0;
		}
	}
	if (executable_at(out, size, NULL, KEYBEARER_FETCH_INSTALLED))
		return 0;
	return error_set(err, KB_EXIT_INTERNAL,
			 "keybearer-fetch is not installed next to keybearer (looked for %s) — "
			 "reinstall keybearer or set KEYBEARER_FETCH",
			 KEYBEARER_FETCH_INSTALLED);
}

int
obtain_run_fetch(const char *const args[], int pass_fd, char *answer, size_t cap,
		 ssize_t *answer_len, struct error *err)
{
	char path[4096], *argv[16];
	posix_spawn_file_actions_t actions;
	int pipe_fds[2], status, spawn_rc;
	long long spawned;
	size_t i;
	pid_t pid;

	if (fetch_path(path, sizeof(path), err) != 0)
		return -1;
	argv[0] = path;
	for (i = 0; args[i] != NULL && i + 2 < sizeof(argv) / sizeof(argv[0]); i++)
		argv[i + 1] = (char *)args[i];
	argv[i + 1] = NULL;
	if (pipe2(pipe_fds, O_CLOEXEC) != 0)
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot create a pipe: %s — check the process limits",
				 strerror(errno));
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
	if (pass_fd >= 0) /* onto itself: clears its close-on-exec flag in the child only */
		posix_spawn_file_actions_adddup2(&actions, pass_fd, pass_fd);
	spawned = monotonic_us();
	spawn_rc = posix_spawn(&pid, path, &actions, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	close(pipe_fds[1]);
	if (spawn_rc != 0) {
		close(pipe_fds[0]);
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot run %s: %s — reinstall keybearer or fix KEYBEARER_FETCH",
				 path, strerror(spawn_rc));
	}
	*answer_len = safefile_read_up_to(pipe_fds[0], answer, cap); /* the child bounds its time */
	close(pipe_fds[0]);
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return error_set(err, KB_EXIT_INTERNAL, "lost track of %s: %s — retry",
					 path, strerror(errno));
	}
	error_debug("timing: keybearer-fetch spawn to exit %.3f ms",
		    (monotonic_us() - spawned) / 1000.0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status)) {
		/* keybearer-fetch has said what went wrong on our shared stderr. */
		err->code = (enum exit_code)WEXITSTATUS(status);
		err->message[0] = '\0';
		return -1;
	}
	return error_set(err, KB_EXIT_INTERNAL, "%s died of signal %d — report this bug", path,
			 WTERMSIG(status));
}

int
obtain_exec_fetch(const char *command, int argc, char **argv, struct error *err)
{
	char path[4096], *args[64];
	int i;

	if (fetch_path(path, sizeof(path), err) != 0)
		return -1;
	if (argc + 3 > (int)(sizeof(args) / sizeof(args[0])))
		return error_set(err, KB_EXIT_USAGE, "too many arguments — see keybearer %s --help",
				 command);
	args[0] = path;
	args[1] = (char *)command;
	for (i = 1; i < argc; i++)
		args[i + 1] = argv[i];
	args[argc + 1] = NULL;
	execv(path, args);
	return error_set(err, KB_EXIT_INTERNAL,
			 "cannot run %s: %s — reinstall keybearer or fix KEYBEARER_FETCH", path,
			 strerror(errno));
}

/* Starts `keybearer-fetch mint --background` detached: its own session, no terminal, stdio
 * on /dev/null (a caller reading our stdout to its end must not wait for it), and a
 * grandchild, so that no zombie is left for a caller that outlives us. */
static void
refresh_in_background(const struct profile *p)
{
	char path[4096], lock_text[24];
	char *argv[] = { path,		 "mint",      "--profile", p->name,
			 "--background", "--lock-fd", lock_text,   NULL };
	struct error err = { 0 };
	struct cache_clock now;
	int fd, lock_fd;
	pid_t pid;

	if (fetch_path(path, sizeof(path), &err) != 0)
		return;
	/* Single flight: whoever takes the lock starts the refresh and hands it the lock. */
	cache_clock_now(&now);
	lock_fd = lockstate_background_lock(p, &now);
	if (lock_fd < 0)
		return;
	snprintf(lock_text, sizeof(lock_text), "%d", lock_fd);
	pid = fork();
	if (pid == 0) {
		if (setsid() < 0 || fork() != 0)
			_exit(0);
		fd = open("/dev/null", O_RDWR);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO && fd != lock_fd)
				close(fd);
		}
		/* nothing of the caller's stays open in it (a pipe someone reads to its end),
		 * but the lock */
		if (lock_fd > STDERR_FILENO + 1)
			close_range(STDERR_FILENO + 1, (unsigned)lock_fd - 1, 0);
		close_range((unsigned)lock_fd + 1, ~0U, 0);
		fcntl(lock_fd, F_SETFD, 0);
		execve(path, argv, environ);
		_exit(127);
	}
	close(lock_fd); /* the refresher holds it now, through the same open file */
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* keybearer-fetch mints under the lock we hand it, or, when we waited for the lock in
 * vain, falls back without waiting again; its answer is the record it leaves in the
 * cache. */
static int
mint_under_lock(const struct profile *p, int min_ttl, int lock_fd, struct cache_record *rec,
		struct error *err)
{
	const char *args[8] = { "mint", "--profile", p->name };
	char key[65], min_ttl_text[24], lock_fd_text[24], *answer;
	ssize_t answer_len = 0;
	int n = 3, rc;

	if (min_ttl >= 0) {
		snprintf(min_ttl_text, sizeof(min_ttl_text), "%d", min_ttl);
		args[n++] = "--min-ttl";
		args[n++] = min_ttl_text;
	}
	if (lock_fd >= 0) {
		snprintf(lock_fd_text, sizeof(lock_fd_text), "%d", lock_fd);
		args[n++] = "--lock-fd";
		args[n++] = lock_fd_text;
	} else {
		args[n++] = "--lock-busy";
	}
	answer = malloc(CACHE_RECORD_MAX);
	if (answer == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	rc = obtain_run_fetch(args, lock_fd, answer, CACHE_RECORD_MAX, &answer_len, err);
	if (rc == 0) {
		cache_profile_key(p, key);
		if (answer_len <= 0 ||
		    cache_record_parse(answer, (size_t)answer_len, key, rec) != 0)
			rc = error_set(err, KB_EXIT_INTERNAL,
				       "keybearer-fetch answered something unreadable — check that "
				       "keybearer and keybearer-fetch come from the same version");
	}
	safefile_free_secret(answer, CACHE_RECORD_MAX);
	return rc;
}

/* When the lock is out of reach (a read-only cache directory, a lock file that cannot be
 * opened), a cached token that is still alive is handed out with a warning: a broken lock
 * never hides a valid token. Returns 0 with rec set, or -1 leaving err as it was. */
static int
serve_stale(const struct profile *p, struct cache_record *stale, struct cache_record *rec,
	    struct error *err)
{
	struct cache_clock now;

	cache_clock_now(&now);
	if (stale->access_token == NULL || !cache_is_usable(stale, &now))
		return -1;
	error_warn("%s", err->message);
	error_warn("using the cached token of profile %s, valid for %lld more s", p->name,
		   cache_record_left(stale, &now));
	memset(err, 0, sizeof(*err));
	*rec = *stale;
	stale->access_token = NULL;
	return 0;
}

/* Under the lock: the newer of the cache file and a token the lock file holds because the
 * cache file could not take it (lockstate.h), in rec when it will do (0); else 1, with the
 * failure recorded beside the cache in *failure. */
static int
read_under_lock(const struct profile *p, const struct cache *c, int lock_fd, int min_ttl,
		struct cache_record *rec, struct lockstate_failure *failure)
{
	struct cache_record from_file = { 0 };
	struct error read_err = { 0 };
	const struct cache_record *newer;
	struct lockstate st;
	struct cache_clock now;
	int rc = 1;

	memset(failure, 0, sizeof(*failure));
	if (cache_read(c, &from_file, &read_err) < 0)
		return 1;
	lockstate_read(c, lock_fd, &st);
	*failure = st.failure;
	cache_clock_now(&now);
	newer = cache_record_newer(&from_file, &st.spare);
	if (newer != NULL &&
	    cache_need(newer, &now, p->refresh_margin, min_ttl) != CACHE_REFRESH_NOW) {
		*rec = *newer;
		if (newer == &st.spare)
			st.spare.access_token = NULL;
		else
			from_file.access_token = NULL;
		rc = 0;
	}
	cache_record_free(&from_file);
	lockstate_free(&st);
	return rc;
}

/* A transient failure that still holds is answered here, without keybearer-fetch: a crowd
 * of callers during an outage costs a static process each. A rejection is not: only
 * keybearer-fetch can tell whether the secret has changed since. 0 with rec set (the cached
 * token, with a warning), -1 with err set, 1 when there is no such failure. */
static int
answer_from_record(const struct profile *p, const struct lockstate_failure *failure,
		   struct cache_record *stale, struct cache_record *rec, struct error *err)
{
	char fingerprint[65];
	struct cache_clock now;
	long long holds;

	cache_clock_now(&now);
	cache_profile_fingerprint(p, fingerprint);
	holds = lockstate_failure_holds(failure, &now, fingerprint);
	if (holds <= 0 || failure->code != KB_EXIT_TRANSIENT)
		return 1;
	error_debug("profile %s: a failure of %lld s ago holds %lld s more: its answer, without "
		    "asking the endpoint",
		    p->name, now.wall - failure->failed_at, holds);
	lockstate_repeat(p, failure, holds, err);
	return serve_stale(p, stale, rec, err);
}

/* Single flight starts here, before any keybearer-fetch: of a crowd of callers, the one
 * that takes the lock starts keybearer-fetch, and the others find its token when the lock
 * comes free, having cost a static process each instead of one loading libcurl. */
static int
refresh_now(const struct profile *p, int min_ttl, struct cache_record *stale,
	    struct cache_record *rec, struct error *err)
{
	struct lockstate_failure failure = { 0 };
	struct error lock_err = { 0 };
	struct cache c = { .dirfd = -1 };
	int lock_fd, rc = 1;

	if (cache_open(&c, p, 1, err) != 0)
		return serve_stale(p, stale, rec, err);
	lock_fd = cache_lock(&c, p->name, cache_lock_wait(p), &lock_err);
	if (lock_fd < 0 && lock_err.code != KB_EXIT_TRANSIENT) {
		*err = lock_err;
		cache_close(&c);
		return serve_stale(p, stale, rec, err);
	}
	if (lock_fd >= 0 && read_under_lock(p, &c, lock_fd, min_ttl, rec, &failure) == 0)
		rc = 0; /* another caller refreshed it while we waited */
	else if (lock_fd >= 0)
		rc = answer_from_record(p, &failure, stale, rec, err);
	if (rc == 1)
		rc = mint_under_lock(p, min_ttl, lock_fd, rec, err);
	if (lock_fd >= 0)
		close(lock_fd);
	cache_close(&c);
	return rc;
}

int
obtain_token(const struct config *cfg, const struct profile *p, int min_ttl,
	     struct cache_record *rec, struct error *err)
{
	enum { NO_RECORD = CACHE_REFRESH_NOW + 1 }; /* for the words: nothing was cached */
	static const char *const need_words[] = {
		[CACHE_FRESH] = "fresh enough, no request",
		[CACHE_REFRESH_SOON] = "in the refresh window: handed out, refreshed in background",
		[CACHE_REFRESH_NOW] = "due for refresh: keybearer-fetch asks for a new one",
		[NO_RECORD] = "no usable cached token: keybearer-fetch asks for one",
	};
	struct cache_record stale = { 0 };
	struct cache_clock now;
	enum cache_need need;
	long long started;
	int rc;

	if (config_check_mintable(cfg, p, err) != 0)
		return -1;
	started = monotonic_us();
	rc = cache_lookup(p, rec, err);
	if (rc < 0)
		return -1;
	cache_clock_now(&now);
	need = rc == 0 ? cache_need(rec, &now, p->refresh_margin, min_ttl) : CACHE_REFRESH_NOW;
	error_debug("profile %s: timing: cache lookup %.3f ms: %s", p->name,
		    (monotonic_us() - started) / 1000.0,
		    need_words[rc == 0 ? (int)need : NO_RECORD]);
	if (rc == 0)
		error_debug("profile %s: the cached token has %lld s left", p->name,
			    cache_record_left(rec, &now));
	if (need == CACHE_REFRESH_SOON) {
		/* still good: hand it out now, refresh behind the caller's back */
		refresh_in_background(p);
	} else if (need == CACHE_REFRESH_NOW) {
		stale = *rec;
		memset(rec, 0, sizeof(*rec));
		rc = refresh_now(p, min_ttl, &stale, rec, err);
		cache_record_free(&stale);
		if (rc != 0)
			return -1;
		cache_clock_now(&now);
	}
	/* Whoever prints the expiry prints one no clock step has made later than it is. */
	rec->expires_at = cache_record_expiry(rec, &now);
	return 0;
}

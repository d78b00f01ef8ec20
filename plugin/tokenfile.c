/* keybearer exec --token-file: keybearer stays as the command's supervisor. It writes the
 * token to a private file whose path the command gets, replaces the file (whole, by
 * rename) before the token enters the window where `get` would refresh it, and removes it
 * when the command ends. Signals reach the command as they would with a real exec; its exit
 * status, or the signal it died of, is keybearer's.
 *
 * And for plain exec, which stays a real exec: a detached watcher that says when the
 * token in the environment has expired while the command still runs. */
#include "tokenfile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lockstate.h"
#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "safefile.h"

/* The longest sleep between two looks at the clocks: a suspend or a step of the wall clock
 * is noticed within it. */
#define TOKENFILE_NAP_MS 10000

/* The signals a supervisor passes on, as a real exec would have let the command get them.
 * SIGTSTP, SIGTTIN, SIGTTOU and SIGCONT are not among them: the command shares our process
 * group, so the terminal's job control stops and continues both together. */
static const int forwarded_signals[] = { SIGTERM, SIGINT,  SIGHUP,  SIGQUIT,
					 SIGUSR1, SIGUSR2, SIGWINCH };
#define FORWARDED_COUNT (sizeof(forwarded_signals) / sizeof(forwarded_signals[0]))

/* Where the file lives. Without XDG_RUNTIME_DIR, a directory of its own made by mkdtemp,
 * removed with the file. */
struct token_file {
	int dirfd;
	int made_dir; /* dir is ours alone, made by mkdtemp: removed at the end */
	char dir[4096];
	char name[96];	    /* <profile>.<pid>.token */
	char tmp_name[112]; /* .<name>.tmp */
	char path[4096 + 96];
};

/* What the signal handlers share with the loop. child_pid and the file's names are set
 * while the signals are blocked, before the handlers can run. */
static pid_t child_pid;
static pid_t own_pgrp;
static pid_t own_parent;
static volatile sig_atomic_t child_done;
static volatile sig_atomic_t floor_reached; /* the file went during a refresh */
static int child_status;
static int handler_dirfd = -1;
static char handler_name[96];

/* A signal the command has had already: the terminal's (sent to its whole foreground
 * group, which the command is still in); one the command sent itself; one from another
 * process of our group but our parent (the command's children: a kill(0) or kill(-1)
 * of theirs has reached the command too). Forwarding it would deliver it twice. Our
 * parent is not among them: a script's `kill $!` shares its group with its jobs. */
static int
already_delivered(const siginfo_t *info)
{
	if (info->si_code == SI_KERNEL)
		return getpgid(child_pid) == own_pgrp;
	if (info->si_code > 0 || info->si_pid <= 0)
		return 0;
	if (info->si_pid == child_pid)
		return 1;
	return info->si_pid != own_parent && getpgid(info->si_pid) == own_pgrp &&
	       getpgid(child_pid) == own_pgrp;
}

static void
forward_signal(int sig, siginfo_t *info, void *context)
{
	int saved_errno = errno;

	(void)context;
	if (child_pid > 0 && !child_done && !already_delivered(info))
		kill(child_pid, sig);
	errno = saved_errno;
}

/* The command has ended: its file goes at once, even while a refresh is under way. */
static void
note_child_exit(int sig, siginfo_t *info, void *context)
{
	int saved_errno = errno, status;

	(void)sig;
	(void)info;
	(void)context;
	if (child_pid > 0 && !child_done && waitpid(child_pid, &status, WNOHANG) == child_pid) {
		child_status = status;
		child_done = 1;
		if (handler_dirfd >= 0)
			unlinkat(handler_dirfd, handler_name, 0);
	}
	errno = saved_errno;
}

static void
ignore_signal(int sig)
{
	(void)sig;
}

/* A refresh that takes long (an endpoint timing out, retried within its deadline) must not
 * leave a token past its floor in the file meanwhile: an alarm removes it. */
static void
remove_at_floor(int sig)
{
	int saved_errno = errno;

	(void)sig;
	if (handler_dirfd >= 0)
		unlinkat(handler_dirfd, handler_name, 0);
	floor_reached = 1;
	errno = saved_errno;
}

static void
arm_floor_alarm(long long ms)
{
	struct itimerval when = { { 0, 0 }, { ms / 1000, (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &when, NULL);
}

/* A directory fit for a token: a real directory (not a link to one), ours, closed to
 * group and others. fix says what to do about one that is not. Returns its fd, or -1
 * with err set. */
static int
open_private_dir(int at, const char *path, const char *what, const char *fix, struct error *err)
{
	struct stat st;
	int fd = openat(at, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return error_set(err, KB_EXIT_IO, "%s is a symbolic link or not a directory — %s",
				 what, fix);
	if (fd < 0)
		return error_set(err, KB_EXIT_IO, "cannot open %s: %s — check its permissions",
				 what, strerror(errno));
	if (fstat(fd, &st) != 0 || st.st_uid != geteuid()) {
		close(fd);
		return error_set(err, KB_EXIT_IO, "%s does not belong to you — %s", what, fix);
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		return error_set(err, KB_EXIT_IO,
				 "%s is accessible to group or others (mode %04o) — run chmod 700 "
				 "on it",
				 what, (unsigned)(st.st_mode & 07777));
	}
	return fd;
}

#define RUNTIME_DIR_FIX "point XDG_RUNTIME_DIR at a directory of yours with mode 0700, or unset it"

/* $XDG_RUNTIME_DIR/keybearer (the cache's private directory), else a new directory of
 * mkdtemp's under $TMPDIR or /tmp. */
static int
token_file_open(struct token_file *tf, const char *profile, struct error *err)
{
	const char *runtime = getenv("XDG_RUNTIME_DIR"), *tmp = getenv("TMPDIR");
	char what[4200];
	int runtime_fd, n;

	memset(tf, 0, sizeof(*tf));
	tf->dirfd = -1;
	if (runtime != NULL && runtime[0] != '\0') {
		if (runtime[0] != '/')
			return error_set(
				err, KB_EXIT_IO,
				"XDG_RUNTIME_DIR (%.200s) is not an absolute path — fix or "
				"unset it",
				runtime);
		snprintf(what, sizeof(what), "XDG_RUNTIME_DIR (%.4000s)", runtime);
		runtime_fd = open_private_dir(AT_FDCWD, runtime, what, RUNTIME_DIR_FIX, err);
		if (runtime_fd < 0)
			return -1;
		n = snprintf(tf->dir, sizeof(tf->dir), "%s/keybearer", runtime);
		if (n < 0 || (size_t)n >= sizeof(tf->dir)) {
			close(runtime_fd);
			return error_set(err, KB_EXIT_IO,
					 "XDG_RUNTIME_DIR is too long — use a shorter path");
		}
		if (mkdirat(runtime_fd, "keybearer", 0700) != 0 && errno != EEXIST) {
			error_set(err, KB_EXIT_IO, "cannot create %s: %s — check its permissions",
				  tf->dir, strerror(errno));
			close(runtime_fd);
			return -1;
		}
		tf->dirfd = open_private_dir(runtime_fd, "keybearer", tf->dir,
					     "remove it; keybearer makes it anew", err);
		close(runtime_fd);
	} else {
		if (tmp == NULL || tmp[0] != '/')
			tmp = "/tmp";
		n = snprintf(tf->dir, sizeof(tf->dir), "%s/keybearer-exec.XXXXXX", tmp);
		if (n < 0 || (size_t)n >= sizeof(tf->dir))
			return error_set(err, KB_EXIT_IO,
					 "TMPDIR is too long — use a shorter path");
		if (mkdtemp(tf->dir) == NULL)
			return error_set(err, KB_EXIT_IO,
					 "cannot create a private directory in %s: %s — set "
					 "XDG_RUNTIME_DIR, or TMPDIR to a writable directory",
					 tmp, strerror(errno));
		tf->made_dir = 1;
		tf->dirfd = open_private_dir(AT_FDCWD, tf->dir, tf->dir, "check TMPDIR", err);
		if (tf->dirfd < 0) {
			rmdir(tf->dir);
			tf->made_dir = 0;
		}
	}
	if (tf->dirfd < 0)
		return -1;
	/* profile names are letters, digits, '.', '_' and '-': no '/' */
	snprintf(tf->name, sizeof(tf->name), "%s.%ld.token", profile, (long)getpid());
	snprintf(tf->tmp_name, sizeof(tf->tmp_name), ".%s.tmp", tf->name);
	n = snprintf(tf->path, sizeof(tf->path), "%s/%s", tf->dir, tf->name);
	if (n < 0 || (size_t)n >= sizeof(tf->path)) {
		close(tf->dirfd);
		tf->dirfd = -1;
		return error_set(err, KB_EXIT_IO,
				 "the token file's path is too long — use a "
				 "shorter XDG_RUNTIME_DIR");
	}
	return 0;
}

static void
token_file_close(struct token_file *tf)
{
	if (tf->dirfd < 0)
		return;
	unlinkat(tf->dirfd, tf->name, 0);
	unlinkat(tf->dirfd, tf->tmp_name, 0);
	close(tf->dirfd);
	tf->dirfd = -1;
	if (tf->made_dir)
		rmdir(tf->dir);
}

/* The token alone, no newline (readers that trim and readers that do not take it alike),
 * in a new file renamed over the old one: every read sees a whole token, old or new. */
static int
token_file_write(const struct token_file *tf, const char *token, struct error *err)
{
	size_t len = strlen(token), done = 0;
	ssize_t n;
	int fd, attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		fd = openat(tf->dirfd, tf->tmp_name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
		unlinkat(tf->dirfd, tf->tmp_name, 0); /* left by a write that was cut short */
	}
	if (fd < 0)
		return error_set(err, KB_EXIT_IO, "cannot create %s/%s: %s — check %s", tf->dir,
				 tf->tmp_name, strerror(errno), tf->dir);
	if (fchmod(fd, 0600) != 0)
		goto failed;
	while (done < len) {
		n = write(fd, token + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto failed;
		done += (size_t)n;
	}
	if (close(fd) != 0) {
		fd = -1;
		goto failed;
	}
	fd = -1;
	if (renameat(tf->dirfd, tf->tmp_name, tf->dirfd, tf->name) != 0)
		goto failed;
	return 0;
failed:
	error_set(err, KB_EXIT_IO, "cannot write %s: %s — free some space in %s", tf->path,
		  strerror(errno != 0 ? errno : EIO), tf->dir);
	if (fd >= 0)
		close(fd);
	unlinkat(tf->dirfd, tf->tmp_name, 0);
	return -1;
}

/* Whole seconds by the wall clock, the unit the cache's times are in: the moment of the
 * next tick is when a token's seconds left next drop by one. time(), which the cache's
 * clock reads, is the kernel's coarse clock, a few ms behind: a wake at the very tick
 * would still read the old second and sleep one more. */
#define COARSE_CLOCK_SLACK_MS 20

static long long
ms_to_next_second(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return 1000 - ts.tv_nsec / 1000000 + COARSE_CLOCK_SLACK_MS;
}

/* The supervisor's view of its token and of a refresh that failed. */
struct supervisor {
	const struct config *cfg;
	const struct profile *p;
	struct token_file tf;
	struct cache_record rec; /* the token in the file, or the last one that was */
	int file_present;
	int failing;	     /* a refresh failed, and none has worked since: said once */
	int said_removed;    /* the file was removed for want of a live token: said once */
	long long retry_at;  /* failing: the boot clock (else wall clock) of the next try */
	int saved_stderr;    /* our stderr, while a refresh's messages go to capture */
	int capture;	     /* a memory file for a refresh's messages, or -1 */
	sigset_t wait_mask;  /* the mask while waiting: SIGCHLD let through */
	sigset_t child_mask; /* only SIGCHLD: blocked outside the waits and the refreshes */
};

static long long
lifetime_of(const struct cache_record *rec)
{
	return rec->expires_at - rec->obtained_at;
}

static long long
window_of(const struct supervisor *s)
{
	return cache_refresh_window(lifetime_of(&s->rec), s->p->refresh_margin);
}

static long long
clock_for_retry(const struct cache_clock *now)
{
	return now->boot >= 0 ? now->boot : now->wall;
}

/* Until the next thing to do: the token entering its refresh window (or, while failing,
 * the next try the recorded backoff allows), and the token reaching its floor. */
static long long
next_wake_ms(const struct supervisor *s)
{
	struct cache_clock now;
	long long left, ticks, floor_ticks, ms;

	cache_clock_now(&now);
	left = cache_record_left(&s->rec, &now);
	if (!s->failing)
		ticks = left - window_of(s) + 1;
	else
		ticks = s->retry_at - clock_for_retry(&now);
	if (s->file_present) {
		floor_ticks = left - cache_floor(lifetime_of(&s->rec)) + 1;
		if (floor_ticks < ticks)
			ticks = floor_ticks;
	}
	if (ticks <= 0)
		return 0;
	ms = (ticks - 1) * 1000 + ms_to_next_second();
	return ms < TOKENFILE_NAP_MS ? ms : TOKENFILE_NAP_MS;
}

/* A refresh's messages (keybearer-fetch's too: it shares our stderr) go to a memory file,
 * so that a failure that repeats is said once, not at every try. */
static void
capture_begin(struct supervisor *s)
{
	if (s->capture < 0 || s->saved_stderr < 0 || error_debug_enabled())
		return;
	fflush(stderr);
	if (ftruncate(s->capture, 0) == 0 && lseek(s->capture, 0, SEEK_SET) == 0)
		dup2(s->capture, STDERR_FILENO);
}

static void
capture_end(struct supervisor *s, int show)
{
	char chunk[4096];
	ssize_t n;

	if (s->capture < 0 || s->saved_stderr < 0 || error_debug_enabled())
		return;
	fflush(stderr);
	dup2(s->saved_stderr, STDERR_FILENO);
	if (!show || lseek(s->capture, 0, SEEK_SET) != 0)
		return;
	while ((n = read(s->capture, chunk, sizeof(chunk))) > 0) {
		if (write(STDERR_FILENO, chunk, (size_t)n) != n)
			break;
	}
}

/* One caller's failure is every caller's answer: the next try waits as long as the failure
 * recorded beside the cache holds, and never less than the cache's own backoff. */
static long long
retry_delay(const struct profile *p)
{
	struct lockstate_failure failure;
	struct cache_clock now;
	char fingerprint[65];
	long long holds;

	lockstate_peek(p, &failure);
	cache_clock_now(&now);
	cache_profile_fingerprint(p, fingerprint);
	holds = lockstate_failure_holds(&failure, &now, fingerprint);
	return holds > CACHE_BACKOFF_SECONDS ? holds : CACHE_BACKOFF_SECONDS;
}

static void
refresh_failed(struct supervisor *s, const struct error *why)
{
	struct cache_clock now;
	long long delay = retry_delay(s->p);

	cache_clock_now(&now);
	s->retry_at = clock_for_retry(&now) + delay;
	if (s->failing)
		return;
	s->failing = 1;
	if (why->message[0] != '\0')
		error_warn("%s", why->message);
	if (s->file_present)
		error_warn("no new token for %s: it keeps the current one, valid %lld s more; "
			   "keybearer asks again in %lld s",
			   s->tf.path, cache_record_left(&s->rec, &now), delay);
	else
		error_warn("no new token for %s yet: keybearer asks again in %lld s", s->tf.path,
			   delay);
}

static void
note_removed(struct supervisor *s)
{
	s->file_present = 0;
	if (!s->said_removed)
		error_warn("the token in %s is about to expire and no new one could be had: "
			   "removed the file; keybearer goes on asking",
			   s->tf.path);
	s->said_removed = 1;
}

/* Until the token has less than its floor left (at least 1 ms: 0 disarms an alarm). */
static long long
ms_to_floor(const struct supervisor *s)
{
	struct cache_clock now;
	long long ticks;

	cache_clock_now(&now);
	ticks = cache_record_left(&s->rec, &now) - cache_floor(lifetime_of(&s->rec)) + 1;
	return ticks <= 0 ? 1 : (ticks - 1) * 1000 + ms_to_next_second();
}

static void
refresh(struct supervisor *s)
{
	struct cache_record fresh = { 0 };
	struct error err = { 0 };
	struct cache_clock now;
	sigset_t during;
	int rc, good;

	capture_begin(s);
	floor_reached = 0;
	if (s->file_present)
		arm_floor_alarm(ms_to_floor(s));
	/* the command's end is noted at once, even while keybearer-fetch runs */
	sigprocmask(SIG_UNBLOCK, &s->child_mask, &during);
	rc = obtain_token(s->cfg, s->p, (int)window_of(s), &fresh, &err);
	sigprocmask(SIG_SETMASK, &during, NULL);
	arm_floor_alarm(0);
	if (floor_reached)
		note_removed(s);
	cache_clock_now(&now);
	/* a still-valid cached token handed out because the endpoint failed is no refresh */
	good = rc == 0 &&
	       cache_is_fresh(&fresh, &now, s->p->refresh_margin,
			      (int)cache_refresh_window(lifetime_of(&fresh), s->p->refresh_margin));
	capture_end(s, !good && !s->failing);
	if (child_done)
		goto out;
	if (good && token_file_write(&s->tf, fresh.access_token, &err) != 0)
		good = 0;
	if (!good) {
		refresh_failed(s, &err);
		goto out;
	}
	if (s->failing || !s->file_present)
		fprintf(stderr, "keybearer: %s holds a new token again\n", s->tf.path);
	cache_record_free(&s->rec);
	s->rec = fresh;
	fresh.access_token = NULL;
	s->file_present = 1;
	s->failing = 0;
	s->said_removed = 0;
out:
	cache_record_free(&fresh);
}

/* What is due now: the file goes when its token reaches the floor with no replacement; a
 * token in its refresh window is replaced, when the backoff allows a try. */
static void
tend(struct supervisor *s)
{
	struct cache_clock now;

	cache_clock_now(&now);
	if (s->file_present && !cache_is_usable(&s->rec, &now)) {
		unlinkat(s->tf.dirfd, s->tf.name, 0);
		note_removed(s);
	}
	if (s->file_present && cache_record_left(&s->rec, &now) >= window_of(s))
		return;
	if (s->failing && clock_for_retry(&now) < s->retry_at)
		return;
	refresh(s);
}

static void
supervise(struct supervisor *s)
{
	/* a nap on the boot clock: one that a suspend outlasted ends at the resume, so the
	 * file never keeps a token that died meanwhile for long */
	int timer = timerfd_create(CLOCK_BOOTTIME, TFD_CLOEXEC);
	struct pollfd pfd = { .fd = timer, .events = POLLIN };
	struct itimerspec when = { { 0, 0 }, { 0, 0 } };
	struct timespec nap;
	uint64_t expirations;
	long long ms;

	while (!child_done) {
		tend(s);
		if (child_done)
			break;
		ms = next_wake_ms(s);
		nap.tv_sec = ms / 1000;
		nap.tv_nsec = (ms % 1000) * 1000000L + (ms == 0); /* 0 would disarm it */
		when.it_value = nap;
		/* SIGCHLD (and the forwarded signals) end the nap; none is lost between the
		 * check above and the sleep, as SIGCHLD is blocked until ppoll lets it in */
		if (timer >= 0 && timerfd_settime(timer, 0, &when, NULL) == 0) {
			if (ppoll(&pfd, 1, NULL, &s->wait_mask) > 0 &&
			    read(timer, &expirations, sizeof(expirations)) < 0)
				continue; /* a signal came first: nothing to read */
		} else {
			ppoll(NULL, 0, &nap, &s->wait_mask);
		}
	}
	if (timer >= 0)
		close(timer);
}

/* Handlers for the forwarded signals the caller did not ignore (an ignored one stays
 * ignored for the command, as across exec), and for SIGCHLD. */
static int
install_handlers(struct error *err)
{
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigfillset(&sa.sa_mask);
	for (i = 0; i < FORWARDED_COUNT; i++) {
		if (sigaction(forwarded_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			continue;
		if (sigaction(forwarded_signals[i], &sa, NULL) != 0)
			return error_set(err, KB_EXIT_INTERNAL,
					 "cannot pass signals on: %s — report this bug",
					 strerror(errno));
	}
	sa.sa_sigaction = note_child_exit;
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
	if (sigaction(SIGCHLD, &sa, NULL) != 0)
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot watch the command: %s — report this bug", strerror(errno));
	return 0;
}

/* keybearer's own handlers, installed once the command runs: it gets the dispositions of
 * these that keybearer was started with, as across exec. */
static void
install_own_handlers(void)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = remove_at_floor;
	sa.sa_flags = SA_RESTART;
	sigfillset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL); /* of a valid signal: cannot fail */
	/* a reader of our stderr gone must not kill the supervisor and leave the file (a
	 * handler, not SIG_IGN: the command gets the default back, as across exec) */
	if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = ignore_signal;
		sa.sa_flags = SA_RESTART;
		sigaction(SIGPIPE, &sa, NULL);
	}
}

/* The command, with the signal mask keybearer was started with. */
static int
spawn_command(char **argv, char **env, const sigset_t *original, pid_t *pid, struct error *err)
{
	posix_spawnattr_t attr;
	mode_t own_umask;
	int rc;

	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, original);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	own_umask = plugin_umask_for_command();
	rc = posix_spawnp(pid, argv[0], NULL, &attr, argv, env);
	umask(own_umask);
	posix_spawnattr_destroy(&attr);
	if (rc != 0)
		return error_set(err, KB_EXIT_CANNOT_RUN,
				 "cannot run %.*s%s: %s — check the command and PATH",
				 PLUGIN_QUOTE(argv[0], 200), strerror(rc));
	return 0;
}

/* keybearer holds none of the command's stdin and stdout once it runs: a reader of its
 * output sees the end when the command ends. */
static void
let_go_of_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	close(fd);
}

/* The caller sees the command's own wait status: its exit code, or the same signal. The
 * file is gone by then; no core of ours (it would hold the token) is written. */
static int
mirror_status(int status, struct error *err)
{
	struct rlimit no_core = { 0, 0 };
	sigset_t only;
	int sig;

	if (WIFEXITED(status)) {
		err->code = (enum exit_code)WEXITSTATUS(status);
		err->message[0] = '\0';
		return WEXITSTATUS(status) == 0 ? 0 : -1;
	}
	sig = WTERMSIG(status);
	fflush(stderr);
	setrlimit(RLIMIT_CORE, &no_core);
	signal(sig, SIG_DFL);
	sigemptyset(&only);
	sigaddset(&only, sig);
	sigprocmask(SIG_UNBLOCK, &only, NULL);
	raise(sig);
	err->code = (enum exit_code)(128 + sig);
	err->message[0] = '\0';
	return -1;
}

/* The command's environment: ours without the client secrets, and variable=path. Ours
 * stays as it is: keybearer-fetch reads its secrets from it at every refresh, even one
 * --env happens to name. */
static int
command_environment(const struct config *cfg, const char *variable, const char *path, char ***env,
		    char **entry)
{
	size_t n = 0, kept = 0, len = strlen(variable);
	char **without = config_environment_without_secrets(cfg);

	*env = NULL;
	if (without == NULL || asprintf(entry, "%s=%s", variable, path) < 0) {
		*entry = NULL;
		free(without);
		return -1;
	}
	while (without[n] != NULL)
		n++;
	*env = malloc((n + 2) * sizeof(**env));
	if (*env == NULL) {
		free(without);
		return -1;
	}
	for (n = 0; without[n] != NULL; n++) {
		if (strncmp(without[n], variable, len) != 0 || without[n][len] != '=')
			(*env)[kept++] = without[n];
	}
	(*env)[kept++] = *entry;
	(*env)[kept] = NULL;
	free(without);
	return 0;
}

int
tokenfile_exec(const struct config *cfg, const struct profile *p, struct cache_record *first,
	       const char *variable, char **argv, struct error *err)
{
	struct supervisor s = { .cfg = cfg, .p = p, .saved_stderr = -1, .capture = -1 };
	sigset_t blocked, original;
	char **env = NULL, *entry = NULL;
	size_t i;
	int rc = -1;

	s.rec = *first;
	first->access_token = NULL;
	if (token_file_open(&s.tf, p->name, err) != 0)
		goto out;
	if (token_file_write(&s.tf, s.rec.access_token, err) != 0)
		goto out;
	s.file_present = 1;
	if (command_environment(cfg, variable, s.tf.path, &env, &entry) != 0) {
		error_set(err, KB_EXIT_INTERNAL, "cannot set %.*s%s: %s — free some memory",
			  PLUGIN_QUOTE(variable, 64), strerror(errno));
		goto out;
	}
	s.saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	s.capture = memfd_create("keybearer-refresh-messages", MFD_CLOEXEC);
	/* no signal is handled before the command's pid and the file's names are known */
	sigemptyset(&blocked);
	sigaddset(&blocked, SIGCHLD);
	for (i = 0; i < FORWARDED_COUNT; i++)
		sigaddset(&blocked, forwarded_signals[i]);
	sigprocmask(SIG_BLOCK, &blocked, &original);
	handler_dirfd = s.tf.dirfd;
	snprintf(handler_name, sizeof(handler_name), "%s", s.tf.name);
	own_pgrp = getpgrp();
	own_parent = getppid();
	if (install_handlers(err) != 0 ||
	    spawn_command(argv, env, &original, &child_pid, err) != 0) {
		sigprocmask(SIG_SETMASK, &original, NULL);
		goto out;
	}
	install_own_handlers();
	let_go_of_stdio();
	sigemptyset(&s.child_mask);
	sigaddset(&s.child_mask, SIGCHLD);
	s.wait_mask = original;
	sigdelset(&s.wait_mask, SIGCHLD);
	for (i = 0; i < FORWARDED_COUNT; i++)
		sigdelset(&s.wait_mask, forwarded_signals[i]);
	/* the forwarded signals may come now; SIGCHLD only in the waits and refreshes */
	sigprocmask(SIG_SETMASK, &original, NULL);
	sigprocmask(SIG_BLOCK, &s.child_mask, NULL);
	supervise(&s);
	token_file_close(&s.tf);
	handler_dirfd = -1;
	cache_record_free(&s.rec);
	rc = mirror_status(child_status, err);
out:
	free(env);
	free(entry);
	token_file_close(&s.tf);
	cache_record_free(&s.rec);
	if (s.capture >= 0)
		close(s.capture);
	if (s.saved_stderr >= 0)
		close(s.saved_stderr);
	return rc;
}

/* ---- plain exec's watcher ---- */

static long long
boot_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Whether the process behind pidfd has ended, waiting at most ms (-1: for ever). */
static int
ended_within(int pidfd, long long ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, (int)ms);
	while (n < 0 && errno == EINTR);
	return n != 0;
}

/* The watcher: sleeps until the token's expiry (by the boot clock, which counts a
 * suspend), leaving at once when the command ends; says it once if the command still
 * runs then. Never returns. */
static void
watch(int pidfd, pid_t watched, long long left, long long expires_at, const char *variable,
      const char *command)
{
	long long deadline = boot_ms() + left * 1000, ms;
	char when[32];
	int fd;

	/* nothing of the command's but stderr: not its stdin or stdout, no other fd */
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
	}
	if (pidfd > STDERR_FILENO + 1)
		close_range(STDERR_FILENO + 1, (unsigned)pidfd - 1, 0);
	close_range((unsigned)pidfd + 1, ~0U, 0);
	/* the terminal's signals are for the command; the watcher ends with it anyway */
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGTSTP, SIG_IGN);
	signal(SIGTTOU, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "keybearer-watch", 0, 0, 0);
	while ((ms = deadline - boot_ms()) > 0) {
		if (ended_within(pidfd, ms < TOKENFILE_NAP_MS ? ms : TOKENFILE_NAP_MS))
			_exit(0);
	}
	if (ended_within(pidfd, 0))
		_exit(0);
	output_rfc3339(expires_at, when, sizeof(when));
	fprintf(stderr,
		"keybearer: the token in %s expired at %s while %.*s%s (pid %ld) still runs: "
		"its requests with it are refused from now on — use keybearer exec "
		"--token-file for jobs that outlive a token\n",
		variable, when, PLUGIN_QUOTE(command, 64), (long)watched);
	/* a command that reaps orphans (pid 1 of a container) is our parent now: it must
	 * not find a child it never made, so the watcher ends only after it */
	if (getppid() == watched)
		ended_within(pidfd, -1);
	_exit(0);
}

void
tokenfile_watch_expiry(const struct cache_record *rec, const char *variable, char **argv)
{
	sigset_t pending_before, pending_after, chld;
	struct cache_clock now;
	pid_t self = getpid(), pid;
	long long left;
	int pidfd;

	cache_clock_now(&now);
	left = cache_record_left(rec, &now);
	pidfd = (int)syscall(SYS_pidfd_open, self, 0);
	if (pidfd < 0) {
		error_debug("no watcher for the token's expiry: pidfd_open: %s", strerror(errno));
		return;
	}
	sigpending(&pending_before);
	pid = fork();
	if (pid == 0) {
		/* the watcher is a grandchild: the command, which keeps our pid, never gets
		 * its SIGCHLD */
		if (fork() == 0) {
			explicit_bzero(rec->access_token, strlen(rec->access_token));
			watch(pidfd, self, left, rec->expires_at, variable, argv[0]);
		}
		_exit(0);
	}
	close(pidfd);
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	/* a SIGCHLD the caller blocks would stay pending across exec, for the command */
	sigpending(&pending_after);
	if (sigismember(&pending_after, SIGCHLD) && !sigismember(&pending_before, SIGCHLD)) {
		struct timespec zero = { 0, 0 };
		sigemptyset(&chld);
		sigaddset(&chld, SIGCHLD);
		sigtimedwait(&chld, NULL, &zero);
	}
}

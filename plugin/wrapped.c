#include "wrapped.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "obtain.h"
#include "output.h"
#include "plugin.h"
#include "url.h"

#define HOLD_BACK_MAX	 (8 * 1024 * 1024)
#define STATUS_LINE_MAX	 512
#define FD_ABOVE_TARGETS 10 /* the descriptors we hand over are dup2'ed to 1-4 */

int
wrapped_shown_len(size_t len)
{
	return len > WRAPPED_SHOWN_MAX ? WRAPPED_SHOWN_MAX : (int)len;
}

const char *
wrapped_shown_rest(size_t len)
{
	return len > WRAPPED_SHOWN_MAX ? "…" : "";
}

const struct wrapped_option *
wrapped_find_long(const struct wrapped_option *table, size_t count, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (strlen(table[i].name) == len && strncmp(table[i].name, name, len) == 0)
			return &table[i];
	}
	return NULL;
}

const struct wrapped_option *
wrapped_find_short(const struct wrapped_option *table, size_t count, char letter)
{
	size_t i;

	for (i = 0; i < count; i++) {
		if (table[i].letter == letter)
			return &table[i];
	}
	return NULL;
}

int
wrapped_leading_options(int argc, char **argv, const char **profile_flag)
{
	int first = 1;

	*profile_flag = NULL;
	if (first < argc && strncmp(argv[first], "--profile=", 10) == 0) {
		*profile_flag = argv[first++] + 10;
	} else if (first + 1 < argc && strcmp(argv[first], "--profile") == 0) {
		*profile_flag = argv[first + 1];
		first += 2;
	}
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	return first;
}

int
wrapped_check_url(const struct config *cfg, const struct profile **p, const char *word,
		  const char *url, const char *whole_origin, int *plain_http, struct error *err)
{
	char origin[URL_HOST_MAX + 32];
	struct url parsed;

	if (*p == NULL)
		*p = config_match_url(cfg, url);
	if (*p == NULL || !config_profile_claims(*p, url) || url_parse(url, &parsed) != 0) {
		/* says what the urls claim instead, and the urls line that would claim url */
		char why[ERROR_MESSAGE_MAX];
		config_explain_unclaimed(cfg, *p, url, word, why, sizeof(why));
		return error_set(err, KB_EXIT_CONFIG, "%s", why);
	}
	if (whole_origin != NULL &&
	    (url_origin(url, origin, sizeof(origin)) != 0 || !config_profile_claims(*p, origin)))
		return error_set(err, KB_EXIT_CONFIG,
				 "with %s, profile %s must claim all of %.200s's origin — claim "
				 "it, or leave out %s",
				 whole_origin, (*p)->name, word, whole_origin);
	if (strcmp(parsed.scheme, "http") == 0) {
		/* a profile claims plain http only on loopback (url_check_endpoint) */
		if (!url_host_is_loopback(parsed.host))
			return error_set(err, KB_EXIT_CONFIG,
					 "%.200s is plain http to %s: the token would travel "
					 "unencrypted — use https://",
					 word, parsed.host);
		*plain_http = 1;
	}
	return 0;
}

/* A descriptor we hand over must not be one of the numbers it is dup2'ed to, or an
 * earlier dup2 would overwrite it before its own. */
static int
raise_fd(int fd)
{
	int raised;

	if (fd < 0 || fd >= FD_ABOVE_TARGETS)
		return fd;
	raised = fcntl(fd, F_DUPFD_CLOEXEC, FD_ABOVE_TARGETS);
	close(fd);
	return raised;
}

/* The pipe is made big enough and written without blocking: it can never fill. */
int
wrapped_config_pipe(const char *text, const char *tool, struct error *err)
{
	int fds[2] = { -1, -1 }, problem;
	size_t len = strlen(text);
	ssize_t written;

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
		problem = errno;
	} else {
		if (fcntl(fds[1], F_GETPIPE_SZ) < (long)len)
			(void)fcntl(fds[1], F_SETPIPE_SZ, (int)len);
		/* an empty pipe that holds len bytes takes them in one write */
		written = write(fds[1], text, len);
		problem = written < 0 ? errno : (size_t)written < len ? EMSGSIZE : 0;
		close(fds[1]);
		if (problem == 0 && fcntl(fds[0], F_SETFL, 0) != 0)
			problem = errno;
		if (problem == 0 && (fds[0] = raise_fd(fds[0])) < 0)
			problem = errno;
	}
	if (problem != 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot hand %s its config on a pipe: %s — check the process "
				 "limits (pipe sizes: /proc/sys/fs/pipe-user-pages-soft)",
				 tool, strerror(problem == EAGAIN ? EMSGSIZE : problem));
	}
	return fds[0];
}

/* Our descriptor of the memory file, until the tool opens it. One at a time: a tool is
 * run, and waited for, before the next config is made. */
static volatile sig_atomic_t once_fd = -1;

/* The kernel holds the tool's open until the lease is gone: closing the one descriptor
 * that holds it both lets that open go on and takes path away. close is async-signal-safe.
 * The handler stays for the process's life: a late signal finds nothing to close. */
static void
config_opened(int sig)
{
	int fd = once_fd;

	(void)sig;
	if (fd >= 0) {
		once_fd = -1;
		close(fd);
	}
}

void
wrapped_config_once_close(struct wrapped_once *once)
{
	sigset_t lease, saved;

	sigemptyset(&lease);
	sigaddset(&lease, SIGRTMIN);
	sigprocmask(SIG_BLOCK, &lease, &saved);
	if (once_fd >= 0)
		close(once_fd);
	once_fd = -1;
	sigprocmask(SIG_SETMASK, &saved, NULL);
	once->fd = -1;
}

static int
once_failed(struct wrapped_once *once, const char *tool, const char *step, int problem,
	    const char *hint, struct error *err)
{
	wrapped_config_once_close(once);
	return error_set(err, KB_EXIT_INTERNAL, "cannot hand %s its config once: %s: %s — %s", tool,
			 step, strerror(problem), hint);
}

int
wrapped_config_once(const char *text, const char *tool, struct wrapped_once *once,
		    struct error *err)
{
	static const char *limits = "check the process limits";
	struct sigaction opened = { .sa_handler = config_opened, .sa_flags = SA_RESTART };
	struct stat ours, seen;
	char self[32];
	int writable, fd, problem;

	once->fd = -1;
	once->path[0] = '\0';
	writable = memfd_create("keybearer-config", MFD_CLOEXEC);
	if (writable < 0)
		return once_failed(once, tool, "memfd_create", errno, limits, err);
	if (output_write_all(writable, text, strlen(text)) != 0) {
		problem = errno;
		close(writable);
		return once_failed(once, tool, "writing the memory file", problem, limits, err);
	}
	/* A write lease needs the lease holder's to be the file's only open, and some kernels
	 * refuse it on a memory file's own descriptor, which can write: a read-only open
	 * takes its place. */
	snprintf(self, sizeof(self), "/proc/self/fd/%d", writable);
	fd = open(self, O_RDONLY | O_CLOEXEC);
	problem = errno;
	close(writable);
	if (fd < 0)
		return once_failed(once, tool, self, problem, "mount /proc", err);
	sigaction(SIGRTMIN, &opened, NULL);
	once_fd = fd;
	once->fd = fd;
	if (fcntl(fd, F_SETSIG, SIGRTMIN) != 0 || fcntl(fd, F_SETLEASE, F_WRLCK) != 0)
		return once_failed(once, tool, "a file lease (fcntl F_SETLEASE)", errno,
				   "enable file leases (/proc/sys/fs/leases-enable)", err);
	snprintf(once->path, sizeof(once->path), "/proc/%ld/fd/%d", (long)getpid(), fd);
	/* The tool opens path in our /proc: it must show this very file (a /proc of another
	 * PID namespace would show another process's descriptor). stat opens nothing. */
	if (stat(once->path, &seen) != 0 || fstat(fd, &ours) != 0)
		return once_failed(once, tool, once->path, errno, "mount /proc", err);
	if (seen.st_dev != ours.st_dev || seen.st_ino != ours.st_ino)
		return once_failed(once, tool, once->path, ESTALE,
				   "mount the /proc of this PID namespace", err);
	return 0;
}

int
wrapped_client_cert(const struct profile *p, struct wrapped_cert *cert, struct error *err)
{
	const unsigned seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
	char number[16], answer[16];
	const char *args[] = { "client-cert", "--profile", p->name, "--fd", number, NULL };
	struct stat st;
	ssize_t answer_len;
	int got;

	cert->fd = -1;
	cert->path[0] = '\0';
	if (!config_auth_is_mtls(p->auth_method))
		return 0;
	cert->fd = memfd_create("keybearer-client-cert", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (cert->fd < 0)
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot make a memory file for the client certificate: %s — check "
				 "the process limits",
				 strerror(errno));
	snprintf(number, sizeof(number), "%d", cert->fd);
	if (obtain_run_fetch(args, cert->fd, answer, sizeof(answer), &answer_len, err) != 0)
		goto fail;
	/* what reaches the tool is what keybearer-fetch wrote, and no one else can add to it */
	got = fcntl(cert->fd, F_GET_SEALS);
	if (got < 0 || ((unsigned)got & seals) != seals || fstat(cert->fd, &st) != 0 ||
	    st.st_size == 0) {
		error_set(err, KB_EXIT_INTERNAL,
			  "keybearer-fetch did not hand over a sealed client certificate for "
			  "profile %s — reinstall keybearer",
			  p->name);
		goto fail;
	}
	snprintf(cert->path, sizeof(cert->path), "/proc/%ld/fd/%d", (long)getpid(), cert->fd);
	return 0;
fail:
	wrapped_client_cert_close(cert);
	return -1;
}

void
wrapped_client_cert_close(struct wrapped_cert *cert)
{
	if (cert->fd >= 0)
		close(cert->fd);
	cert->fd = -1;
	cert->path[0] = '\0';
}

struct status_line {
	char text[STATUS_LINE_MAX];
	size_t len;
	int too_long; /* longer than any status line: not one */
};

/* Notes the status of every "HTTP/x nnn" line in the header dump read so far. A line too
 * long for the buffer is no status line, and is not read from a cut. */
static void
scan_status_lines(struct status_line *line, const char *data, size_t len, struct wrapped_run *run)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (data[i] != '\n') {
			if (line->len + 1 < sizeof(line->text))
				line->text[line->len++] = data[i];
			else
				line->too_long = 1;
			continue;
		}
		line->text[line->len] = '\0';
		if (!line->too_long && strncmp(line->text, "HTTP/", 5) == 0 &&
		    strchr(line->text, ' ') != NULL)
			run->last_status = atoi(strchr(line->text, ' ') + 1);
		line->len = 0;
		line->too_long = 0;
	}
}

static void
pass_on(struct wrapped_stream *s, const char *data, size_t len)
{
	if (len == 0)
		return;
	s->passed = 1;
	if (!s->failed && output_write_all(s->to, data, len) != 0) {
		s->failed = 1;
		s->error = errno;
	}
}

static void
pass_held(struct wrapped_stream *s)
{
	pass_on(s, s->held, s->held_len);
	s->held_len = 0;
}

/* -1 when data does not fit: too much for a 401's answer, or no memory for it. */
static int
hold(struct wrapped_stream *s, const char *data, size_t len)
{
	char *grown;

	if (s->held_len + len > HOLD_BACK_MAX)
		return -1;
	grown = realloc(s->held, s->held_len + len);
	if (grown == NULL)
		return -1;
	s->held = grown;
	memcpy(s->held + s->held_len, data, len);
	s->held_len += len;
	return 0;
}

/* Whether the answer is known to be no 401: a final status (not 1xx) in the header dump,
 * or for a tool that writes no body for a 401, a body. */
static int
goes_on(const struct wrapped_run *run)
{
	return run->released ||
	       (!run->body_releases && run->last_status >= 200 && run->last_status != 401);
}

static void
relay_chunk(struct wrapped_run *run, struct wrapped_stream *s, const char *data, size_t len)
{
	if (s == &run->out && run->body_releases)
		run->released = 1;
	if (!goes_on(run)) {
		if (hold(s, data, len) == 0)
			return;
		run->released = 1; /* it is the real answer: no retry can replace it */
	}
	pass_held(&run->out);
	pass_held(&run->err);
	pass_on(s, data, len);
}

/* fds: the header dump (or -1), stdout, stderr. */
static void
relay(int header_fd, int out_fd, int err_fd, struct wrapped_run *run)
{
	struct pollfd fds[3] = { { .fd = header_fd, .events = POLLIN },
				 { .fd = out_fd, .events = POLLIN },
				 { .fd = err_fd, .events = POLLIN } };
	struct status_line line = { .len = 0 };
	char chunk[65536];
	ssize_t n;
	int i;

	while (fds[0].fd >= 0 || fds[1].fd >= 0 || fds[2].fd >= 0) {
		if (poll(fds, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* curl writes a response's headers before its body, and before anything it
		 * says about it: the header dump is drained first */
		if (fds[0].fd >= 0 && fds[0].revents != 0) {
			n = read(fds[0].fd, chunk, sizeof(chunk));
			if (n > 0)
				scan_status_lines(&line, chunk, (size_t)n, run);
			else if (n == 0 || errno != EINTR)
				fds[0].fd = -1;
			continue;
		}
		for (i = 1; i < 3; i++) {
			if (fds[i].fd < 0 || fds[i].revents == 0)
				continue;
			n = read(fds[i].fd, chunk, sizeof(chunk));
			if (n > 0)
				relay_chunk(run, i == 1 ? &run->out : &run->err, chunk, (size_t)n);
			else if (n == 0 || errno != EINTR)
				fds[i].fd = -1;
		}
	}
}

static volatile sig_atomic_t running_child;

static void
forward_signal(int sig)
{
	if (running_child > 0)
		kill((pid_t)running_child, sig);
}

static int
wait_for(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR)
			return 128;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* pipes: the header dump, stdout, stderr; each { read end, write end }, or -1s. */
static int
make_pipes(const struct wrapped_child *c, int pipes[3][2], struct error *err)
{
	int i, j;

	for (i = 0; i < 3; i++) {
		if (!c->watch || (i == 0 && c->header_to < 0))
			continue;
		if (pipe2(pipes[i], O_CLOEXEC) != 0)
			return error_set(err, KB_EXIT_INTERNAL,
					 "cannot create a pipe: %s — check the process limits",
					 strerror(errno));
		for (j = 0; j < 2; j++) {
			if ((pipes[i][j] = raise_fd(pipes[i][j])) < 0)
				return error_set(err, KB_EXIT_INTERNAL,
						 "cannot move a pipe: %s — check the process "
						 "limits",
						 strerror(errno));
		}
	}
	return 0;
}

int
wrapped_run(const struct wrapped_child *c, struct wrapped_run *run, struct error *err)
{
	static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP };
	static const int targets[3] = { -1, STDOUT_FILENO, STDERR_FILENO };
	struct sigaction forward = { .sa_handler = forward_signal }, saved[3];
	int pipes[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	posix_spawn_file_actions_t actions;
	int i, j, spawn_rc, rc = -1;
	mode_t own_umask;
	pid_t pid;

	memset(run, 0, sizeof(*run));
	run->out.to = STDOUT_FILENO;
	run->err.to = STDERR_FILENO;
	run->released = c->released;
	run->body_releases = c->header_to < 0;
	if (make_pipes(c, pipes, err) != 0)
		goto out;
	posix_spawn_file_actions_init(&actions);
	if (c->config_fd >= 0)
		posix_spawn_file_actions_adddup2(&actions, c->config_fd, c->config_to);
	for (i = 0; i < 3; i++) {
		if (pipes[i][1] >= 0)
			posix_spawn_file_actions_adddup2(&actions, pipes[i][1],
							 i == 0 ? c->header_to : targets[i]);
	}
	for (i = 0; i < 3; i++)
		sigaction(forwarded[i], &forward, &saved[i]);
	own_umask = plugin_umask_for_command();
	spawn_rc = posix_spawnp(&pid, c->tool, &actions, NULL, c->argv, c->env);
	umask(own_umask);
	posix_spawn_file_actions_destroy(&actions);
	if (spawn_rc == 0) {
		running_child = pid;
		for (i = 0; i < 3; i++) {
			if (pipes[i][1] >= 0)
				close(pipes[i][1]);
			pipes[i][1] = -1;
		}
		if (c->watch)
			relay(pipes[0][0], pipes[1][0], pipes[2][0], run);
		run->exit_status = wait_for(pid);
		running_child = 0;
		rc = 0;
	} else {
		error_set(err, KB_EXIT_CANNOT_RUN, "cannot run %s: %s — install %s", c->tool,
			  strerror(spawn_rc), c->tool);
	}
	for (i = 0; i < 3; i++)
		sigaction(forwarded[i], &saved[i], NULL);
out:
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 2; j++) {
			if (pipes[i][j] >= 0)
				close(pipes[i][j]);
		}
	}
	return rc;
}

int
wrapped_run_shown(const struct wrapped_run *run)
{
	return run->out.passed || run->err.passed;
}

void
wrapped_run_release(struct wrapped_run *run)
{
	pass_held(&run->out);
	pass_held(&run->err);
}

void
wrapped_run_free(struct wrapped_run *run)
{
	free(run->out.held);
	free(run->err.held);
	run->out.held = run->err.held = NULL;
	run->out.held_len = run->err.held_len = 0;
}

char **
wrapped_environment(const struct config *cfg, const char *const *drop)
{
	char **env = config_environment_without_secrets(cfg);
	size_t i, j, kept = 0, len;
	int dropped;

	if (env == NULL)
		return NULL;
	for (i = 0; env[i] != NULL; i++) {
		len = strcspn(env[i], "=");
		dropped = 0;
		for (j = 0; drop != NULL && drop[j] != NULL; j++) {
			if (strlen(drop[j]) == len && strncmp(env[i], drop[j], len) == 0)
				dropped = 1;
		}
		if (!dropped)
			env[kept++] = env[i];
	}
	env[kept] = NULL;
	return env;
}

int
wrapped_exit(const char *tool, const struct wrapped_run *run, struct error *err)
{
	if (run->out.failed)
		return error_set(err, KB_EXIT_IO,
				 "cannot write %s's output: %s — check where standard output goes",
				 tool, strerror(run->out.error));
	if (run->err.failed)
		return error_set(err, KB_EXIT_IO,
				 "cannot write %s's messages: %s — check where standard error goes",
				 tool, strerror(run->err.error));
	if (run->exit_status != 0) {
		/* the tool has said what went wrong; we only pass its status on */
		err->code = (enum exit_code)run->exit_status;
		err->message[0] = '\0';
		return -1;
	}
	return 0;
}

int
wrapped_refuse_option(const char *tool, const struct wrapped_option *opt, int as_short,
		      const char *why, struct error *err)
{
	if (as_short)
		return error_set(err, KB_EXIT_USAGE,
				 "keybearer %s does not take --%s (-%c): %s — leave it out", tool,
				 opt->name, opt->letter, why);
	return error_set(err, KB_EXIT_USAGE, "keybearer %s does not take --%s: %s — leave it out",
			 tool, opt->name, why);
}

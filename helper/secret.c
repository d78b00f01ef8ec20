#include "secret.h"

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
#include <time.h>
#include <unistd.h>

#include "keyring.h"
#include "safefile.h"
#include "monotonic.h"
#include "notice.h"

extern char **environ;

/* What is resolved, and how messages name it: the client secret, or another credential of
 * the profile read the same ways (secret_resolve_client_key). */
struct source {
	enum secret_kind kind;
	const char *arg;  /* variable name, file path or command */
	const char *what; /* "client secret", "client key" */
	const char *key;  /* the config key: "secret", "client_key" */
	int whole_output; /* a command's whole stdout, not its first line (a PEM key) */
};

typedef int (*secret_resolver)(const struct profile *p, const struct source *src, struct secret *s,
			       struct error *err);

static int
take(struct secret *s, const char *value, size_t len, const struct profile *p, const char *what,
     const char *origin, struct error *err)
{
	if (len == 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s for profile %s from %s is empty — put the %s there", what,
				 p->name, origin, what);
	if (len > SECRET_MAX || memchr(value, '\0', len) != NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s for profile %s from %s is not a text of at most "
				 "%d bytes — check what %s holds",
				 what, p->name, origin, SECRET_MAX, origin);
	s->size = len + 1;
	s->value = malloc(s->size);
	if (s->value == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	/* Kept out of swap where RLIMIT_MEMLOCK allows; wiped in secret_free either way. */
	memset(s->value, 0, s->size);
	mlock(s->value, s->size);
	memcpy(s->value, value, len);
	s->value[len] = '\0';
	return 0;
}

int
secret_take(struct secret *s, const char *value, size_t len, const struct profile *p,
	    const char *origin, struct error *err)
{
	return take(s, value, len, p, "client secret", origin, err);
}

int
secret_take_client_key(struct secret *s, const char *value, size_t len, const struct profile *p,
		       const char *origin, struct error *err)
{
	return take(s, value, len, p, "client key", origin, err);
}

static int
from_variable(const struct profile *p, const char *name, struct secret *s, struct error *err)
{
	const char *value = getenv(name);
	char origin[128];

	if (value == NULL || *value == '\0')
		return error_set(err, KB_EXIT_CONFIG,
				 "no client secret for profile %s: environment variable %s is not "
				 "set — export it (in CI, from a masked secret variable)",
				 p->name, name);
	snprintf(origin, sizeof(origin), "environment variable %s", name);
	return secret_take(s, value, strlen(value), p, origin, err);
}

static int
resolve_env(const struct profile *p, const struct source *src, struct secret *s, struct error *err)
{
	return from_variable(p, src->arg, s, err);
}

/* Editors and `echo` end files and lines with a newline that is not part of the secret. */
static size_t
strip_line_end(const char *text, size_t len)
{
	if (len > 0 && text[len - 1] == '\n')
		len--;
	if (len > 0 && text[len - 1] == '\r')
		len--;
	return len;
}

static int
resolve_file(const struct profile *p, const struct source *src, struct secret *s, struct error *err)
{
	/* Mounted secrets are often symlinks (Kubernetes: mount with defaultMode 0400); the
	 * mode and owner of the target are what matter. */
	char what[64];
	const struct safefile_rules rules = {
		.what = what,
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 077,
		.max_size = SECRET_MAX + 2,
		.code = KB_EXIT_CONFIG,
		.check_parents = 1,
	};
	char *text = NULL, origin[4200];
	struct stat st;
	size_t len = 0;
	int rc;

	snprintf(what, sizeof(what), "%s file", src->key);
	rc = safefile_read(AT_FDCWD, src->arg, &rules, &text, &len, err);
	if (rc == 1)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s file %s of profile %s does not exist — create it (mode "
				 "600) or fix %s = file:",
				 src->key, src->arg, p->name, src->key);
	if (rc != 0)
		return -1;
	snprintf(origin, sizeof(origin), "file %s", src->arg);
	rc = take(s, text, strip_line_end(text, len), p, src->what, origin, err);
	safefile_free_secret(text, len + 1);
	if (rc == 0 && stat(src->arg, &st) == 0)
		snprintf(s->origin, sizeof(s->origin), "file %llu:%llu:%lld:%lld.%09ld:%lld.%09ld",
			 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return rc;
}

static int
resolve_keyring(const struct profile *p, const struct source *src, struct secret *s,
		struct error *err)
{
	/* its own item: the key is never found where the secret is, nor the other way round */
	return strcmp(src->key, "client_key") == 0 ? keyring_lookup_client_key(p, s, err)
						   : keyring_lookup(p, s, err);
}

/* Reads the command's stdout until it closes, the buffer is full or the deadline passes;
 * -1 on the deadline. After about a second it says, once, what it waits for. */
static int
read_until(const struct profile *p, const struct source *src, int fd, char *buf, size_t cap,
	   size_t *len, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	long long started = monotonic_ms();

	*len = 0;
	while (*len < cap) {
		long long left = deadline - monotonic_ms(), wait;
		ssize_t n;
		if (left <= 0)
			return -1;
		if (notice_due(NOTICE_COMMAND, started))
			notice_say(NOTICE_COMMAND,
				   "the %s command of profile %s (at most %lld s more)", src->key,
				   p->name, (left + 999) / 1000);
		wait = left;
		if (monotonic_ms() - started < NOTICE_AFTER_MS &&
		    started + NOTICE_AFTER_MS - monotonic_ms() < wait)
			wait = started + NOTICE_AFTER_MS - monotonic_ms() + 1;
		if (poll(&pfd, 1, (int)wait) < 0 && errno != EINTR)
			return -1;
		if (pfd.revents == 0)
			continue;
		n = read(fd, buf + *len, cap - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		*len += (size_t)n;
	}
	return 0;
}

/* Waits for the command to exit until the deadline; -1 when it is still running. */
static int
wait_until(pid_t pid, int *status, long long deadline)
{
	for (;;) {
		pid_t done = waitpid(pid, status, WNOHANG);
		struct timespec pause = { 0, 10 * 1000 * 1000 };
		if (done == pid)
			return 0;
		if (done < 0 && errno != EINTR)
			return 0;
		if (monotonic_ms() >= deadline)
			return -1;
		nanosleep(&pause, NULL);
	}
}

static int
has_terminal(void)
{
	int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/* secret = command:CMD runs CMD with /bin/sh -c, exactly as written: none of our data goes
 * into it. Its stdout's first line is the secret (all of it for a PEM key); its stderr is
 * the user's to read. */
static int
resolve_command(const struct profile *p, const struct source *src, struct secret *s,
		struct error *err)
{
	char *argv[] = { "/bin/sh", "-c", (char *)src->arg, NULL };
	long long deadline = monotonic_ms() + (long long)p->timeout * 1000;
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	size_t cap = SECRET_MAX + 2, len = 0, line;
	char *buf = malloc(cap), origin[64];
	int fds[2] = { -1, -1 }, status = 0, rc = -1, spawn_rc, finished, own_group;
	pid_t pid;

	if (buf == NULL || pipe2(fds, O_CLOEXEC) != 0) {
		free(buf);
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot start the %s command: %s — "
				 "check the process limits",
				 src->key, strerror(errno));
	}
	memset(buf, 0, cap);
	mlock(buf, cap);
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
	posix_spawnattr_init(&attr);
	/* Headless, its own process group, so a timeout kills whatever the shell started
	 * too. With a terminal it stays in ours: a background group could not ask on the
	 * terminal (pass, gpg's pinentry), and Ctrl-C must reach it. */
	own_group = !has_terminal();
	if (own_group) {
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
		posix_spawnattr_setpgroup(&attr, 0);
	}
	spawn_rc = posix_spawn(&pid, "/bin/sh", &actions, &attr, argv, environ);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	close(fds[1]);
	if (spawn_rc != 0) {
		error_set(err, KB_EXIT_INTERNAL,
			  "cannot run /bin/sh for the %s command: %s — "
			  "check the installation",
			  src->key, strerror(spawn_rc));
		goto out;
	}
	finished = read_until(p, src, fds[0], buf, cap, &len, deadline) == 0 &&
		   wait_until(pid, &status, deadline) == 0;
	if (!finished) {
		kill(own_group ? -pid : pid, SIGKILL);
		waitpid(pid, &status, 0);
		error_set(err, KB_EXIT_TRANSIENT,
			  "the %s command of profile %s did not finish within %d s — run it by "
			  "hand to see why, or raise timeout",
			  src->key, p->name, p->timeout);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		error_set(err, KB_EXIT_CONFIG,
			  "the %s command of profile %s failed (%s %d) — run it by hand to see "
			  "why: %.200s",
			  src->key, p->name, WIFEXITED(status) ? "exit status" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), src->arg);
		goto out;
	}
	for (line = 0; line < len && (src->whole_output || buf[line] != '\n'); line++)
		;
	snprintf(origin, sizeof(origin), "its %s command", src->key);
	rc = take(s, buf, strip_line_end(buf, line < len ? line + 1 : line), p, src->what, origin,
		  err);
out:
	close(fds[0]);
	explicit_bzero(buf, cap);
	munlock(buf, cap);
	free(buf);
	return rc;
}

static const struct {
	enum secret_kind kind;
	secret_resolver resolve;
} resolvers[] = {
	{ SECRET_KEYRING, resolve_keyring },
	{ SECRET_ENV, resolve_env },
	{ SECRET_FILE, resolve_file },
	{ SECRET_COMMAND, resolve_command },
};

static int
resolve_source(const struct profile *p, const struct source *src, struct secret *s,
	       struct error *err)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++) {
		if (resolvers[i].kind == src->kind)
			return resolvers[i].resolve(p, src, s, err);
	}
	return error_set(err, KB_EXIT_INTERNAL, "unknown %s source — report this bug", src->key);
}

int
secret_resolve(const struct profile *p, struct secret *s, struct error *err)
{
	const struct source src = { p->secret_kind, p->secret_arg, "client secret", "secret", 0 };

	return resolve_source(p, &src, s, err);
}

int
secret_resolve_client_key(const struct profile *p, struct secret *s, struct error *err)
{
	const struct source src = { p->client_key_kind, p->client_key_arg, "client key",
				    "client_key", 1 };

	return resolve_source(p, &src, s, err);
}

void
secret_free(struct secret *s)
{
	if (s->value != NULL) {
		explicit_bzero(s->value, s->size);
		munlock(s->value, s->size);
		free(s->value);
	}
	s->value = NULL;
	s->size = 0;
}

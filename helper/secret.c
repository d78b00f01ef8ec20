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

typedef int (*secret_resolver)(const struct profile *p, const struct credential_source *src,
			       struct secret *s, struct error *err);

void
credential_source_of(const struct profile *p, enum credential_item item,
		     struct credential_source *src)
{
	memset(src, 0, sizeof(*src));
	src->item = item;
	if (item == CREDENTIAL_PRIVATE_KEY) {
		src->what = "private key";
		src->key = "private_key";
		src->kind = p->private_key_kind;
		src->arg = p->private_key_arg;
		src->whole_text = 1;
		return;
	}
	if (item == CREDENTIAL_CLIENT_KEY) {
		src->what = "client key";
		src->key = "client_key";
		src->kind = p->client_key_kind;
		src->arg = p->client_key_arg;
		src->whole_text = 1;
		return;
	}
	src->what = "client secret";
	src->key = "secret";
	src->kind = p->secret_kind;
	src->arg = p->secret_arg;
}

void
credential_origin(const struct credential_source *src, char *out, size_t size)
{
	switch (src->kind) {
	case SECRET_KEYRING:
		snprintf(out, size, "the keyring");
		break;
	case SECRET_ENV:
		snprintf(out, size, "environment variable %s", src->arg);
		break;
	case SECRET_FILE:
		snprintf(out, size, "file %s", src->arg);
		break;
	case SECRET_COMMAND:
		snprintf(out, size, "its %s command",
			 src->item == CREDENTIAL_SECRET ? "secret" : src->key);
		break;
	}
}

enum credential_item
credential_for_method(const struct profile *p)
{
	return p->auth_method == AUTH_PRIVATE_KEY_JWT ? CREDENTIAL_PRIVATE_KEY : CREDENTIAL_SECRET;
}

int
credential_take(struct secret *s, const char *value, size_t len, const struct profile *p,
		const struct credential_source *src, const char *origin, struct error *err)
{
	if (len == 0)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s for profile %s from %s is empty — put the %s there", src->what,
				 p->name, origin,
				 src->item == CREDENTIAL_SECRET ? "secret" : "key");
	if (len > SECRET_MAX || memchr(value, '\0', len) != NULL)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s for profile %s from %s is not a text of at most "
				 "%d bytes — check what %s holds",
				 src->what, p->name, origin, SECRET_MAX, origin);
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
	struct credential_source src;

	credential_source_of(p, CREDENTIAL_SECRET, &src);
	return credential_take(s, value, len, p, &src, origin, err);
}

static int
resolve_env(const struct profile *p, const struct credential_source *src, struct secret *s,
	    struct error *err)
{
	const char *value = getenv(src->arg);
	char origin[128];

	if (value == NULL || *value == '\0')
		return error_set(err, KB_EXIT_CONFIG,
				 "no %s for profile %s: environment variable %s is not "
				 "set — export it (in CI, from a masked secret variable)",
				 src->what, p->name, src->arg);
	snprintf(origin, sizeof(origin), "environment variable %s", src->arg);
	return credential_take(s, value, strlen(value), p, src, origin, err);
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
resolve_file(const struct profile *p, const struct credential_source *src, struct secret *s,
	     struct error *err)
{
	/* Mounted secrets are often symlinks (Kubernetes: mount with defaultMode 0400); the
	 * mode and owner of the target are what matter. */
	struct safefile_rules rules = {
		.what = src->item == CREDENTIAL_SECRET	      ? "secret file"
			: src->item == CREDENTIAL_PRIVATE_KEY ? "private key file"
							      : "client key file",
		.refuse_symlink = 0,
		.allow_root_owner = 1,
		.forbidden = 077,
		.max_size = SECRET_MAX + 2,
		.code = KB_EXIT_CONFIG,
		.check_parents = 1,
	};
	char *text = NULL, origin[4200];
	size_t len = 0;
	int rc;

	rc = safefile_read(AT_FDCWD, src->arg, &rules, &text, &len, err);
	if (rc == 1)
		return error_set(err, KB_EXIT_CONFIG,
				 "%s %s of profile %s does not exist — create it (mode "
				 "600) or fix %s = file:",
				 rules.what, src->arg, p->name, src->key);
	if (rc != 0)
		return -1;
	snprintf(origin, sizeof(origin), "file %s", src->arg);
	rc = credential_take(s, text, src->whole_text ? len : strip_line_end(text, len), p, src,
			     origin, err);
	safefile_free_secret(text, len + 1);
	if (rc == 0)
		safefile_identity(src->arg, "file", s->origin, sizeof(s->origin));
	return rc;
}

static int
resolve_keyring(const struct profile *p, const struct credential_source *src, struct secret *s,
		struct error *err)
{
	return keyring_lookup_item(p, src, s, err);
}

/* Reads the command's stdout until it closes, the buffer is full or the deadline passes;
 * -1 on the deadline. After about a second it says, once, what it waits for. */
static int
read_until(const struct profile *p, const char *what, int fd, char *buf, size_t cap, size_t *len,
	   long long deadline)
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
			notice_say(NOTICE_COMMAND, "the %s of profile %s (at most %lld s more)",
				   what, p->name, (left + 999) / 1000);
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
/* Runs command with /bin/sh -c, exactly as written, within the profile's timeout; its
 * stdout (whole_text: all of it, else the first line without its end) is left at the start
 * of buf, its length in *out_len. */
static int
run_command(const struct profile *p, const char *command, const char *what, int whole_text,
	    char *buf, size_t cap, size_t *out_len, struct error *err)
{
	char *argv[] = { "/bin/sh", "-c", (char *)command, NULL };
	long long deadline = monotonic_ms() + (long long)p->timeout * 1000;
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	size_t len = 0, line;
	int fds[2] = { -1, -1 }, status = 0, rc = -1, spawn_rc, finished, own_group;
	pid_t pid;

	*out_len = 0;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return error_set(err, KB_EXIT_INTERNAL,
				 "cannot start the %s: %s — check the process limits", what,
				 strerror(errno));
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
			  "cannot run /bin/sh for the %s: %s — check the installation", what,
			  strerror(spawn_rc));
		goto out;
	}
	finished = read_until(p, what, fds[0], buf, cap, &len, deadline) == 0 &&
		   wait_until(pid, &status, deadline) == 0;
	if (!finished) {
		kill(own_group ? -pid : pid, SIGKILL);
		waitpid(pid, &status, 0);
		error_set(err, KB_EXIT_TRANSIENT,
			  "the %s of profile %s did not finish within %d s — run it by hand to see "
			  "why, or raise timeout",
			  what, p->name, p->timeout);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		error_set(err, KB_EXIT_CONFIG,
			  "the %s of profile %s failed (%s %d) — run it by hand to see why: %.200s",
			  what, p->name, WIFEXITED(status) ? "exit status" : "signal",
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), command);
		goto out;
	}
	if (whole_text && len == cap) {
		/* refused, not cut: a PEM longer than the buffer is not this one */
		error_set(err, KB_EXIT_CONFIG,
			  "the %s of profile %s printed more than %d bytes — it must print the "
			  "credential alone",
			  what, p->name, SECRET_MAX);
		goto out;
	}
	for (line = 0; line < len && buf[line] != '\n'; line++)
		;
	*out_len = whole_text ? len : strip_line_end(buf, line < len ? line + 1 : line);
	rc = 0;
out:
	close(fds[0]);
	return rc;
}

int
secret_command_line(const struct profile *p, const char *command, const char *what, char *buf,
		    size_t cap, size_t *line_len, struct error *err)
{
	return run_command(p, command, what, 0, buf, cap, line_len, err);
}

static int
resolve_command(const struct profile *p, const struct credential_source *src, struct secret *s,
		struct error *err)
{
	const char *name = src->item == CREDENTIAL_SECRET ? "secret" : src->key;
	size_t cap = SECRET_MAX + 2, len = 0;
	char *buf = malloc(cap), what[64], origin[80];
	int rc = -1;

	if (buf == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	memset(buf, 0, cap);
	mlock(buf, cap);
	snprintf(what, sizeof(what), "%s command", name);
	snprintf(origin, sizeof(origin), "its %s command", name);
	if (run_command(p, src->arg, what, src->whole_text, buf, cap, &len, err) == 0)
		rc = credential_take(s, buf, len, p, src, origin, err);
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

int
credential_resolve(const struct profile *p, const struct credential_source *src, struct secret *s,
		   struct error *err)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < sizeof(resolvers) / sizeof(resolvers[0]); i++) {
		if (resolvers[i].kind == src->kind)
			return resolvers[i].resolve(p, src, s, err);
	}
	return error_set(err, KB_EXIT_INTERNAL, "unknown %s source — report this bug", src->what);
}

int
secret_resolve_client_key(const struct profile *p, struct secret *s, struct error *err)
{
	struct credential_source src;

	credential_source_of(p, CREDENTIAL_CLIENT_KEY, &src);
	return credential_resolve(p, &src, s, err);
}

int
secret_resolve(const struct profile *p, struct secret *s, struct error *err)
{
	struct credential_source src;

	credential_source_of(p, credential_for_method(p), &src);
	return credential_resolve(p, &src, s, err);
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

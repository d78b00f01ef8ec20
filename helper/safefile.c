#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
safefile_check(int fd, const char *path, const struct safefile_rules *rules, struct stat *st,
	       struct error *err)
{
	if (fstat(fd, st) != 0)
		return error_set(err, rules->code, "cannot examine %s %s: %s — check the file",
				 rules->what, path, strerror(errno));
	if (!S_ISREG(st->st_mode))
		return error_set(err, rules->code, "%s %s is not a regular file — replace it",
				 rules->what, path);
	if (st->st_uid != geteuid() && !(rules->allow_root_owner && st->st_uid == 0))
		return error_set(err, rules->code,
				 "%s %s belongs to uid %u, not to you (uid %u) — remove it or "
				 "take ownership",
				 rules->what, path, (unsigned)st->st_uid, (unsigned)geteuid());
	if ((st->st_mode & rules->forbidden) != 0)
		return error_set(err, rules->code,
				 "%s %s is accessible to group or others (mode %04o) — run chmod "
				 "%04o %s",
				 rules->what, path, (unsigned)(st->st_mode & 07777),
				 (unsigned)(st->st_mode & 07777 & ~rules->forbidden), path);
	if ((size_t)st->st_size > rules->max_size)
		return error_set(err, rules->code,
				 "%s %s is too large (%lld bytes, at most %zu) — check the file",
				 rules->what, path, (long long)st->st_size, rules->max_size);
	return 0;
}

int
safefile_read(int dirfd, const char *path, const struct safefile_rules *rules, char **out,
	      size_t *out_len, struct error *err)
{
	/* O_NONBLOCK: a FIFO in the file's place must not hang us before the type check. */
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		    (rules->refuse_symlink ? O_NOFOLLOW : 0);
	struct stat st;
	char *buf = NULL;
	size_t cap, len = 0;
	ssize_t n;
	int fd, rc = -1;

	fd = openat(dirfd, path, flags);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		if (errno == ELOOP)
			return error_set(err, rules->code,
					 "%s %s is a symbolic link — replace it "
					 "with a regular file",
					 rules->what, path);
		return error_set(err, rules->code,
				 "cannot open %s %s: %s — check the path and "
				 "its permissions",
				 rules->what, path, strerror(errno));
	}
	if (safefile_check(fd, path, rules, &st, err) != 0)
		goto out;
	/* One byte beyond the size seen by fstat tells a file that grew meanwhile. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (buf == NULL) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory reading %s — free some memory",
			  rules->what);
		goto out;
	}
	n = safefile_read_up_to(fd, buf, cap);
	if (n < 0) {
		error_set(err, rules->code, "cannot read %s %s: %s — check the file", rules->what,
			  path, strerror(errno));
		goto out;
	}
	len = (size_t)n;
	if (len == cap) {
		error_set(err, rules->code, "%s %s changed while being read — try again",
			  rules->what, path);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
	rc = 0;
out:
	if (buf != NULL)
		safefile_free_secret(buf, cap + 1);
	close(fd);
	return rc;
}

ssize_t
safefile_read_up_to(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap) {
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

void
safefile_free_secret(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len);
	free(buf);
}

void
safefile_free_string(char *s)
{
	if (s != NULL)
		safefile_free_secret(s, strlen(s));
}

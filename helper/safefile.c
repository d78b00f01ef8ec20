#include "safefile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
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

#define LINK_EXPANSIONS_MAX 40

/* The directory dir (its status dir_st) may hold the path's entry owned by child_uid. */
static int
check_directory(const char *file, const char *dir, const struct stat *dir_st, uid_t child_uid,
		const struct safefile_rules *rules, struct error *err)
{
	uid_t me = geteuid();

	if (dir_st->st_uid != me && dir_st->st_uid != 0)
		return error_set(err, rules->code,
				 "%s %s: directory %s belongs to uid %u, not to you or root, who "
				 "could replace the file — keep it in a directory of yours",
				 rules->what, file, dir, (unsigned)dir_st->st_uid);
	if ((dir_st->st_mode & 022) == 0)
		return 0;
	/* In a sticky directory only an entry's owner (and root) may rename or remove it. */
	if ((dir_st->st_mode & S_ISVTX) && (child_uid == me || child_uid == 0))
		return 0;
	if (dir_st->st_mode & S_ISVTX)
		return error_set(
			err, rules->code,
			"%s %s: its path goes through the shared directory %s by an entry "
			"of uid %u, who could replace it — keep the file in a directory of "
			"yours",
			rules->what, file, dir, (unsigned)child_uid);
	return error_set(err, rules->code,
			 "%s %s: directory %s is writable by group or others (mode %04o), who "
			 "could replace the file — run chmod go-w %s",
			 rules->what, file, dir, (unsigned)(dir_st->st_mode & 07777), dir);
}

/* Walks path one entry at a time as the kernel resolves it, following symbolic links, and
 * checks every directory it passes through. resolved is the walk's current directory, a
 * path without links. */
int
safefile_check_parents(const char *path, const struct safefile_rules *rules, struct error *err)
{
	char resolved[PATH_MAX] = "/", rest[PATH_MAX], target[PATH_MAX], next[PATH_MAX];
	struct stat dir_st, st;
	int expansions = 0, n;
	char *component, *slash;
	ssize_t len;

	errno = 0;
	if (path[0] == '/') {
		n = snprintf(rest, sizeof(rest), "%s", path);
	} else {
		/* relative to where we run: the directories above the working one count too */
		if (getcwd(target, sizeof(target)) == NULL)
			goto unreadable;
		n = snprintf(rest, sizeof(rest), "%s/%s", target, path);
	}
	if (n < 0 || (size_t)n >= sizeof(rest)) {
		errno = ENAMETOOLONG;
		goto unreadable;
	}
	if (lstat("/", &dir_st) != 0)
		goto unreadable;
	component = rest;
	while (*component != '\0') {
		while (*component == '/')
			component++;
		if (*component == '\0')
			break;
		slash = strchr(component, '/');
		if (slash != NULL)
			*slash = '\0';
		if (strcmp(component, ".") == 0) {
			/* the same directory */
		} else if (strcmp(component, "..") == 0) {
			/* resolved has no links: its parent is lexical */
			char *last = strrchr(resolved, '/');
			if (last != NULL && last != resolved)
				*last = '\0';
			else
				strcpy(resolved, "/");
			if (lstat(resolved, &dir_st) != 0)
				goto unreadable;
		} else {
			n = snprintf(next, sizeof(next), "%s%s%s", resolved,
				     strcmp(resolved, "/") == 0 ? "" : "/", component);
			if (n < 0 || (size_t)n >= sizeof(next)) {
				errno = ENAMETOOLONG;
				goto unreadable;
			}
			if (lstat(next, &st) != 0)
				goto unreadable;
			if (check_directory(path, resolved, &dir_st, st.st_uid, rules, err) != 0)
				return -1;
			if (S_ISLNK(st.st_mode)) {
				/* go on along the link's target, then what followed the link */
				errno = ELOOP;
				if (++expansions > LINK_EXPANSIONS_MAX)
					goto unreadable;
				len = readlink(next, target, sizeof(target) - 1);
				if (len < 0)
					goto unreadable;
				target[len] = '\0';
				n = snprintf(next, sizeof(next), "%s/%s", target,
					     slash != NULL ? slash + 1 : "");
				if ((size_t)len >= sizeof(target) - 1 || n < 0 ||
				    (size_t)n >= sizeof(next)) {
					errno = ENAMETOOLONG;
					goto unreadable;
				}
				memcpy(rest, next, (size_t)n + 1);
				if (target[0] == '/') {
					strcpy(resolved, "/");
					if (lstat("/", &dir_st) != 0)
						goto unreadable;
				}
				component = rest;
				continue;
			}
			memcpy(resolved, next, (size_t)n + 1);
			dir_st = st;
		}
		if (slash == NULL)
			break;
		component = slash + 1;
	}
	return 0;
unreadable:
	return error_set(err, rules->code,
			 "%s %s: cannot check the directories above it: %s — check the path",
			 rules->what, path, strerror(errno != 0 ? errno : EINVAL));
}

int
safefile_open(int dirfd, const char *path, const struct safefile_rules *rules, int *out_fd,
	      struct stat *st, struct error *err)
{
	/* O_NONBLOCK: a FIFO in the file's place must not hang us before the type check. */
	int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
		    (rules->refuse_symlink ? O_NOFOLLOW : 0);
	int fd = openat(dirfd, path, flags);

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
	if (safefile_check(fd, path, rules, st, err) != 0 ||
	    (rules->check_parents && dirfd == AT_FDCWD &&
	     safefile_check_parents(path, rules, err) != 0)) {
		close(fd);
		return -1;
	}
	*out_fd = fd;
	return 0;
}

int
safefile_read(int dirfd, const char *path, const struct safefile_rules *rules, char **out,
	      size_t *out_len, struct error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t cap = 0, len = 0;
	ssize_t n;
	int fd, rc;

	rc = safefile_open(dirfd, path, rules, &fd, &st, err);
	if (rc != 0)
		return rc;
	rc = -1;
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

void
safefile_identity(const char *path, const char *label, char *out, size_t size)
{
	struct stat st;

	out[0] = '\0';
	if (stat(path, &st) == 0)
		snprintf(out, size, "%s %llu:%llu:%lld:%lld.%09ld:%lld.%09ld", label,
			 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
			 (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
			 (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
}

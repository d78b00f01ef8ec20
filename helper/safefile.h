/* Reading a file we are about to trust: owner, mode and type checked on the open descriptor. */
#ifndef KEYBEARER_SAFEFILE_H
#define KEYBEARER_SAFEFILE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "error.h"

struct safefile_rules {
	const char *what;     /* "config file", "secret file", "cache file": for messages */
	int refuse_symlink;   /* open with O_NOFOLLOW */
	int allow_root_owner; /* files root installed for us are fine (config, secrets) */
	mode_t forbidden;     /* mode bits that make the file unsafe, e.g. 077 or 022 */
	size_t max_size;
	enum exit_code code; /* exit code for a refused file */
	/* The directories above an absolute path count too (OpenSSH's StrictModes): each must
	 * belong to root or to us and be closed to writes by group and others, but for a
	 * sticky one (like /tmp) whose entry on the path is ours or root's. Whoever can
	 * change one of them can swap the file for their own. */
	int check_parents;
};

/* Reads path (relative to dirfd, or AT_FDCWD) into a NUL-terminated buffer the caller frees
 * (with safefile_free_secret when it held a secret). Returns 0, 1 when the file does not
 * exist (err untouched), or -1 with err set. */
int safefile_read(int dirfd, const char *path, const struct safefile_rules *rules, char **out,
		  size_t *out_len, struct error *err);

/* safefile_read's open and checks, for a file read in pieces: 0 with *fd open for reading
 * and *st its status, 1 when the file does not exist (err untouched), -1 with err set. */
int safefile_open(int dirfd, const char *path, const struct safefile_rules *rules, int *fd,
		  struct stat *st, struct error *err);

/* Checks an open descriptor against the rules, leaving its status in st; -1 with err set
 * when refused. */
int safefile_check(int fd, const char *path, const struct safefile_rules *rules, struct stat *st,
		   struct error *err);

/* The check_parents rule for path, on its own: 0, or -1 with err set. */
int safefile_check_parents(const char *path, const struct safefile_rules *rules, struct error *err);

/* What tells a file from a replaced one without reading it: "LABEL dev:ino:size:mtime:ctime"
 * of path into out (a secret file, a token file, a certificate); "" when it cannot be
 * stat'ed. */
void safefile_identity(const char *path, const char *label, char *out, size_t size);

/* Reads fd until end of file or cap bytes, retrying interrupted reads; the byte count, or
 * -1 with errno set. */
ssize_t safefile_read_up_to(int fd, char *buf, size_t cap);

/* Wipes len bytes, then frees: for every buffer that held a secret or a token. */
void safefile_free_secret(char *buf, size_t len);

/* The same for a NUL-terminated string (NULL is fine). */
void safefile_free_string(char *s);

#endif

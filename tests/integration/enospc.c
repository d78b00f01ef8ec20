/* LD_PRELOAD shim for the tests: write() to any file whose path contains $ENOSPC_MATCH
 * fails with ENOSPC, as on a full disk (with ENOSPC_ERRNO=EDQUOT, as over a quota). */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t
write(int fd, const void *buf, size_t count)
{
	static ssize_t (*real_write)(int, const void *, size_t);
	const char *match = getenv("ENOSPC_MATCH");
	char link[64], path[PATH_MAX];
	ssize_t n;

	if (real_write == NULL)
		real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (match != NULL && *match != '\0') {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof(path) - 1);
		if (n > 0) {
			path[n] = '\0';
			if (strstr(path, match) != NULL) {
				const char *which = getenv("ENOSPC_ERRNO");
				errno = which != NULL && strcmp(which, "EDQUOT") == 0 ? EDQUOT
										      : ENOSPC;
				return -1;
			}
		}
	}
	return real_write(fd, buf, count);
}

/* libFuzzer: a lock file's state is read by every caller that takes the lock. Whatever it
 * holds, what is taken from it must be a state keybearer could have written: written back,
 * it reads back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lockstate.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cache c = { .dirfd = -1 };
	struct lockstate st, again;
	int fd;

	if (size > CACHE_LOCK_FILE_SIZE)
		return 0;
	memset(c.key, '0', 64);
	c.key[64] = '\0';
	fd = memfd_create("fuzz-lock", MFD_CLOEXEC);
	if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
		abort();
	if (lockstate_read(&c, fd, &st) != 0)
		abort();
	if (st.spare.access_token != NULL &&
	    !token_is_b64token(st.spare.access_token, strlen(st.spare.access_token)))
		abort();
	if (lockstate_write(&c, fd, &st) != 0 || lockstate_read(&c, fd, &again) != 0 ||
	    memcmp(&st.failure, &again.failure, sizeof(st.failure)) != 0 ||
	    (st.spare.access_token == NULL) != (again.spare.access_token == NULL))
		abort();
	lockstate_free(&st);
	lockstate_free(&again);
	close(fd);
	return 0;
}

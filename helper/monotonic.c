#include "monotonic.h"

#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long
monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

long long
monotonic_boot_seconds(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_BOOTTIME, &ts) != 0)
		return -1;
	return (long long)ts.tv_sec;
}

void
monotonic_boot_id(char out[40])
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	ssize_t n = fd >= 0 ? read(fd, out, 39) : -1;
	size_t i;

	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	/* a uuid: hex digits and dashes, nothing a record or a message could trip on */
	for (i = 0; out[i] != '\0'; i++) {
		if (!strchr("0123456789abcdef-", out[i])) {
			out[0] = '\0';
			return;
		}
	}
	if (i != 36)
		out[0] = '\0';
}

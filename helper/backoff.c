#include "backoff.h"

#include <sys/random.h>
#include <sys/types.h>
#include <unistd.h>

#include "monotonic.h"

long long
backoff_delay_ms(int attempt, int retry_after, unsigned int noise)
{
	long long base = (long long)BACKOFF_FIRST_MS
			 << (attempt < 8 ? (attempt > 0 ? attempt : 0) : 8);
	long long delay, asked;

	if (base > BACKOFF_MAX_MS)
		base = BACKOFF_MAX_MS;
	delay = base / 2 + (long long)(noise % (unsigned int)(base / 2 + 1));
	if (retry_after > 0) {
		/* the endpoint may ask for more patience, never for less */
		asked = (retry_after < BACKOFF_RETRY_AFTER_CAP ? retry_after
							       : BACKOFF_RETRY_AFTER_CAP) *
			1000LL;
		if (asked > delay)
			delay = asked;
	}
	return delay;
}

unsigned int
backoff_noise(void)
{
	unsigned int noise = 0;

	if (getrandom(&noise, sizeof(noise), GRND_NONBLOCK) != (ssize_t)sizeof(noise))
		noise = (unsigned int)getpid() ^ (unsigned int)monotonic_us();
	return noise;
}

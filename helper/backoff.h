/* How long a failing token endpoint is left alone: between the attempts of one request, and
 * (cache.h) between the requests of every process of a profile. */
#ifndef KEYBEARER_BACKOFF_H
#define KEYBEARER_BACKOFF_H

/* Attempts of one request back off exponentially from the first delay up to the cap, with
 * "equal jitter" (half fixed, half random) so processes that fail together do not retry
 * together. From a 30 s deadline this leaves room for at most 9 attempts. */
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS	 16000
/* A Retry-After longer than this is taken as this long. */
#define BACKOFF_RETRY_AFTER_CAP 300

/* The pause before attempt attempt + 1 (attempt 0 is the first retry's): the exponential
 * backoff for that attempt, made longer by a Retry-After (seconds, > 0; <= 0 means none)
 * but never shorter. noise is a random number. */
long long backoff_delay_ms(int attempt, int retry_after, unsigned int noise);

/* A random number for backoff_delay_ms: the kernel's, else one from the pid and the clock. */
unsigned int backoff_noise(void);

#endif

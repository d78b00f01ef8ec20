/* The waits between attempts at a failing endpoint: never shorter than the backoff, longer
 * when Retry-After asks, and what a Retry-After header asks for. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "backoff.h"
#include "http.h"
#include "rows.h"

struct delay_case {
	int attempt, retry_after;
	long long least, most; /* over every noise */
};

static const struct delay_case delay_cases[] = {
	{ 0, -1, 125, 250 },
	{ 1, -1, 250, 500 },
	{ 2, -1, 500, 1000 },
	{ 5, -1, 4000, 8000 },
	{ 6, -1, 8000, 16000 },
	{ 7, -1, 8000, 16000 },
	{ 40, -1, 8000, 16000 },
	/* Retry-After lengthens a short backoff... */
	{ 0, 1, 1000, 1000 },
	{ 0, 3, 3000, 3000 },
	/* ...and never shortens a long one. */
	{ 6, 1, 8000, 16000 },
	{ 6, 10, 10000, 16000 },
	/* none asked: the backoff alone */
	{ 0, 0, 125, 250 },
	{ 3, -5, 1000, 2000 },
	/* capped */
	{ 0, 86400, BACKOFF_RETRY_AFTER_CAP * 1000LL, BACKOFF_RETRY_AFTER_CAP * 1000LL },
};

static void
test_delay_table(void **state)
{
	static const unsigned int noises[] = { 0, 1, 7, 125, 126, 4001, 0x7fffffff, 0xffffffff };
	size_t i, j;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(delay_cases) / sizeof(delay_cases[0]); i++) {
		const struct delay_case *c = &delay_cases[i];
		long long least = -1, most = -1;
		char row[64];
		snprintf(row, sizeof(row), "attempt %d, Retry-After %d", c->attempt,
			 c->retry_after);
		for (j = 0; j < sizeof(noises) / sizeof(noises[0]); j++) {
			long long d = backoff_delay_ms(c->attempt, c->retry_after, noises[j]);
			if (least < 0 || d < least)
				least = d;
			if (d > most)
				most = d;
		}
		if (least < c->least)
			failed |= mismatch_int(row, "shortest delay", least, c->least);
		if (most > c->most)
			failed |= mismatch_int(row, "longest delay", most, c->most);
	}
	assert_int_equal(failed, 0);
}

/* However the noise falls, a 30 s deadline holds at most 9 attempts (the first at once). */
static void
test_attempts_in_a_deadline(void **state)
{
	long long t = 0;
	int attempts = 1;

	(void)state;
	for (;;) {
		long long d = backoff_delay_ms(attempts - 1, -1, 0); /* the shortest waits */
		if (t + d + 1000 > 30000)
			break;
		t += d;
		attempts++;
	}
	assert_int_equal(attempts, 9);
}

struct retry_after_case {
	const char *value;
	int seconds;
};

static void
test_retry_after_table(void **state)
{
	/* now is Sun, 06 Nov 1994 08:49:37 GMT */
	static const struct retry_after_case cases[] = {
		{ NULL, -1 },
		{ "", -1 },
		{ "120", 120 },
		{ "1", 1 },
		{ "0", -1 },
		{ "00", -1 },
		{ "-5", -1 },
		{ "+5", -1 },
		{ "1.5", -1 },
		{ "5 s", -1 },
		{ " 7", -1 },
		{ "1e3", -1 },
		{ "soon", -1 },
		{ "99999999999999999999", 86400 },
		{ "Sun, 06 Nov 1994 08:49:37 GMT", -1 },   /* now: no wait */
		{ "Sun, 06 Nov 1994 08:49:00 GMT", -1 },   /* past */
		{ "Sat, 05 Nov 1994 08:49:37 GMT", -1 },   /* a day behind */
		{ "Sun, 06 Nov 1994 08:50:37 GMT", 60 },   /* a minute ahead */
		{ "Sunday, 06-Nov-94 08:51:37 GMT", 120 }, /* RFC 850 */
		{ "Sun Nov  6 08:52:37 1994", 180 },	   /* asctime */
		{ "Sun, 06 Nov 1995 08:49:37 GMT", 86400 },
		{ "Sun, 32 Nov 1994 08:49:37 GMT", -1 },
	};
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		failed |= mismatch_int(cases[i].value ? cases[i].value : "(absent)", "seconds",
				       http_retry_after_seconds(cases[i].value, 784111777),
				       cases[i].seconds);
	assert_int_equal(failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_delay_table),
		cmocka_unit_test(test_attempts_in_a_deadline),
		cmocka_unit_test(test_retry_after_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

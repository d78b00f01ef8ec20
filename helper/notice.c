#include "notice.h"

#include <stdarg.h>
#include <stdio.h>

#include "monotonic.h"

static int said[NOTICE_SUBJECTS];
static int quiet;

void
notice_silence(void)
{
	quiet = 1;
}

int
notice_due(enum notice_subject subject, long long started_ms)
{
	return !quiet && !said[subject] && monotonic_ms() - started_ms >= NOTICE_AFTER_MS;
}

void
notice_say(enum notice_subject subject, const char *fmt, ...)
{
	va_list ap;

	if (quiet || said[subject])
		return;
	said[subject] = 1;
	fputs("keybearer: waiting for ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

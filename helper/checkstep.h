/* The lines of keybearer check's report, printed by both of its halves (keybearer's own
 * steps, then keybearer-fetch's): one line a step, "VERDICT STEP DETAIL (TIME)", then one
 * verdict line. Never the secret or the token: a detail is what the step found out. */
#ifndef KEYBEARER_CHECKSTEP_H
#define KEYBEARER_CHECKSTEP_H

#include <stddef.h>

#include "error.h"

struct checkstep {
	const char *name; /* "config", "secret", ...: what the verdict line names */
	long long started_us;
};

void checkstep_start(struct checkstep *step, const char *name);

/* "ok    NAME  DETAIL (1.2 ms)" */
void checkstep_ok(const struct checkstep *step, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "note  NAME  DETAIL": something the user should know that is no failure. */
void checkstep_note(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "FAIL  NAME  <err's message> (1.2 ms)" and "check: FAILED at NAME (exit N)"; err is kept
 * for the caller to report on stderr as every failure is. Returns -1. */
int checkstep_fail(const struct checkstep *step, const struct error *err);

/* "check: ok — SUMMARY". */
void checkstep_passed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copies text for a report line: bytes outside printable ASCII (a claim's value may hold
 * any) become '?', and at most max bytes are kept, "…" marking the rest. */
void checkstep_printable(const char *text, size_t max, char *out, size_t size);

#endif

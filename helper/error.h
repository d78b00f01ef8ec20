/* Errors that travel up to main() and end as one line on stderr and an exit code. */
#ifndef KEYBEARER_ERROR_H
#define KEYBEARER_ERROR_H

/* Exit codes follow sysexits(3) so scripts can tell failures apart; README lists them. */
enum exit_code {
	KB_EXIT_OK = 0,
	KB_EXIT_USAGE = 64,	  /* bad command line */
	KB_EXIT_DATA = 65,	  /* input that is not what it should be: stdin is not a JWT */
	KB_EXIT_NOINPUT = 66,	  /* nothing to work on: no cached token, empty stdin */
	KB_EXIT_INTERNAL = 70,	  /* a bug, out of memory, a broken installation */
	KB_EXIT_IO = 74,	  /* local files: cache directory, lock, permissions */
	KB_EXIT_TRANSIENT = 75,	  /* endpoint unreachable, timed out, 5xx, 429: try again later */
	KB_EXIT_PROTOCOL = 76,	  /* the endpoint's reply is not a usable token reply */
	KB_EXIT_REJECTED = 77,	  /* the endpoint refused the request (RFC 6749 section 5.2) */
	KB_EXIT_CONFIG = 78,	  /* configuration or secret missing or wrong */
	KB_EXIT_CANNOT_RUN = 127, /* keybearer exec: the command could not be run */
};

#define ERROR_MESSAGE_MAX 1024

struct error {
	enum exit_code code;
	char message[ERROR_MESSAGE_MAX];
};

/* Records the first failure only: the root cause beats what the callers add later.
 * The text should read "<what failed>: <why> — <what to do>". Always returns -1. */
int error_set(struct error *err, enum exit_code code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "keybearer: <message>" on stderr; returns the exit code to use. An empty message means
 * another process (keybearer-fetch) has already reported the failure. */
int error_print(const struct error *err);

/* "keybearer: debug: <message>" on stderr when KEYBEARER_DEBUG=1 (keybearer --verbose sets
 * it, for keybearer-fetch too); never with a secret or a token in it. */
void error_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Whether error_debug prints: for a debug line that costs something to build. */
int error_debug_enabled(void);

/* "keybearer: warning: <message>" on stderr. */
void error_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

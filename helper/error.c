#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
error_set(struct error *err, enum exit_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || err->code != KB_EXIT_OK)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

int
error_print(const struct error *err)
{
	if (err->message[0] != '\0')
		fprintf(stderr, "keybearer: %s\n", err->message);
	return err->code;
}

void
error_warn(const char *fmt, ...)
{
	va_list ap;

	fputs("keybearer: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
error_debug_enabled(void)
{
	const char *wanted = getenv("KEYBEARER_DEBUG");

	return wanted != NULL && strcmp(wanted, "1") == 0;
}

void
error_debug(const char *fmt, ...)
{
	va_list ap;

	if (!error_debug_enabled())
		return;
	fputs("keybearer: debug: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#include "checkstep.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "monotonic.h"

void
checkstep_start(struct checkstep *step, const char *name)
{
	step->name = name;
	step->started_us = monotonic_us();
}

static double
elapsed_ms(const struct checkstep *step)
{
	return (double)(monotonic_us() - step->started_us) / 1000.0;
}

static void print_line(const char *verdict, const char *name, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void
print_line(const char *verdict, const char *name, const char *fmt, va_list ap)
{
	printf("%-4s  %-9s ", verdict, name);
	vprintf(fmt, ap);
}

void
checkstep_ok(const struct checkstep *step, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_line("ok", step->name, fmt, ap);
	va_end(ap);
	printf(" (%.1f ms)\n", elapsed_ms(step));
}

void
checkstep_note(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_line("note", name, fmt, ap);
	va_end(ap);
	putchar('\n');
}

int
checkstep_fail(const struct checkstep *step, const struct error *err)
{
	printf("%-4s  %-9s %s (%.1f ms)\n", "FAIL", step->name,
	       err->message[0] != '\0' ? err->message : "(said above)", elapsed_ms(step));
	printf("check: FAILED at %s (exit %d)\n", step->name, (int)err->code);
	fflush(stdout);
	return -1;
}

void
checkstep_passed(const char *fmt, ...)
{
	va_list ap;

	fputs("check: ok — ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

void
checkstep_printable(const char *text, size_t max, char *out, size_t size)
{
	size_t i, len = strlen(text), keep = len > max ? max : len;

	if (size < 4) {
		if (size > 0)
			out[0] = '\0';
		return;
	}
	if (keep > size - 4)
		keep = size - 4; /* room for the mark and the NUL */
	for (i = 0; i < keep; i++) {
		unsigned char c = (unsigned char)text[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (keep < len) {
		memcpy(out + keep, "…", 3);
		keep += 3;
	}
	out[keep] = '\0';
}

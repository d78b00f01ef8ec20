#include "rows.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ftw.h>
#include <stdio.h>
#include <string.h>

int
mismatch_str(const char *row, const char *what, const char *got, const char *want)
{
	if (got == NULL && want == NULL)
		return 0;
	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		return 0;
	print_error("%s: %s is \"%s\", expected \"%s\"\n", row, what, got ? got : "(null)",
		    want ? want : "(null)");
	return 1;
}

int
mismatch_int(const char *row, const char *what, long long got, long long want)
{
	if (got == want)
		return 0;
	print_error("%s: %s is %lld, expected %lld\n", row, what, got, want);
	return 1;
}

int
mismatch_contains(const char *row, const char *what, const char *text, const char *needle)
{
	if (text != NULL && strstr(text, needle) != NULL)
		return 0;
	print_error("%s: %s \"%s\" lacks \"%s\"\n", row, what, text ? text : "(null)", needle);
	return 1;
}

int
mismatch_lacks(const char *row, const char *what, const char *text, const char *needle)
{
	if (strstr(text, needle) == NULL)
		return 0;
	print_error("%s: %s \"%s\" contains \"%s\"\n", row, what, text, needle);
	return 1;
}

void
base64url_encode_bytes(const unsigned char *in, size_t len, char *out, size_t size)
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, n = 0;

	assert_true((len + 2) / 3 * 4 + 1 <= size);
	for (i = 0; i < len; i += 3) {
		unsigned long chunk = (unsigned long)in[i] << 16;
		if (i + 1 < len)
			chunk |= (unsigned long)in[i + 1] << 8;
		if (i + 2 < len)
			chunk |= in[i + 2];
		out[n++] = alphabet[(chunk >> 18) & 63];
		out[n++] = alphabet[(chunk >> 12) & 63];
		if (i + 1 < len)
			out[n++] = alphabet[(chunk >> 6) & 63];
		if (i + 2 < len)
			out[n++] = alphabet[chunk & 63];
	}
	out[n] = '\0';
}

void
base64url_encode(const char *in, char *out, size_t size)
{
	base64url_encode_bytes((const unsigned char *)in, strlen(in), out, size);
}

void
make_jwt(const char *header_json, const char *claims_json, char *out, size_t size)
{
	char header[512], claims[512];

	base64url_encode(header_json, header, sizeof(header));
	base64url_encode(claims_json, claims, sizeof(claims));
	assert_true((size_t)snprintf(out, size, "%s.%s.c2lnbmF0dXJl", header, claims) < size);
}

static int
remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

void
remove_tree(const char *path)
{
	nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Helpers for table-driven unit tests: each mismatch_* reports one broken row field and
 * returns 1, so a runner checks every row and fails once with all of them listed. */
#ifndef KEYBEARER_TEST_ROWS_H
#define KEYBEARER_TEST_ROWS_H

#include <stddef.h>

int mismatch_str(const char *row, const char *what, const char *got, const char *want);
int mismatch_int(const char *row, const char *what, long long got, long long want);
int mismatch_contains(const char *row, const char *what, const char *text, const char *needle);
int mismatch_lacks(const char *row, const char *what, const char *text, const char *needle);

/* Unpadded base64url, written independently of jwt.c so the decoder is not checked
 * against itself. */
void base64url_encode(const char *in, char *out, size_t size);
void base64url_encode_bytes(const unsigned char *in, size_t len, char *out, size_t size);

/* header.claims.signature from two JSON texts. */
void make_jwt(const char *header_json, const char *claims_json, char *out, size_t size);

/* rm -rf of a scratch directory, without following symlinks. */
void remove_tree(const char *path);

#endif

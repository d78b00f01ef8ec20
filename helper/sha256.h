/* SHA-256 (FIPS 180-4), small and dependency-free: the hot path names cache files with it
 * and must not load a crypto library to do so. */
#ifndef KEYBEARER_SHA256_H
#define KEYBEARER_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE 32

struct sha256 {
	uint32_t state[8];
	uint64_t length; /* bytes hashed so far */
	unsigned char block[64];
	size_t used;
};

void sha256_init(struct sha256 *ctx);
void sha256_update(struct sha256 *ctx, const void *data, size_t len);
void sha256_final(struct sha256 *ctx, unsigned char digest[SHA256_DIGEST_SIZE]);

/* HMAC-SHA256 (RFC 2104) of data under key. */
void sha256_hmac(const void *key, size_t key_len, const void *data, size_t len,
		 unsigned char mac[SHA256_DIGEST_SIZE]);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes). */
void sha256_hex(const unsigned char *raw, size_t len, char *out);

#endif

/* The client's own signing key (private_key_jwt, RFC 7523): read from PEM, matched with a
 * JWS algorithm, named by its RFC 7638 thumbprint, shown as a public JWK and PEM, made by
 * keygen. Only keybearer-fetch links this (libcrypto). The key's bytes live in the caller's
 * locked, wiped buffer (struct secret); OpenSSL's copy is freed with its own wiping. */
#ifndef KEYBEARER_SIGNKEY_H
#define KEYBEARER_SIGNKEY_H

#include <stddef.h>

#include "error.h"

/* A JWS signature is at most this long: RSA 8192 bits. */
#define SIGNKEY_SIGNATURE_MAX 1024
/* base64url of a SHA-256: the RFC 7638 thumbprint */
#define SIGNKEY_THUMBPRINT_LEN 43
#define SIGNKEY_MIN_RSA_BITS   2048
#define SIGNKEY_MAX_RSA_BITS   8192

enum sign_alg {
	SIGN_NONE,
	SIGN_RS256,
	SIGN_PS256,
	SIGN_ES256,
	SIGN_EDDSA,
	SIGN_HS256,
};

enum signkey_type {
	SIGNKEY_RSA,
	SIGNKEY_EC_P256,
	SIGNKEY_ED25519,
};

struct evp_pkey_st;

struct signkey {
	struct evp_pkey_st *pkey;
	enum signkey_type type;
	int bits;	   /* RSA: the modulus length */
	char describe[32]; /* "RSA 3072", "EC P-256", "Ed25519": for messages and status */
};

/* "RS256", ... ; NULL for SIGN_NONE. */
const char *signkey_alg_name(enum sign_alg alg);
/* The alg of a name as JOSE spells it (case matters); SIGN_NONE when unknown. */
enum sign_alg signkey_alg_from_name(const char *name);

/* OpenSSL's locked heap for a private key's numbers: started before the first key is read
 * or made, and only then (it costs a mint that uses no key a third of a millisecond). */
void signkey_secure_heap(void);

/* Reads a private key from PEM text: PKCS#8 ("PRIVATE KEY") or traditional ("RSA PRIVATE
 * KEY", "EC PRIVATE KEY"); an encrypted one is refused (nothing asks for a passphrase).
 * origin names the source in messages ("file /x", "the keyring"). Exit 78 for what is not
 * a usable private key: not PEM, a public key or certificate, another curve, RSA below
 * 2048 bits. */
int signkey_load_pem(const char *pem, size_t len, const char *origin, struct signkey *k,
		     struct error *err);

/* The algorithm to sign with: configured (may be NULL: the key's default, RSA -> RS256,
 * P-256 -> ES256, Ed25519 -> EdDSA) when it fits the key; else exit 78 naming both. */
int signkey_pick_alg(const struct signkey *k, const char *configured, const char *profile,
		     enum sign_alg *alg, struct error *err);

/* The public key's RFC 7638 JWK thumbprint, base64url SHA-256 of its canonical members. */
int signkey_thumbprint(const struct signkey *k, char out[SIGNKEY_THUMBPRINT_LEN + 1]);

/* The thumbprint of a canonical member JSON text (RFC 7638 section 3): for the tests. */
void signkey_thumbprint_of(const char *canonical, char out[SIGNKEY_THUMBPRINT_LEN + 1]);

/* The public key as a JWK with kid, alg and use=sig, one JSON line; malloc'ed. */
char *signkey_public_jwk(const struct signkey *k, enum sign_alg alg, const char *kid);

/* The public key as SubjectPublicKeyInfo PEM; malloc'ed. */
char *signkey_public_pem(const struct signkey *k);

/* The private key as unencrypted PKCS#8 PEM, in memory locked and wiped by
 * safefile_free_secret(*pem, *len + 1). */
int signkey_private_pem(const struct signkey *k, char **pem, size_t *len, struct error *err);

/* A JWS signature of data, as JOSE has it (ES256: raw r || s, 64 bytes, not DER). hmac_key
 * is the key of SIGN_HS256 (k unused then). sig has SIGNKEY_SIGNATURE_MAX bytes. */
int signkey_sign(const struct signkey *k, enum sign_alg alg, const char *hmac_key, const char *data,
		 size_t len, unsigned char *sig, size_t *sig_len, struct error *err);

/* A new key pair: "ec" (P-256) or "rsa" (3072 bits). */
int signkey_generate(const char *type, struct signkey *k, struct error *err);

void signkey_free(struct signkey *k);

/* Unpadded base64url of len bytes into out (4 * len / 3 + 3 bytes); its length. */
size_t signkey_base64url(const unsigned char *in, size_t len, char *out);

#endif

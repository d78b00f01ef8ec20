#include "signkey.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "safefile.h"
#include "sha256.h"

#define EC_COORDINATE  32 /* P-256 */
#define ED25519_PUBLIC 32

static const struct {
	enum sign_alg alg;
	const char *name;
} alg_names[] = {
	{ SIGN_RS256, "RS256" }, { SIGN_PS256, "PS256" }, { SIGN_ES256, "ES256" },
	{ SIGN_EDDSA, "EdDSA" }, { SIGN_HS256, "HS256" },
};

const char *
signkey_alg_name(enum sign_alg alg)
{
	size_t i;

	for (i = 0; i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (alg_names[i].alg == alg)
			return alg_names[i].name;
	}
	return NULL;
}

enum sign_alg
signkey_alg_from_name(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(alg_names) / sizeof(alg_names[0]); i++) {
		if (strcmp(alg_names[i].name, name) == 0)
			return alg_names[i].alg;
	}
	return SIGN_NONE;
}

size_t
signkey_base64url(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t i, n = 0;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned long v =
			(unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[n++] = digits[v >> 18 & 63];
		out[n++] = digits[v >> 12 & 63];
		out[n++] = digits[v >> 6 & 63];
		out[n++] = digits[v & 63];
	}
	if (len - i == 1) {
		out[n++] = digits[in[i] >> 2];
		out[n++] = digits[(in[i] & 3) << 4];
	} else if (len - i == 2) {
		out[n++] = digits[in[i] >> 2];
		out[n++] = digits[(in[i] & 3) << 4 | in[i + 1] >> 4];
		out[n++] = digits[(in[i + 1] & 15) << 2];
	}
	out[n] = '\0';
	return n;
}

/* OpenSSL would ask on the terminal for an encrypted key's passphrase: we never do. */
static int
no_passphrase(char *buf, int size, int rwflag, void *user)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)user;
	return -1;
}

static int
not_a_key(const char *origin, const char *why, struct error *err)
{
	return error_set(err, KB_EXIT_CONFIG,
			 "the private key from %s is not usable: %s — give an unencrypted PEM "
			 "private key (PKCS#8, or traditional RSA or EC), or make one with "
			 "keybearer keygen",
			 origin, why);
}

/* What kind of key pkey is, or -1 with err set when we cannot sign with it. */
static int
classify(struct signkey *k, const char *origin, struct error *err)
{
	char group[32] = "";

	if (EVP_PKEY_is_a(k->pkey, "RSA")) {
		k->type = SIGNKEY_RSA;
		k->bits = EVP_PKEY_get_bits(k->pkey);
		snprintf(k->describe, sizeof(k->describe), "RSA %d", k->bits);
		if (k->bits < SIGNKEY_MIN_RSA_BITS || k->bits > SIGNKEY_MAX_RSA_BITS) {
			char why[96];
			snprintf(why, sizeof(why),
				 "an RSA key of %d bits (from %d to %d are signed with)", k->bits,
				 SIGNKEY_MIN_RSA_BITS, SIGNKEY_MAX_RSA_BITS);
			return not_a_key(origin, why, err);
		}
		return 0;
	}
	if (EVP_PKEY_is_a(k->pkey, "EC")) {
		EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
					       sizeof(group), NULL);
		if (strcmp(group, "prime256v1") != 0) {
			char why[96];
			snprintf(why, sizeof(why), "an EC key on curve %s (only P-256, for ES256)",
				 *group ? group : "unknown");
			return not_a_key(origin, why, err);
		}
		k->type = SIGNKEY_EC_P256;
		snprintf(k->describe, sizeof(k->describe), "EC P-256");
		return 0;
	}
	if (EVP_PKEY_is_a(k->pkey, "ED25519")) {
		k->type = SIGNKEY_ED25519;
		snprintf(k->describe, sizeof(k->describe), "Ed25519");
		return 0;
	}
	return not_a_key(origin,
			 "a key of a type keybearer does not sign with (RSA, EC P-256, Ed25519)",
			 err);
}

/* A damaged key (a flipped byte: RSA's n no longer p * q, an EC point off its curve) still
 * parses, and would sign what no server verifies, or worse: a faulty RSA-CRT signature
 * gives away a factor of n. Its two halves must agree before it signs anything. */
static int
check_pair(struct signkey *k, const char *origin, struct error *err)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	int ok = ctx != NULL && EVP_PKEY_pairwise_check(ctx) == 1;

	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	if (!ok)
		return not_a_key(origin, "it is damaged: its public and private parts do not match",
				 err);
	return 0;
}

void
signkey_secure_heap(void)
{
	/* Where the memlock limit refuses the lock, OpenSSL keeps the heap unlocked (and
	 * where it cannot map one, takes the usual heap); either way it wipes a key's numbers
	 * as it frees them. */
	if (!CRYPTO_secure_malloc_initialized())
		CRYPTO_secure_malloc_init(64 * 1024, 32);
}

int
signkey_load_pem(const char *pem, size_t len, const char *origin, struct signkey *k,
		 struct error *err)
{
	BIO *bio;

	memset(k, 0, sizeof(*k));
	signkey_secure_heap();
	if (len == 0 || len > 64 * 1024 || memmem(pem, len, "-----BEGIN ", 11) == NULL)
		return not_a_key(origin, "it is not PEM", err);
	if (memmem(pem, len, "ENCRYPTED", 9) != NULL)
		return not_a_key(origin, "it is encrypted, and keybearer asks for no passphrase",
				 err);
	/* reads the buffer in place: no copy of the PEM text is made */
	bio = BIO_new_mem_buf(pem, (int)len);
	if (bio == NULL)
		return error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory");
	k->pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (k->pkey == NULL)
		return not_a_key(
			origin,
			memmem(pem, len, "PUBLIC KEY", 10) != NULL ||
					memmem(pem, len, "CERTIFICATE", 11) != NULL
				? "it holds a public key or a certificate, not the private key"
				: "it holds no PEM private key OpenSSL can read",
			err);
	if (classify(k, origin, err) != 0 || check_pair(k, origin, err) != 0) {
		signkey_free(k);
		return -1;
	}
	return 0;
}

static int
alg_fits(enum signkey_type type, enum sign_alg alg)
{
	switch (alg) {
	case SIGN_RS256:
	case SIGN_PS256:
		return type == SIGNKEY_RSA;
	case SIGN_ES256:
		return type == SIGNKEY_EC_P256;
	case SIGN_EDDSA:
		return type == SIGNKEY_ED25519;
	default:
		return 0;
	}
}

int
signkey_pick_alg(const struct signkey *k, const char *configured, const char *profile,
		 enum sign_alg *alg, struct error *err)
{
	static const char *const fitting[] = {
		[SIGNKEY_RSA] = "RS256 or PS256",
		[SIGNKEY_EC_P256] = "ES256",
		[SIGNKEY_ED25519] = "EdDSA",
	};
	static const enum sign_alg defaults[] = {
		[SIGNKEY_RSA] = SIGN_RS256,
		[SIGNKEY_EC_P256] = SIGN_ES256,
		[SIGNKEY_ED25519] = SIGN_EDDSA,
	};

	if (configured == NULL) {
		*alg = defaults[k->type];
		return 0;
	}
	*alg = signkey_alg_from_name(configured);
	if (alg_fits(k->type, *alg))
		return 0;
	return error_set(err, KB_EXIT_CONFIG,
			 "signing_alg %s of profile %s does not fit its private key (%s) — set "
			 "signing_alg = %s, or remove the line",
			 configured, profile, k->describe, fitting[k->type]);
}

/* A big number as base64url of its minimal big-endian bytes (RFC 7518 6.3.1). */
static int
put_bn(const struct signkey *k, const char *param, char *out, size_t cap)
{
	BIGNUM *bn = NULL;
	unsigned char raw[SIGNKEY_MAX_RSA_BITS / 8];
	int n, rc = -1;

	if (EVP_PKEY_get_bn_param(k->pkey, param, &bn) != 1)
		return -1;
	n = BN_num_bytes(bn);
	if (n > 0 && (size_t)n <= sizeof(raw) && (size_t)n * 4 / 3 + 4 <= cap) {
		BN_bn2bin(bn, raw);
		signkey_base64url(raw, (size_t)n, out);
		rc = 0;
	}
	BN_free(bn);
	return rc;
}

/* A P-256 coordinate: always 32 bytes (RFC 7518 6.2.1.2), leading zeros kept. */
static int
put_coordinate(const struct signkey *k, const char *param, char *out)
{
	BIGNUM *bn = NULL;
	unsigned char raw[EC_COORDINATE];
	int rc = -1;

	if (EVP_PKEY_get_bn_param(k->pkey, param, &bn) != 1)
		return -1;
	if (BN_bn2binpad(bn, raw, sizeof(raw)) == EC_COORDINATE) {
		signkey_base64url(raw, sizeof(raw), out);
		rc = 0;
	}
	BN_free(bn);
	return rc;
}

/* The required members of the public JWK in lexicographic order, no whitespace: RFC 7638's
 * canonical form, and the start of the JWK we print. */
static char *
canonical_members(const struct signkey *k)
{
	char a[SIGNKEY_MAX_RSA_BITS / 6 + 8], b[64], *out = NULL;
	unsigned char raw[ED25519_PUBLIC];
	size_t raw_len = sizeof(raw);
	int n = -1;

	switch (k->type) {
	case SIGNKEY_RSA:
		if (put_bn(k, OSSL_PKEY_PARAM_RSA_E, b, sizeof(b)) == 0 &&
		    put_bn(k, OSSL_PKEY_PARAM_RSA_N, a, sizeof(a)) == 0)
			n = asprintf(&out, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", b, a);
		break;
	case SIGNKEY_EC_P256:
		if (put_coordinate(k, OSSL_PKEY_PARAM_EC_PUB_X, a) == 0 &&
		    put_coordinate(k, OSSL_PKEY_PARAM_EC_PUB_Y, b) == 0)
			n = asprintf(&out,
				     "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
				     a, b);
		break;
	case SIGNKEY_ED25519:
		if (EVP_PKEY_get_raw_public_key(k->pkey, raw, &raw_len) == 1 &&
		    raw_len == ED25519_PUBLIC) {
			signkey_base64url(raw, raw_len, a);
			n = asprintf(&out, "{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"%s\"}", a);
		}
		break;
	}
	return n < 0 ? NULL : out;
}

void
signkey_thumbprint_of(const char *canonical, char out[SIGNKEY_THUMBPRINT_LEN + 1])
{
	unsigned char digest[SHA256_DIGEST_SIZE];
	struct sha256 ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, canonical, strlen(canonical));
	sha256_final(&ctx, digest);
	signkey_base64url(digest, sizeof(digest), out);
}

int
signkey_thumbprint(const struct signkey *k, char out[SIGNKEY_THUMBPRINT_LEN + 1])
{
	char *canonical = canonical_members(k);

	if (canonical == NULL)
		return -1;
	signkey_thumbprint_of(canonical, out);
	free(canonical);
	return 0;
}

/* A JSON string's content: kid is the user's (key_id), so it is escaped. */
static char *
json_escaped(const char *s)
{
	size_t i, n = 0;
	char *out = malloc(strlen(s) * 6 + 1);

	if (out == NULL)
		return NULL;
	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)sprintf(out + n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
	return out;
}

char *
signkey_public_jwk(const struct signkey *k, enum sign_alg alg, const char *kid)
{
	char *members = canonical_members(k), *escaped = json_escaped(kid), *out = NULL;

	/* members ends with '}': the extra members go before it */
	if (members != NULL && escaped != NULL &&
	    asprintf(&out, "%.*s,\"kid\":\"%s\",\"alg\":\"%s\",\"use\":\"sig\"}",
		     (int)strlen(members) - 1, members, escaped, signkey_alg_name(alg)) < 0)
		out = NULL;
	free(members);
	free(escaped);
	return out;
}

static char *
bio_text(BIO *bio)
{
	char *data, *out;
	long len = BIO_get_mem_data(bio, &data);

	if (len <= 0)
		return NULL;
	out = malloc((size_t)len + 1);
	if (out != NULL) {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	return out;
}

char *
signkey_public_pem(const struct signkey *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (bio != NULL && PEM_write_bio_PUBKEY(bio, k->pkey) == 1)
		out = bio_text(bio);
	BIO_free(bio);
	return out;
}

int
signkey_private_pem(const struct signkey *k, char **pem, size_t *len, struct error *err)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *data;
	long n;
	int rc = -1;

	*pem = NULL;
	*len = 0;
	if (bio == NULL ||
	    PEM_write_bio_PKCS8PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (*pem = malloc((size_t)n + 1)) == NULL)
		goto out;
	mlock(*pem, (size_t)n + 1); /* where RLIMIT_MEMLOCK allows: kept out of swap */
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	rc = 0;
out:
	BIO_free(bio);
	if (rc != 0)
		error_set(err, KB_EXIT_INTERNAL,
			  "cannot write the private key as PEM — report this bug");
	return rc;
}

/* DER ECDSA-Sig-Value to JOSE's fixed-width r || s (RFC 7518 3.4). */
static int
ecdsa_raw(const unsigned char *der, size_t der_len, unsigned char *sig, size_t *sig_len)
{
	const unsigned char *p = der;
	ECDSA_SIG *parsed = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	int rc = -1;

	if (parsed == NULL)
		return -1;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(parsed), sig, EC_COORDINATE) == EC_COORDINATE &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(parsed), sig + EC_COORDINATE, EC_COORDINATE) ==
		    EC_COORDINATE) {
		*sig_len = 2 * EC_COORDINATE;
		rc = 0;
	}
	ECDSA_SIG_free(parsed);
	return rc;
}

int
signkey_sign(const struct signkey *k, enum sign_alg alg, const char *hmac_key, const char *data,
	     size_t len, unsigned char *sig, size_t *sig_len, struct error *err)
{
	unsigned char der[SIGNKEY_SIGNATURE_MAX];
	size_t der_len = sizeof(der);
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL; /* md's */
	int rc = -1;

	if (alg == SIGN_HS256) {
		sha256_hmac(hmac_key, strlen(hmac_key), data, len, sig);
		*sig_len = SHA256_DIGEST_SIZE;
		return 0;
	}
	if (k == NULL || k->pkey == NULL || !alg_fits(k->type, alg))
		goto out;
	md = EVP_MD_CTX_new();
	/* EdDSA hashes as part of the scheme: no digest is named */
	if (md == NULL || EVP_DigestSignInit_ex(md, &pctx, alg == SIGN_EDDSA ? NULL : "SHA256",
						NULL, NULL, k->pkey, NULL) != 1)
		goto out;
	if (alg == SIGN_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	/* RFC 7518 3.5: MGF1 with SHA-256, a salt as long as the hash */
	if (alg == SIGN_PS256 &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) <= 0 ||
	     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) <= 0))
		goto out;
	if (EVP_DigestSign(md, der, &der_len, (const unsigned char *)data, len) != 1)
		goto out;
	if (alg == SIGN_ES256) {
		rc = ecdsa_raw(der, der_len, sig, sig_len);
	} else if (der_len <= SIGNKEY_SIGNATURE_MAX) {
		memcpy(sig, der, der_len);
		*sig_len = der_len;
		rc = 0;
	}
out:
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	if (rc != 0)
		error_set(err, KB_EXIT_INTERNAL,
			  "signing the client assertion with %s failed — report this bug",
			  signkey_alg_name(alg) ? signkey_alg_name(alg) : "no algorithm");
	return rc;
}

int
signkey_generate(const char *type, struct signkey *k, struct error *err)
{
	memset(k, 0, sizeof(*k));
	signkey_secure_heap();
	if (strcmp(type, "ec") == 0)
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(type, "rsa") == 0)
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	else
		return error_set(err, KB_EXIT_USAGE,
				 "keygen arguments: unknown --type %s — use ec (P-256, the "
				 "default) or rsa (3072 bits)",
				 type);
	ERR_clear_error();
	if (k->pkey == NULL)
		return error_set(err, KB_EXIT_INTERNAL,
				 "making a %s key failed — check the OpenSSL installation", type);
	return classify(k, "keygen", err);
}

void
signkey_free(struct signkey *k)
{
	EVP_PKEY_free(k->pkey); /* OpenSSL wipes the private parts as it frees them */
	memset(k, 0, sizeof(*k));
}

/* jwks.c decides whether a token is genuine. A wrong "yes" lets a forged token through, so
 * every row signs real tokens with keys made at start-up and checks the exact outcome: return
 * code, exit code, the reason in the message, and which key verified. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwks.h"
#include "rows.h"

#define CLAIMS_JSON	  "{\"sub\":\"client-1\",\"exp\":1700003600}"
#define OTHER_CLAIMS_JSON "{\"sub\":\"admin\",\"exp\":1700003600}"
#define JWKS_SIZE	  (16 * 1024)
#define TOKEN_SIZE	  4096

enum test_key {
	KEY_NONE,    /* ends a key list; an unsigned token */
	KEY_LITERAL, /* the JWK is members as is */
	KEY_RSA,     /* RSA-2048 */
	KEY_RSA_OTHER,
	KEY_RSA_1024,
	KEY_EC, /* P-256 */
	KEY_COUNT,
};

static EVP_PKEY *test_keys[KEY_COUNT];

enum jwk_flag {
	JWK_E_ONE = 1,	   /* e = 1: a "signature" anyone could make */
	JWK_OFF_CURVE = 2, /* y of another point: not on P-256 */
};

struct jwk_spec {
	enum test_key key;
	const char *members; /* after kty and the numbers: "\"kid\":\"kb-rs256\"" */
	int flags;
};

enum tamper {
	TAMPER_NONE,
	TAMPER_PAYLOAD,	  /* claims replaced after signing */
	TAMPER_SIGNATURE, /* first signature byte flipped */
	TAMPER_SHORT,	  /* last signature byte dropped */
};

struct verify_case {
	const char *name;
	int filler;		  /* oct keys put before keys[] */
	struct jwk_spec keys[3];  /* ends at KEY_NONE */
	const char *jwks_literal; /* instead of filler and keys */
	const char *header_json;
	enum test_key signer; /* KEY_NONE: signature_literal */
	const char *signature_literal;
	enum tamper tamper;
	const char *token_literal; /* instead of header, signer and tamper */
	int rc;
	int code;
	const char *message; /* a part of it; NULL on success */
	const char *alg, *kid;
};

#define KID_RS "\"kid\":\"kb-rs256\""
#define KID_ES "\"kid\":\"kb-es256\""
#define BOTH_KEYS                                                                                  \
	{                                                                                          \
		{ KEY_RSA, KID_RS, 0 },                                                            \
		{                                                                                  \
			KEY_EC, KID_ES, 0                                                          \
		}                                                                                  \
	}
#define RS_KID	 "{\"alg\":\"RS256\",\"kid\":\"kb-rs256\",\"typ\":\"at+jwt\"}"
#define ES_KID	 "{\"alg\":\"ES256\",\"kid\":\"kb-es256\"}"
#define MISMATCH "token signature does not match key "

static const struct verify_case verify_cases[] = {
	{ "valid RS256 with kid", 0, BOTH_KEYS, NULL, RS_KID, KEY_RSA, NULL, TAMPER_NONE, NULL, 0,
	  KB_EXIT_OK, NULL, "RS256", "kb-rs256" },
	{ "valid ES256 with kid", 0, BOTH_KEYS, NULL, ES_KID, KEY_EC, NULL, TAMPER_NONE, NULL, 0,
	  KB_EXIT_OK, NULL, "ES256", "kb-es256" },
	/* Without a kid, kty picks: the EC key cannot be meant by an RS256 token. */
	{ "valid RS256 without kid", 0, BOTH_KEYS, NULL, "{\"alg\":\"RS256\"}", KEY_RSA, NULL,
	  TAMPER_NONE, NULL, 0, KB_EXIT_OK, NULL, "RS256", "kb-rs256" },
	{ "valid ES256 without kid, key without kid",
	  0,
	  { { KEY_EC, "", 0 } },
	  NULL,
	  "{\"alg\":\"ES256\"}",
	  KEY_EC,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  0,
	  KB_EXIT_OK,
	  NULL,
	  "ES256",
	  "" },
	{ "valid with key alg, use sig and key_ops verify",
	  0,
	  { { KEY_RSA, KID_RS ",\"alg\":\"RS256\",\"use\":\"sig\",\"key_ops\":[\"verify\"]", 0 } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  0,
	  KB_EXIT_OK,
	  NULL,
	  "RS256",
	  "kb-rs256" },
	/* Entries that are not keys are skipped, not fatal (RFC 7517 section 5). */
	{ "valid among entries that are not keys",
	  0,
	  { { KEY_LITERAL, "\"not a key\"", 0 },
	    { KEY_LITERAL, "null", 0 },
	    { KEY_EC, KID_ES, 0 } },
	  NULL,
	  "{\"alg\":\"ES256\"}",
	  KEY_EC,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  0,
	  KB_EXIT_OK,
	  NULL,
	  "ES256",
	  "kb-es256" },
	{ "valid as the 32nd key",
	  31,
	  { { KEY_RSA, KID_RS, 0 } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  0,
	  KB_EXIT_OK,
	  NULL,
	  "RS256",
	  "kb-rs256" },
	{ "use enc not chosen",
	  0,
	  { { KEY_RSA, "\"kid\":\"kb-enc\",\"use\":\"enc\"", 0 },
	    { KEY_RSA_OTHER, "\"kid\":\"kb-sig\"", 0 } },
	  NULL,
	  "{\"alg\":\"RS256\"}",
	  KEY_RSA_OTHER,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  0,
	  KB_EXIT_OK,
	  NULL,
	  "RS256",
	  "kb-sig" },

	{ "tampered payload RS256", 0, BOTH_KEYS, NULL, RS_KID, KEY_RSA, NULL, TAMPER_PAYLOAD, NULL,
	  -1, KB_EXIT_REJECTED, MISMATCH "kb-rs256 (RS256) —", NULL, NULL },
	{ "tampered payload ES256", 0, BOTH_KEYS, NULL, ES_KID, KEY_EC, NULL, TAMPER_PAYLOAD, NULL,
	  -1, KB_EXIT_REJECTED, MISMATCH "kb-es256 (ES256) —", NULL, NULL },
	{ "tampered signature RS256", 0, BOTH_KEYS, NULL, RS_KID, KEY_RSA, NULL, TAMPER_SIGNATURE,
	  NULL, -1, KB_EXIT_REJECTED, MISMATCH "kb-rs256 (RS256) —", NULL, NULL },
	{ "tampered signature ES256", 0, BOTH_KEYS, NULL, ES_KID, KEY_EC, NULL, TAMPER_SIGNATURE,
	  NULL, -1, KB_EXIT_REJECTED, MISMATCH "kb-es256 (ES256) —", NULL, NULL },
	{ "signed by another key of the same kid", 0, BOTH_KEYS, NULL, RS_KID, KEY_RSA_OTHER, NULL,
	  TAMPER_NONE, NULL, -1, KB_EXIT_REJECTED, MISMATCH "kb-rs256 (RS256) —", NULL, NULL },
	{ "ES256 signature of 63 bytes", 0, BOTH_KEYS, NULL, ES_KID, KEY_EC, NULL, TAMPER_SHORT,
	  NULL, -1, KB_EXIT_REJECTED,
	  MISMATCH "kb-es256 (ES256): it has 63 bytes, ES256 signatures with it have 64", NULL,
	  NULL },
	{ "RS256 signature of 255 bytes", 0, BOTH_KEYS, NULL, RS_KID, KEY_RSA, NULL, TAMPER_SHORT,
	  NULL, -1, KB_EXIT_REJECTED,
	  MISMATCH "kb-rs256 (RS256): it has 255 bytes, RS256 signatures with it have 256", NULL,
	  NULL },
	{ "signature not base64url", 0, BOTH_KEYS, NULL, RS_KID, KEY_NONE, "c2ln*", TAMPER_NONE,
	  NULL, -1, KB_EXIT_REJECTED, MISMATCH "kb-rs256 (RS256): it is not base64url", NULL,
	  NULL },
	{ "empty signature", 0, BOTH_KEYS, NULL, ES_KID, KEY_NONE, "", TAMPER_NONE, NULL, -1,
	  KB_EXIT_REJECTED, MISMATCH "kb-es256 (ES256): it has 0 bytes", NULL, NULL },

	{ "kid not in the JWKS", 0, BOTH_KEYS, NULL, "{\"alg\":\"RS256\",\"kid\":\"kb-gone\"}",
	  KEY_RSA, NULL, TAMPER_NONE, NULL, -1, KB_EXIT_REJECTED,
	  "no key with kid kb-gone in the JWKS — ", NULL, NULL },
	{ "kid beyond the 32nd key",
	  32,
	  { { KEY_RSA, KID_RS, 0 } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "no key with kid kb-rs256 in the JWKS (only the first 32 of its 33 keys are read)",
	  NULL,
	  NULL },
	/* "kb-rs256\u0000x" is not "kb-rs256", though strcmp would say so. */
	{ "kid with a NUL", 0, BOTH_KEYS, NULL, "{\"alg\":\"RS256\",\"kid\":\"kb-rs256\\u0000x\"}",
	  KEY_RSA, NULL, TAMPER_NONE, NULL, -1, KB_EXIT_REJECTED,
	  "no key with kid kb-rs256?x in the JWKS", NULL, NULL },
	{ "kid not a string", 0, BOTH_KEYS, NULL, "{\"alg\":\"RS256\",\"kid\":7}", KEY_RSA, NULL,
	  TAMPER_NONE, NULL, -1, KB_EXIT_REJECTED, "token header's kid is not a string", NULL,
	  NULL },
	{ "alg none", 0, BOTH_KEYS, NULL, "{\"alg\":\"none\"}", KEY_NONE, "", TAMPER_NONE, NULL, -1,
	  KB_EXIT_REJECTED,
	  "token algorithm none cannot be verified with a JWKS (keybearer verifies RS256 and "
	  "ES256)",
	  NULL, NULL },
	/* The JWKS even offers a symmetric key under the token's kid: it must not be used. */
	{ "HS256",
	  0,
	  { { KEY_LITERAL, "{\"kty\":\"oct\",\"kid\":\"kb-hs\",\"k\":\"c2VjcmV0\"}", 0 } },
	  NULL,
	  "{\"alg\":\"HS256\",\"kid\":\"kb-hs\"}",
	  KEY_NONE,
	  "c2lnbmF0dXJl",
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "token algorithm HS256 cannot be verified with a JWKS (keybearer verifies RS256 and "
	  "ES256)",
	  NULL,
	  NULL },
	{ "alg RS256 with a NUL", 0, BOTH_KEYS, NULL, "{\"alg\":\"RS256\\u0000\"}", KEY_RSA, NULL,
	  TAMPER_NONE, NULL, -1, KB_EXIT_REJECTED, "token algorithm RS256? cannot be verified",
	  NULL, NULL },
	{ "no alg", 0, BOTH_KEYS, NULL, "{\"kid\":\"kb-rs256\"}", KEY_RSA, NULL, TAMPER_NONE, NULL,
	  -1, KB_EXIT_REJECTED, "token header has no alg", NULL, NULL },
	{ "header RS256, key alg ES256",
	  0,
	  { { KEY_EC, KID_ES ",\"alg\":\"ES256\"", 0 } },
	  NULL,
	  "{\"alg\":\"RS256\",\"kid\":\"kb-es256\"}",
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "key kb-es256 cannot verify this RS256 token: the key is for alg ES256, the token says "
	  "RS256",
	  NULL,
	  NULL },
	{ "header ES256, RSA key without alg", 0, BOTH_KEYS, NULL,
	  "{\"alg\":\"ES256\",\"kid\":\"kb-rs256\"}", KEY_EC, NULL, TAMPER_NONE, NULL, -1,
	  KB_EXIT_REJECTED,
	  "key kb-rs256 cannot verify this ES256 token: its kty is RSA, ES256 needs EC", NULL,
	  NULL },
	{ "use enc by kid",
	  0,
	  { { KEY_RSA, "\"kid\":\"kb-enc\",\"use\":\"enc\"", 0 } },
	  NULL,
	  "{\"alg\":\"RS256\",\"kid\":\"kb-enc\"}",
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "key kb-enc cannot verify this RS256 token: its use is enc, not sig",
	  NULL,
	  NULL },
	{ "key_ops without verify",
	  0,
	  { { KEY_RSA, KID_RS ",\"key_ops\":[\"encrypt\"]", 0 } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "its key_ops do not include verify",
	  NULL,
	  NULL },
	{ "two keys without kid, token without kid",
	  0,
	  { { KEY_RSA, "", 0 }, { KEY_RSA_OTHER, "", 0 }, { KEY_EC, "", 0 } },
	  NULL,
	  "{\"alg\":\"RS256\"}",
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "token has no kid and 2 keys in the JWKS fit RS256",
	  NULL,
	  NULL },
	{ "no key fits, token without kid",
	  0,
	  { { KEY_EC, KID_ES, 0 } },
	  NULL,
	  "{\"alg\":\"RS256\"}",
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "no key in the JWKS can verify this RS256 token without kid",
	  NULL,
	  NULL },
	{ "crit header", 0, BOTH_KEYS, NULL,
	  "{\"alg\":\"RS256\",\"kid\":\"kb-rs256\",\"b64\":false,\"crit\":[\"b64\"]}", KEY_RSA,
	  NULL, TAMPER_NONE, NULL, -1, KB_EXIT_REJECTED,
	  "token header lists critical extensions (crit)", NULL, NULL },
	{ "token not a JWT", 0, BOTH_KEYS, NULL, NULL, KEY_NONE, NULL, TAMPER_NONE,
	  "2YotnFZFEjr1zCsicMWpAA", -1, KB_EXIT_DATA, "token is not a JWT", NULL, NULL },

	{ "RSA key of 1024 bits",
	  0,
	  { { KEY_RSA_1024, "\"kid\":\"kb-rsa1024\"", 0 } },
	  NULL,
	  "{\"alg\":\"RS256\",\"kid\":\"kb-rsa1024\"}",
	  KEY_RSA_1024,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "key kb-rsa1024 is not a usable RSA key: its modulus has 1024 bits, not 2048 to 16384",
	  NULL,
	  NULL },
	{ "RSA exponent 1",
	  0,
	  { { KEY_RSA, KID_RS, JWK_E_ONE } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "key kb-rs256 is not a usable RSA key: its exponent e must be odd, at least 3",
	  NULL,
	  NULL },
	{ "RSA key without n",
	  0,
	  { { KEY_LITERAL, "{\"kty\":\"RSA\",\"kid\":\"kb-rs256\",\"e\":\"AQAB\"}", 0 } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "key kb-rs256 is not a usable RSA key: its n is missing",
	  NULL,
	  NULL },
	{ "EC point off the curve",
	  0,
	  { { KEY_EC, KID_ES, JWK_OFF_CURVE } },
	  NULL,
	  ES_KID,
	  KEY_EC,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "key kb-es256 is not a usable EC key: OpenSSL refuses it",
	  NULL,
	  NULL },
	{ "EC key on P-384",
	  0,
	  { { KEY_LITERAL,
	      "{\"kty\":\"EC\",\"kid\":\"kb-es256\",\"crv\":\"P-384\",\"x\":\"AAAA\",\"y\":"
	      "\"AAAA\"}",
	      0 } },
	  NULL,
	  ES_KID,
	  KEY_EC,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "key kb-es256 is not a usable EC key: its crv is P-384, ES256 needs P-256",
	  NULL,
	  NULL },
	{ "EC x of 31 bytes",
	  0,
	  { { KEY_LITERAL,
	      "{\"kty\":\"EC\",\"kid\":\"kb-es256\",\"crv\":\"P-256\","
	      "\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
	      "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}",
	      0 } },
	  NULL,
	  ES_KID,
	  KEY_EC,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "its x and y must be base64url of 32 bytes each",
	  NULL,
	  NULL },
	{ "two keys with the same kid",
	  0,
	  { { KEY_RSA, KID_RS, 0 }, { KEY_RSA_OTHER, KID_RS, 0 } },
	  NULL,
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "the JWKS has 2 keys with kid kb-rs256 that fit RS256",
	  NULL,
	  NULL },
	{ "JWKS not JSON",
	  0,
	  { { KEY_NONE, NULL, 0 } },
	  "{\"keys\":[",
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "the JWKS is not valid JSON — ",
	  NULL,
	  NULL },
	{ "JWKS with trailing garbage",
	  0,
	  { { KEY_NONE, NULL, 0 } },
	  "{\"keys\":[]} x",
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "the JWKS is not valid JSON",
	  NULL,
	  NULL },
	{ "JWKS without keys",
	  0,
	  { { KEY_NONE, NULL, 0 } },
	  "{\"kid\":\"kb-rs256\"}",
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "the JWKS has no \"keys\" array",
	  NULL,
	  NULL },
	{ "JWKS keys not an array",
	  0,
	  { { KEY_NONE, NULL, 0 } },
	  "{\"keys\":{}}",
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "the JWKS has no \"keys\" array",
	  NULL,
	  NULL },
	{ "JWKS an array",
	  0,
	  { { KEY_NONE, NULL, 0 } },
	  "[]",
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_PROTOCOL,
	  "the JWKS has no \"keys\" array",
	  NULL,
	  NULL },
	{ "JWKS with no keys",
	  0,
	  { { KEY_NONE, NULL, 0 } },
	  "{\"keys\":[]}",
	  RS_KID,
	  KEY_RSA,
	  NULL,
	  TAMPER_NONE,
	  NULL,
	  -1,
	  KB_EXIT_REJECTED,
	  "no key with kid kb-rs256 in the JWKS",
	  NULL,
	  NULL },
};

static void
test_bn_param(EVP_PKEY *pkey, const char *name, char *out, size_t size)
{
	unsigned char bytes[512];
	BIGNUM *bn = NULL;
	int len;

	assert_int_equal(EVP_PKEY_get_bn_param(pkey, name, &bn), 1);
	len = BN_num_bytes(bn);
	assert_true(len > 0 && (size_t)len <= sizeof(bytes));
	BN_bn2bin(bn, bytes);
	BN_free(bn);
	base64url_encode_bytes(bytes, (size_t)len, out, size);
}

static void
test_jwk(const struct jwk_spec *spec, char *out, size_t size)
{
	const char *comma = spec->members[0] != '\0' ? "," : "";
	unsigned char point[65];
	char a[400], b[400];
	size_t len;

	if (spec->key == KEY_LITERAL) {
		assert_true((size_t)snprintf(out, size, "%s", spec->members) < size);
		return;
	}
	if (spec->key != KEY_EC) {
		test_bn_param(test_keys[spec->key], OSSL_PKEY_PARAM_RSA_N, a, sizeof(a));
		test_bn_param(test_keys[spec->key], OSSL_PKEY_PARAM_RSA_E, b, sizeof(b));
		assert_true((size_t)snprintf(out, size,
					     "{\"kty\":\"RSA\",\"n\":\"%s\",\"e\":\"%s\"%s%s}", a,
					     spec->flags & JWK_E_ONE ? "AQ" : b, comma,
					     spec->members) < size);
		return;
	}
	assert_int_equal(EVP_PKEY_get_octet_string_param(test_keys[KEY_EC], OSSL_PKEY_PARAM_PUB_KEY,
							 point, sizeof(point), &len),
			 1);
	assert_int_equal(len, 65);
	assert_int_equal(point[0], 0x04);
	if (spec->flags & JWK_OFF_CURVE)
		point[64] ^= 1;
	base64url_encode_bytes(point + 1, 32, a, sizeof(a));
	base64url_encode_bytes(point + 33, 32, b, sizeof(b));
	assert_true(
		(size_t)snprintf(out, size,
				 "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"%s%s}",
				 a, b, comma, spec->members) < size);
}

static void
test_jwks_text(const struct verify_case *c, char *out, size_t size)
{
	char jwk[2048];
	size_t n;
	int i;

	if (c->jwks_literal != NULL) {
		assert_true((size_t)snprintf(out, size, "%s", c->jwks_literal) < size);
		return;
	}
	n = (size_t)snprintf(out, size, "{\"keys\":[");
	for (i = 0; i < c->filler; i++)
		n += (size_t)snprintf(out + n, size - n,
				      "%s{\"kty\":\"oct\",\"kid\":\"f%d\",\"k\":\"AA\"}",
				      i > 0 ? "," : "", i);
	for (i = 0; i < 3 && c->keys[i].key != KEY_NONE; i++) {
		test_jwk(&c->keys[i], jwk, sizeof(jwk));
		assert_true(n < size);
		n += (size_t)snprintf(out + n, size - n, "%s%s", i > 0 || c->filler > 0 ? "," : "",
				      jwk);
	}
	assert_true(n < size);
	assert_true((size_t)snprintf(out + n, size - n, "]}") < size - n);
}

/* The JWS signature: PKCS#1 v1.5 bytes for RSA, r || s (32 bytes each) for P-256, which
 * EVP_DigestSign gives as DER. Returns its length. */
static size_t
test_sign(EVP_PKEY *pkey, const char *input, unsigned char *sig, size_t size)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[512];
	const unsigned char *p = der;
	size_t der_len = sizeof(der);
	const BIGNUM *r, *s;
	ECDSA_SIG *ecdsa;

	assert_non_null(md);
	assert_int_equal(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pkey, NULL), 1);
	assert_int_equal(
		EVP_DigestSign(md, der, &der_len, (const unsigned char *)input, strlen(input)), 1);
	EVP_MD_CTX_free(md);
	assert_true(der_len <= size);
	if (!EVP_PKEY_is_a(pkey, "EC")) {
		memcpy(sig, der, der_len);
		return der_len;
	}
	ecdsa = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	assert_non_null(ecdsa);
	ECDSA_SIG_get0(ecdsa, &r, &s);
	assert_int_equal(BN_bn2binpad(r, sig, 32), 32);
	assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
	ECDSA_SIG_free(ecdsa);
	return 64;
}

static void
test_token(const struct verify_case *c, char *out, size_t size)
{
	char header[512], claims[512], signature[700];
	unsigned char sig[512];
	size_t n, sig_len;

	if (c->token_literal != NULL) {
		assert_true((size_t)snprintf(out, size, "%s", c->token_literal) < size);
		return;
	}
	base64url_encode(c->header_json, header, sizeof(header));
	base64url_encode(CLAIMS_JSON, claims, sizeof(claims));
	n = (size_t)snprintf(out, size, "%s.%s", header, claims);
	assert_true(n < size);
	if (c->signer == KEY_NONE) {
		snprintf(signature, sizeof(signature), "%s", c->signature_literal);
	} else {
		sig_len = test_sign(test_keys[c->signer], out, sig, sizeof(sig));
		if (c->tamper == TAMPER_SIGNATURE)
			sig[0] ^= 0x01;
		if (c->tamper == TAMPER_SHORT)
			sig_len--;
		base64url_encode_bytes(sig, sig_len, signature, sizeof(signature));
	}
	if (c->tamper == TAMPER_PAYLOAD)
		base64url_encode(OTHER_CLAIMS_JSON, claims, sizeof(claims));
	assert_true((size_t)snprintf(out, size, "%s.%s.%s", header, claims, signature) < size);
}

static void
test_jwks_verify_table(void **state)
{
	static char jwks[JWKS_SIZE];
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(verify_cases) / sizeof(verify_cases[0]); i++) {
		const struct verify_case *c = &verify_cases[i];
		struct jwks_result result;
		struct error err = { 0 };
		char token[TOKEN_SIZE];
		int rc;

		test_jwks_text(c, jwks, sizeof(jwks));
		test_token(c, token, sizeof(token));
		memset(&result, 'x', sizeof(result));
		rc = jwks_verify(jwks, strlen(jwks), token, &result, &err);
		failures += mismatch_int(c->name, "rc", rc, c->rc);
		failures += mismatch_int(c->name, "err.code", err.code, c->code);
		if (c->message != NULL)
			failures += mismatch_contains(c->name, "message", err.message, c->message);
		else
			failures += mismatch_str(c->name, "message", err.message, "");
		/* A failure leaves nothing that could be shown as "verified by". */
		failures += mismatch_str(c->name, "result.alg", result.alg, c->alg ? c->alg : "");
		failures += mismatch_str(c->name, "result.kid", result.kid, c->kid ? c->kid : "");
		failures += mismatch_int(c->name, "OpenSSL errors left", ERR_peek_error() != 0, 0);
	}
	assert_int_equal(failures, 0);
}

/* The bound is on the text: a 64 KiB + 1 JWKS is refused before it is parsed. */
static void
test_jwks_verify_size_bound(void **state)
{
	static const struct verify_case c = { "bound", 0,	    { { KEY_RSA, KID_RS, 0 } },
					      NULL,    RS_KID,	    KEY_RSA,
					      NULL,    TAMPER_NONE, NULL,
					      0,       0,	    NULL,
					      NULL,    NULL };
	struct jwks_result result;
	struct error err = { 0 };
	char token[TOKEN_SIZE];
	size_t len = 64 * 1024;
	char *jwks = malloc(len + 2);

	(void)state;
	assert_non_null(jwks);
	test_jwks_text(&c, jwks, len + 2);
	test_token(&c, token, sizeof(token));
	memset(jwks + strlen(jwks), ' ', len + 2 - strlen(jwks));
	/* Exactly 64 KiB, trailing whitespace included: accepted. */
	assert_int_equal(jwks_verify(jwks, len, token, &result, &err), 0);
	assert_string_equal(result.kid, "kb-rs256");
	assert_int_equal(jwks_verify(jwks, len + 1, token, &result, &err), -1);
	assert_int_equal(err.code, KB_EXIT_PROTOCOL);
	assert_non_null(strstr(err.message, "the JWKS is larger than 64 KiB"));
	free(jwks);
}

/* The first failure is the one reported (error_set keeps it): a caller's err that already
 * holds a failure is left alone, and the return code still says "not verified". */
static void
test_jwks_verify_keeps_first_error(void **state)
{
	struct jwks_result result;
	struct error err = { KB_EXIT_IO, "earlier failure" };

	(void)state;
	assert_int_equal(jwks_verify("[]", 2, "a.b.c", &result, &err), -1);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_string_equal(err.message, "earlier failure");
}

/* keybearer-fetch's TLS (libcurl) reads the same per-thread OpenSSL error queue: a refused
 * key must leave behind neither its own errors nor fewer than the caller had. */
static void
test_jwks_verify_leaves_error_queue(void **state)
{
	static const struct verify_case c = {
		"queue", 0,	      { { KEY_EC, KID_ES, JWK_OFF_CURVE } },
		NULL,	 ES_KID,      KEY_EC,
		NULL,	 TAMPER_NONE, NULL,
		0,	 0,	      NULL,
		NULL,	 NULL
	};
	struct jwks_result result;
	struct error err = { 0 };
	char jwks[JWKS_SIZE], token[TOKEN_SIZE];

	(void)state;
	test_jwks_text(&c, jwks, sizeof(jwks));
	test_token(&c, token, sizeof(token));
	ERR_raise(ERR_LIB_USER, 42);
	assert_int_equal(jwks_verify(jwks, strlen(jwks), token, &result, &err), -1);
	assert_non_null(strstr(err.message, "OpenSSL refuses it (point is not on curve)"));
	assert_int_equal(ERR_GET_REASON(ERR_get_error()), 42);
	assert_int_equal(ERR_get_error(), 0);
}

static int
test_keys_make(void **state)
{
	(void)state;
	test_keys[KEY_RSA] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	test_keys[KEY_RSA_OTHER] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	test_keys[KEY_RSA_1024] = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	test_keys[KEY_EC] = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return test_keys[KEY_RSA] && test_keys[KEY_RSA_OTHER] && test_keys[KEY_RSA_1024] &&
			       test_keys[KEY_EC]
		       ? 0
		       : -1;
}

static int
test_keys_free(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < KEY_COUNT; i++)
		EVP_PKEY_free(test_keys[i]);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwks_verify_table),
		cmocka_unit_test(test_jwks_verify_size_bound),
		cmocka_unit_test(test_jwks_verify_keeps_first_error),
		cmocka_unit_test(test_jwks_verify_leaves_error_queue),
	};

	return cmocka_run_group_tests(tests, test_keys_make, test_keys_free);
}

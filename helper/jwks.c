#include "jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <string.h>

#include "jwt.h"
#include "strictjson.h"

#define JWKS_TEXT_MAX	  (64 * 1024)
#define JWKS_KEYS_MAX	  32
#define JWKS_RSA_MIN_BITS 2048
/* OpenSSL refuses larger moduli itself (OPENSSL_RSA_MAX_MODULUS_BITS); saying so is clearer. */
#define JWKS_RSA_MAX_BITS 16384
#define JWKS_RSA_E_BITS	  64
/* Room for a decoded RSA modulus or signature, with a leading zero byte or two to spare. */
#define JWKS_BYTES_MAX	(JWKS_RSA_MAX_BITS / 8 + 4)
#define JWKS_P256_BYTES 32
#define JWKS_LABEL_MAX	64
#define JWKS_WHY_MAX	160

enum jwks_alg { JWKS_RS256, JWKS_ES256 };

static const struct {
	const char *name, *kty;
} jwks_algs[] = {
	[JWKS_RS256] = { "RS256", "RSA" },
	[JWKS_ES256] = { "ES256", "EC" },
};

/* What a token says about its signature. Strings point into header, which this owns. */
struct jwks_token {
	struct json_object *header;
	enum jwks_alg alg;
	const char *kid; /* NULL: the header has none */
	size_t kid_len;
	size_t signed_len;     /* "header.payload": token[0..signed_len) */
	const char *signature; /* the third part, base64url */
};

/* s as printable ASCII for a message or the result: '?' for other bytes, "..." when cut, so
 * a hostile kid cannot put control characters on the user's terminal. */
static void
jwks_printable(const char *s, size_t len, char *out, size_t size)
{
	size_t i, n = len < size - 1 ? len : size - 1;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[n] = '\0';
	if (n < len && size >= 4)
		memcpy(out + size - 4, "...", 4);
}

/* 1 with the member's bytes, 0 when absent, -1 when not a string. The length matters: a JSON
 * string may hold \u0000, and "RS256\u0000x" must not pass for "RS256" with strcmp. */
static int
jwks_member_string(struct json_object *obj, const char *name, const char **s, size_t *len)
{
	struct json_object *member;

	if (!json_object_object_get_ex(obj, name, &member))
		return 0;
	if (!json_object_is_type(member, json_type_string))
		return -1;
	*s = json_object_get_string(member);
	*len = (size_t)json_object_get_string_len(member);
	return 1;
}

static int
jwks_bytes_are(const char *s, size_t len, const char *literal)
{
	return len == strlen(literal) && memcmp(s, literal, len) == 0;
}

static int
jwks_member_is(struct json_object *obj, const char *name, const char *literal)
{
	const char *s;
	size_t len;

	return jwks_member_string(obj, name, &s, &len) == 1 && jwks_bytes_are(s, len, literal);
}

/* A member's value for a message: printable, "(none)" or "(not a string)". */
static void
jwks_member_shown(struct json_object *obj, const char *name, char *out, size_t size)
{
	const char *s;
	size_t len;

	switch (jwks_member_string(obj, name, &s, &len)) {
	case 1:
		jwks_printable(s, len, out, size);
		break;
	case 0:
		snprintf(out, size, "(none)");
		break;
	default:
		snprintf(out, size, "(not a string)");
	}
}

/* The key's kid for messages, or its place in "keys" when it has none. */
static void
jwks_key_label(struct json_object *key, size_t index, char *out, size_t size)
{
	const char *kid;
	size_t len;

	if (jwks_member_string(key, "kid", &kid, &len) == 1)
		jwks_printable(kid, len, out, size);
	else
		snprintf(out, size, "#%zu (no kid)", index + 1);
}

static int
jwks_token_alg(struct jwks_token *tok, struct error *err)
{
	char shown[JWKS_LABEL_MAX];
	const char *alg;
	size_t len;

	switch (jwks_member_string(tok->header, "alg", &alg, &len)) {
	case 0:
		return error_set(err, KB_EXIT_REJECTED,
				 "token header has no alg — keybearer verifies RS256 and ES256 "
				 "tokens only; report this to the provider");
	case -1:
		return error_set(err, KB_EXIT_REJECTED,
				 "token header's alg is not a string — this is not a valid JWS; "
				 "report this to the provider");
	}
	if (jwks_bytes_are(alg, len, "RS256")) {
		tok->alg = JWKS_RS256;
		return 0;
	}
	if (jwks_bytes_are(alg, len, "ES256")) {
		tok->alg = JWKS_ES256;
		return 0;
	}
	/* none proves nothing, and HS* would need the JWKS to hand out a shared secret: a key
	 * anyone who reads the JWKS could sign with. */
	jwks_printable(alg, len, shown, sizeof(shown));
	return error_set(err, KB_EXIT_REJECTED,
			 "token algorithm %s cannot be verified with a JWKS (keybearer verifies "
			 "RS256 and ES256) — ask the provider for asymmetrically signed tokens",
			 shown);
}

static int
jwks_token_parse(const char *token, struct jwks_token *tok, struct error *err)
{
	struct json_object *claims = NULL, *crit;
	const char *dot;

	if (jwt_decode(token, &tok->header, &claims) != 0)
		return error_set(err, KB_EXIT_DATA,
				 "token is not a JWT (three base64url parts, a JSON header and "
				 "claims) — only JWT access tokens can be verified");
	json_object_put(claims); /* the claims are jwt.c's business, not the signature's */
	dot = strchr(token, '.');
	dot = strchr(dot + 1, '.'); /* jwt_decode found exactly two dots */
	tok->signed_len = (size_t)(dot - token);
	tok->signature = dot + 1;
	if (jwks_token_alg(tok, err) != 0)
		return -1;
	/* Only kid is read: a key the token brings along (jwk, jku, x5u, x5c) would let it
	 * vouch for itself. */
	switch (jwks_member_string(tok->header, "kid", &tok->kid, &tok->kid_len)) {
	case 0:
		tok->kid = NULL;
		break;
	case -1:
		return error_set(err, KB_EXIT_REJECTED,
				 "token header's kid is not a string — this is not a valid JWS; "
				 "report this to the provider");
	}
	/* RFC 7515 section 4.1.11: extensions listed in crit must be understood or the token
	 * refused. We understand none (b64=false would change what is signed). */
	if (json_object_object_get_ex(tok->header, "crit", &crit))
		return error_set(err, KB_EXIT_REJECTED,
				 "token header lists critical extensions (crit) keybearer does not "
				 "implement — RFC 7515 requires refusing the token; report this to "
				 "the provider");
	return 0;
}

static int
jwks_key_ops_allow_verify(struct json_object *key)
{
	struct json_object *ops;
	size_t i, n;

	if (!json_object_object_get_ex(key, "key_ops", &ops))
		return 1;
	if (!json_object_is_type(ops, json_type_array))
		return 0;
	n = json_object_array_length(ops);
	for (i = 0; i < n; i++) {
		struct json_object *op = json_object_array_get_idx(ops, i);
		if (json_object_is_type(op, json_type_string) &&
		    jwks_bytes_are(json_object_get_string(op),
				   (size_t)json_object_get_string_len(op), "verify"))
			return 1;
	}
	return 0;
}

/* 0 when key may verify an alg token, else -1 with the reason in why. The alg comes first so
 * that a token whose header disagrees with the key's declared alg is told exactly that. */
static int
jwks_key_misfit(struct json_object *key, enum jwks_alg alg, char *why, size_t size)
{
	char shown[JWKS_LABEL_MAX];
	struct json_object *member;

	if (!json_object_is_type(key, json_type_object)) {
		snprintf(why, size, "it is not a JSON object");
		return -1;
	}
	if (json_object_object_get_ex(key, "alg", &member) &&
	    !jwks_member_is(key, "alg", jwks_algs[alg].name)) {
		jwks_member_shown(key, "alg", shown, sizeof(shown));
		snprintf(why, size, "the key is for alg %s, the token says %s", shown,
			 jwks_algs[alg].name);
		return -1;
	}
	if (!jwks_member_is(key, "kty", jwks_algs[alg].kty)) {
		jwks_member_shown(key, "kty", shown, sizeof(shown));
		snprintf(why, size, "its kty is %s, %s needs %s", shown, jwks_algs[alg].name,
			 jwks_algs[alg].kty);
		return -1;
	}
	if (json_object_object_get_ex(key, "use", &member) && !jwks_member_is(key, "use", "sig")) {
		jwks_member_shown(key, "use", shown, sizeof(shown));
		snprintf(why, size, "its use is %s, not sig", shown);
		return -1;
	}
	if (!jwks_key_ops_allow_verify(key)) {
		snprintf(why, size, "its key_ops do not include verify");
		return -1;
	}
	return 0;
}

static int
jwks_kid_is(struct json_object *key, const char *kid, size_t kid_len)
{
	const char *s;
	size_t len;

	return jwks_member_string(key, "kid", &s, &len) == 1 && len == kid_len &&
	       memcmp(s, kid, len) == 0;
}

static int
jwks_select_failed(const struct jwks_token *tok, size_t named, size_t fits, size_t total,
		   const char *why, const char *label, struct error *err)
{
	const char *alg = jwks_algs[tok->alg].name;
	char kid[JWKS_LABEL_MAX], unread[64] = "";

	if (total > JWKS_KEYS_MAX)
		snprintf(unread, sizeof(unread), " (only the first %d of its %zu keys are read)",
			 JWKS_KEYS_MAX, total);
	if (tok->kid == NULL && fits == 0)
		return error_set(err, KB_EXIT_REJECTED,
				 "no key in the JWKS%s can verify this %s token without kid (it "
				 "needs kty %s, use sig) — check jwks_uri",
				 unread, alg, jwks_algs[tok->alg].kty);
	if (tok->kid == NULL)
		return error_set(err, KB_EXIT_REJECTED,
				 "token has no kid and %zu keys in the JWKS fit %s, so none can be "
				 "chosen — the provider must put a kid in its tokens",
				 fits, alg);
	jwks_printable(tok->kid, tok->kid_len, kid, sizeof(kid));
	if (named == 0)
		return error_set(err, KB_EXIT_REJECTED,
				 "no key with kid %s in the JWKS%s — the provider may have rotated "
				 "its keys: fetch the JWKS again, or check jwks_uri",
				 kid, unread);
	if (fits == 0)
		return error_set(err, KB_EXIT_REJECTED,
				 "key %s cannot verify this %s token: %s — report this to the "
				 "provider",
				 label, alg, why);
	return error_set(err, KB_EXIT_PROTOCOL,
			 "the JWKS has %zu keys with kid %s that fit %s, so none can be chosen "
			 "— a kid must name one key; report this to the provider",
			 fits, kid, alg);
}

/* The key to verify with: by kid when the token names one, else the only one that fits. */
static int
jwks_select(struct json_object *keys, const struct jwks_token *tok, struct json_object **chosen,
	    size_t *index, struct error *err)
{
	size_t total = json_object_array_length(keys), i, named = 0, fits = 0;
	char why[JWKS_WHY_MAX] = "", label[JWKS_LABEL_MAX] = "";

	for (i = 0; i < total && i < JWKS_KEYS_MAX; i++) {
		struct json_object *key = json_object_array_get_idx(keys, i);
		char this_why[JWKS_WHY_MAX];

		if (tok->kid != NULL && !jwks_kid_is(key, tok->kid, tok->kid_len))
			continue;
		named++;
		if (jwks_key_misfit(key, tok->alg, this_why, sizeof(this_why)) != 0) {
			if (why[0] == '\0') {
				memcpy(why, this_why, sizeof(why));
				jwks_key_label(key, i, label, sizeof(label));
			}
			continue;
		}
		if (fits++ == 0) {
			*chosen = key;
			*index = i;
		}
	}
	if (fits == 1)
		return 0;
	return jwks_select_failed(tok, named, fits, total, why, label, err);
}

/* A base64url member decoded into out: its length, or -1 when it is absent, not a string,
 * empty, not base64url, or too long for out. */
static long
jwks_member_bytes(struct json_object *key, const char *name, unsigned char *out, size_t size)
{
	const char *s;
	size_t len;

	if (jwks_member_string(key, name, &s, &len) != 1 || len == 0 || len / 4 * 3 + 3 > size)
		return -1;
	return jwt_base64url_decode(s, len, out);
}

static const char *
jwks_openssl_reason(void)
{
	const char *reason = ERR_reason_error_string(ERR_peek_last_error());

	return reason != NULL ? reason : "no reason given";
}

/* The public key (type "RSA" or "EC") the builder's parameters describe: 0, or -1 with err
 * saying why OpenSSL refuses them. */
static int
jwks_fromdata(const char *type, OSSL_PARAM_BLD *bld, const char *label, EVP_PKEY **pkey,
	      struct error *err)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);

	*pkey = NULL;
	if (params == NULL || ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		EVP_PKEY_free(*pkey);
		*pkey = NULL;
		error_set(err, KB_EXIT_PROTOCOL,
			  "key %s is not a usable %s key: OpenSSL refuses it (%s) — report this "
			  "to the provider",
			  label, type, jwks_openssl_reason());
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	return *pkey != NULL ? 0 : -1;
}

/* A base64url big-endian number member: 0, or -1 when it is not one (KB_EXIT_PROTOCOL is the
 * caller's to report) or libcrypto is out of memory (already reported). */
static int
jwks_member_bn(struct json_object *key, const char *name, BIGNUM **out, struct error *err)
{
	unsigned char bytes[JWKS_BYTES_MAX];
	long len = jwks_member_bytes(key, name, bytes, sizeof(bytes));

	if (len <= 0)
		return -1;
	*out = BN_bin2bn(bytes, (int)len, NULL);
	if (*out == NULL)
		return error_set(err, KB_EXIT_INTERNAL,
				 "out of memory — free some memory and retry");
	return 0;
}

/* Checks n and e ourselves: OpenSSL would happily build a 512-bit key or one with e = 1,
 * whose "signatures" anyone can forge. */
static int
jwks_rsa_numbers(struct json_object *key, const char *label, BIGNUM **n, BIGNUM **e,
		 struct error *err)
{
	int bits;

	if (jwks_member_bn(key, "n", n, err) != 0)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "key %s is not a usable RSA key: its n is missing, not base64url "
				 "or longer than %d bits — report this to the provider",
				 label, JWKS_RSA_MAX_BITS);
	bits = BN_num_bits(*n);
	if (bits < JWKS_RSA_MIN_BITS || bits > JWKS_RSA_MAX_BITS)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "key %s is not a usable RSA key: its modulus has %d bits, not %d "
				 "to %d — report this to the provider",
				 label, bits, JWKS_RSA_MIN_BITS, JWKS_RSA_MAX_BITS);
	if (jwks_member_bn(key, "e", e, err) != 0)
		return error_set(
			err, KB_EXIT_PROTOCOL,
			"key %s is not a usable RSA key: its e is missing or not base64url "
			"— report this to the provider",
			label);
	if (!BN_is_odd(*e) || BN_is_one(*e) || BN_num_bits(*e) > JWKS_RSA_E_BITS)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "key %s is not a usable RSA key: its exponent e must be odd, at "
				 "least 3 and at most %d bits — report this to the provider",
				 label, JWKS_RSA_E_BITS);
	return 0;
}

static int
jwks_rsa_load(struct json_object *key, const char *label, EVP_PKEY **pkey, struct error *err)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *n = NULL, *e = NULL;
	int rc = -1;

	if (jwks_rsa_numbers(key, label, &n, &e, err) != 0)
		goto out;
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e)) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory and retry");
		goto out;
	}
	rc = jwks_fromdata("RSA", bld, label, pkey, err);
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	return rc;
}

/* The uncompressed point 0x04 || x || y (SEC 1 section 2.3.3) from x and y. */
static int
jwks_ec_point(struct json_object *key, unsigned char point[1 + 2 * JWKS_P256_BYTES])
{
	unsigned char coordinate[JWKS_P256_BYTES + 4];

	point[0] = 0x04;
	if (jwks_member_bytes(key, "x", coordinate, sizeof(coordinate)) != JWKS_P256_BYTES)
		return -1;
	memcpy(point + 1, coordinate, JWKS_P256_BYTES);
	if (jwks_member_bytes(key, "y", coordinate, sizeof(coordinate)) != JWKS_P256_BYTES)
		return -1;
	memcpy(point + 1 + JWKS_P256_BYTES, coordinate, JWKS_P256_BYTES);
	return 0;
}

/* P-256 only: ES256 is ECDSA on that curve (RFC 7518 section 3.4). OpenSSL checks that the
 * point lies on the curve when it builds the key. */
static int
jwks_ec_load(struct json_object *key, const char *label, EVP_PKEY **pkey, struct error *err)
{
	unsigned char point[1 + 2 * JWKS_P256_BYTES];
	char crv[JWKS_LABEL_MAX];
	OSSL_PARAM_BLD *bld = NULL;
	int rc = -1;

	if (!jwks_member_is(key, "crv", "P-256")) {
		jwks_member_shown(key, "crv", crv, sizeof(crv));
		return error_set(err, KB_EXIT_PROTOCOL,
				 "key %s is not a usable EC key: its crv is %s, ES256 needs P-256 "
				 "— report this to the provider",
				 label, crv);
	}
	if (jwks_ec_point(key, point) != 0)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "key %s is not a usable EC key: its x and y must be base64url of "
				 "%d bytes each — report this to the provider",
				 label, JWKS_P256_BYTES);
	bld = OSSL_PARAM_BLD_new();
	if (bld == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point))) {
		error_set(err, KB_EXIT_INTERNAL, "out of memory — free some memory and retry");
		goto out;
	}
	rc = jwks_fromdata("EC", bld, label, pkey, err);
out:
	OSSL_PARAM_BLD_free(bld);
	return rc;
}

/* JWS carries ECDSA signatures as r || s, 32 bytes each; OpenSSL verifies the DER SEQUENCE
 * of two INTEGERs (RFC 7518 section 3.4). *der is the caller's, for OPENSSL_free. */
static int
jwks_es256_der(const unsigned char *rs, unsigned char **der, int *der_len)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(rs, JWKS_P256_BYTES, NULL);
	BIGNUM *s = BN_bin2bn(rs + JWKS_P256_BYTES, JWKS_P256_BYTES, NULL);
	int rc = -1;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto out;
	r = s = NULL; /* sig owns them now */
	*der = NULL;
	*der_len = i2d_ECDSA_SIG(sig, der);
	rc = *der_len > 0 ? 0 : -1;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

static int
jwks_mismatch(const struct jwks_token *tok, const char *label, const char *detail,
	      struct error *err)
{
	return error_set(err, KB_EXIT_REJECTED,
			 "token signature does not match key %s (%s)%s — the token was altered "
			 "or signed with another key; if the provider rotated its keys, fetch "
			 "the JWKS again",
			 label, jwks_algs[tok->alg].name, detail);
}

/* EVP_DigestVerify over "header.payload" exactly as the token has it. 1 valid; 0 not, for
 * whatever reason EVP_DigestVerify gives (it may say -1 for a malformed signature); -1 when
 * libcrypto could not even start. */
static int
jwks_digest_verify(EVP_PKEY *pkey, enum jwks_alg alg, const unsigned char *sig, size_t sig_len,
		   const char *token, size_t signed_len)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL; /* md's */
	int rc = -1;

	if (md == NULL || EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pkey, NULL) != 1)
		goto out;
	/* PKCS#1 v1.5 is OpenSSL's default today; RS256 must not depend on a default. */
	if (alg == JWKS_RS256 && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
		goto out;
	rc = EVP_DigestVerify(md, sig, sig_len, (const unsigned char *)token, signed_len) == 1;
out:
	EVP_MD_CTX_free(md);
	return rc;
}

static int
jwks_signature_check(EVP_PKEY *pkey, const struct jwks_token *tok, const char *token,
		     const char *label, struct error *err)
{
	unsigned char raw[JWKS_BYTES_MAX], *der = NULL;
	const unsigned char *sig = raw;
	size_t b64_len = strlen(tok->signature), sig_len;
	char detail[96];
	long raw_len;
	int want, der_len, rc = -1, valid;

	want = tok->alg == JWKS_RS256 ? EVP_PKEY_get_size(pkey) : 2 * JWKS_P256_BYTES;
	if (b64_len / 4 * 3 + 3 > sizeof(raw))
		return jwks_mismatch(tok, label, ": it is longer than any RS256 or ES256 signature",
				     err);
	raw_len = jwt_base64url_decode(tok->signature, b64_len, raw);
	if (raw_len < 0)
		return jwks_mismatch(tok, label, ": it is not base64url", err);
	/* A wrong length is a mismatch to report, never a buffer to read past. */
	if (raw_len != want) {
		snprintf(detail, sizeof(detail),
			 ": it has %ld bytes, %s signatures with it have %d", raw_len,
			 jwks_algs[tok->alg].name, want);
		return jwks_mismatch(tok, label, detail, err);
	}
	sig_len = (size_t)raw_len;
	if (tok->alg == JWKS_ES256) {
		if (jwks_es256_der(raw, &der, &der_len) != 0) {
			error_set(err, KB_EXIT_INTERNAL,
				  "out of memory — free some memory and retry");
			goto out;
		}
		sig = der;
		sig_len = (size_t)der_len;
	}
	valid = jwks_digest_verify(pkey, tok->alg, sig, sig_len, token, tok->signed_len);
	if (valid < 0)
		error_set(err, KB_EXIT_INTERNAL,
			  "libcrypto could not verify a signature (%s) — check the OpenSSL "
			  "installation",
			  jwks_openssl_reason());
	else if (valid == 0)
		jwks_mismatch(tok, label, "", err);
	else
		rc = 0;
out:
	OPENSSL_free(der);
	return rc;
}

/* The JWKS's "keys", owned by *jwks. */
static int
jwks_parse(const char *text, size_t len, struct json_object **jwks, struct json_object **keys,
	   struct error *err)
{
	if (len > JWKS_TEXT_MAX)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the JWKS is larger than %d KiB — check jwks_uri",
				 JWKS_TEXT_MAX / 1024);
	*jwks = strictjson_parse(text, len);
	if (*jwks == NULL)
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the JWKS is not valid JSON — check jwks_uri");
	if (!json_object_object_get_ex(*jwks, "keys", keys) ||
	    !json_object_is_type(*keys, json_type_array))
		return error_set(err, KB_EXIT_PROTOCOL,
				 "the JWKS has no \"keys\" array (RFC 7517 section 5) — check "
				 "jwks_uri");
	return 0;
}

int
jwks_verify(const char *jwks_json, size_t jwks_len, const char *token, struct jwks_result *result,
	    struct error *err)
{
	struct jwks_token tok = { 0 };
	struct json_object *jwks = NULL, *keys, *key = NULL;
	char label[JWKS_LABEL_MAX];
	EVP_PKEY *pkey = NULL;
	size_t index = 0;
	const char *kid;
	size_t kid_len;
	int rc = -1;

	memset(result, 0, sizeof(*result));
	ERR_set_mark();
	if (jwks_token_parse(token, &tok, err) != 0 ||
	    jwks_parse(jwks_json, jwks_len, &jwks, &keys, err) != 0 ||
	    jwks_select(keys, &tok, &key, &index, err) != 0)
		goto out;
	jwks_key_label(key, index, label, sizeof(label));
	if ((tok.alg == JWKS_RS256 ? jwks_rsa_load(key, label, &pkey, err)
				   : jwks_ec_load(key, label, &pkey, err)) != 0 ||
	    jwks_signature_check(pkey, &tok, token, label, err) != 0)
		goto out;
	snprintf(result->alg, sizeof(result->alg), "%s", jwks_algs[tok.alg].name);
	if (jwks_member_string(key, "kid", &kid, &kid_len) == 1)
		jwks_printable(kid, kid_len, result->kid, sizeof(result->kid));
	rc = 0;
out:
	EVP_PKEY_free(pkey);
	json_object_put(jwks);
	json_object_put(tok.header);
	/* libcurl's TLS reads the same per-thread error queue: leave it as we found it. */
	ERR_pop_to_mark();
	return rc;
}

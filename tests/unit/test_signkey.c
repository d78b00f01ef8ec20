/* The client's signing key and the client assertion (private_key_jwt, client_secret_jwt):
 * base64url, the RFC 7638 thumbprint, the algorithm each key takes, the assertion's header
 * and claims, and every signature checked by another implementation (Debian's authlib,
 * through /usr/bin/python3), which also rejects an ES256 signature in DER form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "assertion.h"
#include "jwt.h"
#include "rows.h"
#include "signkey.h"

#define PYTHON "/usr/bin/python3"

/* Test keys made with openssl; their thumbprints as authlib computes them. */
static const char ec_pem[] = "-----BEGIN EC PRIVATE KEY-----\n"
			     "MHcCAQEEIEFfHh40TAg+WT1uym4tUVZtkcvsw1BWWOgyJCCpviHfoAoGCCqGSM49\n"
			     "AwEHoUQDQgAEWBIN6914zLEjjPPwWOLwxuoRe6jyEs9kjKlqtG57QNRSn2BrQNDZ\n"
			     "GE0cjx+q9XIp2wOhDsmIxV7eV3UISODLsw==\n"
			     "-----END EC PRIVATE KEY-----\n";
static const char rsa_pem[] = "-----BEGIN RSA PRIVATE KEY-----\n"
			      "MIIEowIBAAKCAQEAq+rDSja/EAZ6AoPREyDiq5QxKo9zI0LF4/r4tgqCMphfScMO\n"
			      "0qwNHnfpyGJp3poc8WGltULs79ANi5dWa/5Yu16d5LNQ32+uE90RMzey2984IX9A\n"
			      "OT17DvsvVyvxykNKfv9t6FtDodsYJzGgmpCgltR1TT/NUj3IOZlRcQJV0ja9mH0j\n"
			      "N9A27tSgkZibfSozbhvE1dkFfrj/GQYdSpHNUq6HvgsK2eQSuLNoGRGisoT2TprJ\n"
			      "CS1aRKIyVpjBb05wjI4cN3olmp8y+B546zrJe+ag0DSJO/nsGC7TDq1WodipKPZA\n"
			      "Y2KIWKagJ4a7U3PgO4eW8E4lwOPSam5v5NGOIwIDAQABAoIBADCUmRYGLWyiX+UJ\n"
			      "CdJNdzBEIrajrcYXjuMzHwgWJR+WBktKRwyKWPS0rwgUo1UnmKkvTkvP+zNzR/ib\n"
			      "zeybhciA3r5rW52gKgFr9XnTMgRG6k4w7t2d/YHIwmJwRRXCeTE1DgJck9qPlp4w\n"
			      "vHEhEHg+1lz7fBJS6hs4s5ZrMgRCQ0OyDwsO9BM0meMD+7uumwJ2j5a1dQzYpyEs\n"
			      "ZW/XR9PidZ7/qzKRZNTLMx3Gp+fsDphV+41md6aWAK6wwyujPKdcGcLB4TvFKPhj\n"
			      "YOisSBIsOwZLhTOhUinDFVFlcBnH4haU3wszmsWZ5mBOfi6DCNAV9cvwRwVOL7Wn\n"
			      "jU3bnSkCgYEA7f/+TCCBk4YmY2fAy13bbrlu9VnAc7gDZ3qGwefR9XBGPSxGouB7\n"
			      "t/HG2Uu9NZQEipwWtzdCMo7DFTR0BitVKPcmwwwatkMkuGE4j6O7prt20KjvUrkP\n"
			      "+ODK6LG/X6d1bRIR+bABhINN+vCEoUy996F5AV6DPT2jRqfpWSypajsCgYEAuOtQ\n"
			      "J92dpnfz8QQwszcuxZNfslk2WuE7v1X1pCJin68CLcFgoIkpVCyBAA5yi2zy/p6R\n"
			      "Xn/QpDH0N91qOtsMrTJ1zINCWdSkhqLA7g30Y2PS2OAinQQHn+N5BcLRO68Arv0p\n"
			      "BkM1QDlx8TghNEUF2569QbZI9pOkxzrQMO31RTkCgYAQ/fDi8IMvzCkbecHbAyVy\n"
			      "f0y7uZ+y41Vi4u2SFIH5+v0Yyvt0D4Dlvh5LT0v/8kRsvP4mMIzKXUTyU59g/WEE\n"
			      "Hrkmvct+bcbGXzKRlsgD/GhcN2N2zX2lcC8sc9xM8QDCO8MKx5UkJ9e+bcOaXIdH\n"
			      "kcC4502JZsgseDqBwl2KFwKBgGscWlSNKMkJCDLd83uLhjsJT1AWHsbrWdlNaDiH\n"
			      "dkr6ay+nqFm0uUy5boti0vRxyhq0LI3pSSgii0xkoyiuQxx7cwJgMWmpIxedZFU/\n"
			      "ngSICNR4l3QNpoD1mN8+ZkXE64dwuneXLFwkKhzIH2uQY4E/5G4QsRiqkrKYHYmJ\n"
			      "/Bz5AoGBAOlY9R6JIViFlLK/aVEq5ecf8WCvuJ+lSi0tv0z02Qgz17P+tYsrjC2H\n"
			      "4qf2fPs0K7wDVfo4RORew5eVcfCbiZskKP8EaZCBIjJ2avG6kPqp9/X0HnpKLU79\n"
			      "mJ6GqCepNWfjSG46PfXdOa5k1g9lfN13HuHxf1bNUxplWe+qlCRr\n"
			      "-----END RSA PRIVATE KEY-----\n";
static const char ed25519_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MC4CAQAwBQYDK2VwBCIEID4tGVQXLq7RtT1503E1mazzWTFCXg4iOtEyBbezrXed\n"
	"-----END PRIVATE KEY-----\n";
static const char ec_public_pem[] =
	"-----BEGIN PUBLIC KEY-----\n"
	"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEWBIN6914zLEjjPPwWOLwxuoRe6jy\n"
	"Es9kjKlqtG57QNRSn2BrQNDZGE0cjx+q9XIp2wOhDsmIxV7eV3UISODLsw==\n"
	"-----END PUBLIC KEY-----\n";

#define EC_THUMBPRINT	   "yL4UiU0tQ2rcUAxQEb_aIjb7UYNSKQ0zQQsQyQI04Dw"
#define RSA_THUMBPRINT	   "AqC0wzHEfpo6nbV31k2LEQuz-O6P_FhwfJ1GnvgQVKM"
#define ED25519_THUMBPRINT "kLn4yrEHAc3Z-iG7UYvlE5cqlicAwIdfg02QnugY5ro"

static void
test_base64url_table(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} rows[] = {
		/* RFC 4648 section 10, unpadded, and the two characters base64url swaps */
		{ "", 0, "" },
		{ "f", 1, "Zg" },
		{ "fo", 2, "Zm8" },
		{ "foo", 3, "Zm9v" },
		{ "foob", 4, "Zm9vYg" },
		{ "fooba", 5, "Zm9vYmE" },
		{ "foobar", 6, "Zm9vYmFy" },
		{ "\xfb\xff", 2, "-_8" },
		{ "\x00\x00\x00", 3, "AAAA" },
		{ "\xff\xff\xff\xfe", 4, "_____g" },
	};
	char out[64];
	size_t i, n;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		n = signkey_base64url((const unsigned char *)rows[i].in, rows[i].len, out);
		failures += mismatch_str(rows[i].want, "base64url", out, rows[i].want);
		failures += mismatch_int(rows[i].want, "length", (long long)n,
					 (long long)strlen(rows[i].want));
	}
	assert_int_equal(failures, 0);
}

/* RFC 7638 section 3.1: the example RSA key's canonical members and thumbprint. */
static void
test_thumbprint_rfc7638_example(void **state)
{
	static const char canonical[] =
		"{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2"
		"aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
		"tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicA"
		"taSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6W"
		"eZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw\"}";
	char out[SIGNKEY_THUMBPRINT_LEN + 1];

	(void)state;
	signkey_thumbprint_of(canonical, out);
	assert_string_equal(out, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

struct key_row {
	const char *name;
	const char *pem;
	const char *describe;
	const char *thumbprint;
	const char *default_alg;
};

static const struct key_row key_rows[] = {
	{ "EC P-256, traditional", ec_pem, "EC P-256", EC_THUMBPRINT, "ES256" },
	{ "RSA 2048, traditional", rsa_pem, "RSA 2048", RSA_THUMBPRINT, "RS256" },
	{ "Ed25519, PKCS#8", ed25519_pem, "Ed25519", ED25519_THUMBPRINT, "EdDSA" },
};

static void
test_keys_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(key_rows) / sizeof(key_rows[0]); i++) {
		const struct key_row *r = &key_rows[i];
		struct signkey k;
		struct error err = { 0 };
		enum sign_alg alg = SIGN_NONE;
		char thumbprint[SIGNKEY_THUMBPRINT_LEN + 1] = "";
		char *jwk;

		if (mismatch_int(r->name, "load",
				 signkey_load_pem(r->pem, strlen(r->pem), "test", &k, &err), 0)) {
			failures++;
			continue;
		}
		failures += mismatch_str(r->name, "describe", k.describe, r->describe);
		failures += mismatch_int(r->name, "thumbprint rc",
					 signkey_thumbprint(&k, thumbprint), 0);
		failures += mismatch_str(r->name, "thumbprint", thumbprint, r->thumbprint);
		failures += mismatch_int(r->name, "pick",
					 signkey_pick_alg(&k, NULL, "p", &alg, &err), 0);
		failures +=
			mismatch_str(r->name, "default alg", signkey_alg_name(alg), r->default_alg);
		jwk = signkey_public_jwk(&k, alg, thumbprint);
		failures += mismatch_lacks(r->name, "public JWK", jwk, "\"d\"");
		failures += mismatch_contains(r->name, "public JWK", jwk, "\"use\":\"sig\"}");
		failures += mismatch_contains(r->name, "public JWK", jwk, r->default_alg);
		free(jwk);
		signkey_free(&k);
	}
	assert_int_equal(failures, 0);
}

/* Which algorithm each key takes; a mismatch names both. */
static void
test_pick_alg_table(void **state)
{
	static const struct {
		const char *pem;
		const char *configured;
		const char *want; /* the alg, or the message */
	} rows[] = {
		{ rsa_pem, "RS256", "RS256" },
		{ rsa_pem, "PS256", "PS256" },
		{ rsa_pem, "ES256",
		  "signing_alg ES256 of profile p does not fit its private key (RSA 2048) — set "
		  "signing_alg = RS256 or PS256, or remove the line" },
		{ rsa_pem, "EdDSA", "does not fit its private key (RSA 2048)" },
		{ rsa_pem, "HS256", "does not fit its private key (RSA 2048)" },
		{ ec_pem, "ES256", "ES256" },
		{ ec_pem, "RS256",
		  "signing_alg RS256 of profile p does not fit its private key (EC P-256) — set "
		  "signing_alg = ES256, or remove the line" },
		{ ec_pem, "PS256", "(EC P-256) — set signing_alg = ES256" },
		{ ed25519_pem, "EdDSA", "EdDSA" },
		{ ed25519_pem, "ES256", "(Ed25519) — set signing_alg = EdDSA" },
	};
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct signkey k;
		struct error err = { 0 };
		enum sign_alg alg = SIGN_NONE;
		int rc;

		assert_int_equal(signkey_load_pem(rows[i].pem, strlen(rows[i].pem), "t", &k, &err),
				 0);
		rc = signkey_pick_alg(&k, rows[i].configured, "p", &alg, &err);
		if (rc == 0) {
			failures += mismatch_str(rows[i].configured, "alg", signkey_alg_name(alg),
						 rows[i].want);
		} else {
			failures +=
				mismatch_int(rows[i].configured, "code", err.code, KB_EXIT_CONFIG);
			failures += mismatch_contains(rows[i].configured, "message", err.message,
						      rows[i].want);
		}
		signkey_free(&k);
	}
	assert_int_equal(failures, 0);
}

/* What is not a usable private key is refused, saying why. */
static void
test_not_a_key_table(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		const char *message;
	} rows[] = {
		{ "empty", "",
		  "the private key from test is not usable: it is not PEM — give an "
		  "unencrypted PEM private key (PKCS#8, or traditional RSA or EC), or "
		  "make one with keybearer keygen" },
		{ "a secret", "s3cr3t\n", "it is not PEM" },
		{ "a public key", ec_public_pem,
		  "it holds a public key or a certificate, not the private key" },
		{ "encrypted",
		  "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE "
		  "KEY-----\n",
		  "it is encrypted, and keybearer asks for no passphrase" },
		{ "traditional encrypted",
		  "-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: "
		  "AES-128-CBC,00\n"
		  "\nAAAA\n-----END EC PRIVATE KEY-----\n",
		  "it is encrypted" },
		{ "a broken body", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
		  "it holds no PEM private key OpenSSL can read" },
		{ "a cut key",
		  "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIEFfHh40TAg+WT1uym4tUVZtkcvsw1BW\n",
		  "it holds no PEM private key OpenSSL can read" },
		/* the private scalar of one P-256 key with the public point of another: it
		 * parses, and would sign what its own kid does not verify */
		{ "a damaged key",
		  "-----BEGIN EC PRIVATE KEY-----\n"
		  "MHcCAQEEIOkT6cdFN/ZHV+RKvqVXovpZZqpZNXoJFpRC886dP8sVoAoGCCqGSM49\n"
		  "AwEHoUQDQgAETa5lj98AvGjPI/RbFW3PkgP4+WSr9MwfnEkyETosrIbRhFFgBTs/\n"
		  "MyH8Tp3VN5/THszpoAqnX1G5Ew0w7KZELA==\n"
		  "-----END EC PRIVATE KEY-----\n",
		  "the private key from test is not usable: it is damaged: its public and "
		  "private parts do not match — give an unencrypted PEM private key" },
	};
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct signkey k;
		struct error err = { 0 };

		failures += mismatch_int(
			rows[i].name, "rc",
			signkey_load_pem(rows[i].text, strlen(rows[i].text), "test", &k, &err), -1);
		failures += mismatch_int(rows[i].name, "code", err.code, KB_EXIT_CONFIG);
		failures +=
			mismatch_contains(rows[i].name, "message", err.message, rows[i].message);
		failures += mismatch_int(rows[i].name, "no key kept", k.pkey == NULL, 1);
	}
	assert_int_equal(failures, 0);
}

/* Writes text to a new file of the test's scratch directory; its path in path. */
static void
write_temp(const char *text, char *path, size_t size)
{
	FILE *f;
	int fd;

	snprintf(path, size, "%s/keybearer-signkey-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Verifies jwt with authlib, against the public half of the private key pem (or, for
 * HS256, against the secret), and prints its header and claims as authlib decoded them;
 * 0 when authlib accepts the signature. */
static int
authlib_verifies(const char *jwt, const char *pem, const char *secret, char *decoded, size_t size)
{
	static const char script[] =
		"import json, sys\n"
		"from authlib.jose import JsonWebKey, JsonWebSignature\n"
		"token, key_file, secret = open(sys.argv[1]).read(), sys.argv[2], sys.argv[3]\n"
		"key = secret.encode() if key_file == '-' else "
		"JsonWebKey.import_key(JsonWebKey.import_key(open(key_file, 'rb').read())"
		".as_dict(is_private=False))\n"
		"jws = JsonWebSignature(['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256'])\n"
		"data = jws.deserialize_compact(token, key)\n"
		"print(json.dumps(data['header'], sort_keys=True), data['payload'].decode())\n";
	char jwt_path[256], key_path[256] = "-", command[1024];
	FILE *p;
	size_t n;
	int status;

	write_temp(jwt, jwt_path, sizeof(jwt_path));
	if (pem != NULL)
		write_temp(pem, key_path, sizeof(key_path));
	snprintf(command, sizeof(command), "%s -c \"$KB_SCRIPT\" %s %s '%s' 2>&1", PYTHON, jwt_path,
		 key_path, secret != NULL ? secret : "");
	setenv("KB_SCRIPT", script, 1);
	p = popen(command, "r");
	assert_non_null(p);
	n = fread(decoded, 1, size - 1, p);
	decoded[n] = '\0';
	status = pclose(p);
	unlink(jwt_path);
	if (pem != NULL)
		unlink(key_path);
	return status == 0 ? 0 : -1;
}

struct assertion_row {
	const char *name;
	const char *pem;      /* NULL for HS256 */
	const char *hmac_key; /* HS256 */
	enum sign_alg alg;
	const char *kid;
	size_t signature_bytes; /* 0: any */
	const char *header;	/* as authlib decoded it, keys sorted */
};

static const struct assertion_row assertion_rows[] = {
	{ "ES256", ec_pem, NULL, SIGN_ES256, EC_THUMBPRINT, 64,
	  "{\"alg\": \"ES256\", \"kid\": \"" EC_THUMBPRINT "\", \"typ\": \"JWT\"}" },
	{ "RS256", rsa_pem, NULL, SIGN_RS256, "rsa-1", 256,
	  "{\"alg\": \"RS256\", \"kid\": \"rsa-1\", \"typ\": \"JWT\"}" },
	{ "PS256", rsa_pem, NULL, SIGN_PS256, "k\"quoted\\", 256,
	  "{\"alg\": \"PS256\", \"kid\": \"k\\\"quoted\\\\\", \"typ\": \"JWT\"}" },
	{ "EdDSA", ed25519_pem, NULL, SIGN_EDDSA, ED25519_THUMBPRINT, 64,
	  "{\"alg\": \"EdDSA\", \"kid\": \"" ED25519_THUMBPRINT "\", \"typ\": \"JWT\"}" },
	{ "HS256", NULL, "the-client-secret", SIGN_HS256, NULL, 32,
	  "{\"alg\": \"HS256\", \"typ\": \"JWT\"}" },
};

static void
test_assertion_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(assertion_rows) / sizeof(assertion_rows[0]); i++) {
		const struct assertion_row *r = &assertion_rows[i];
		struct assertion_params in = {
			.client_id = "client/\"1\"",
			.audience = "https://login.example/oauth2/token",
			.issued_at = 1700000000,
			.alg = r->alg,
			.kid = r->kid,
			.hmac_key = r->hmac_key,
		};
		struct json_object *header = NULL, *claims = NULL;
		struct signkey k = { 0 };
		struct assertion a;
		struct error err = { 0 };
		unsigned char sig[SIGNKEY_SIGNATURE_MAX];
		char decoded[4096], *dot;
		long sig_len;

		memset(in.jti, 0xa5, sizeof(in.jti));
		if (r->pem != NULL) {
			assert_int_equal(signkey_load_pem(r->pem, strlen(r->pem), "t", &k, &err),
					 0);
			in.key = &k;
		}
		if (mismatch_int(r->name, "encode", assertion_encode(&in, &a, &err), 0)) {
			failures++;
			signkey_free(&k);
			continue;
		}
		failures += mismatch_str(r->name, "alg", a.alg, r->name);
		assert_int_equal(jwt_decode(a.jwt, &header, &claims), 0);
		failures += mismatch_str(
			r->name, "claims",
			json_object_to_json_string_ext(claims, JSON_C_TO_STRING_PLAIN),
			"{\"iss\":\"client\\/\\\"1\\\"\",\"sub\":\"client\\/\\\"1\\\"\","
			"\"aud\":\"https:\\/\\/login.example\\/oauth2\\/token\","
			"\"jti\":\"paWlpaWlpaWlpaWlpaWlpQ\",\"iat\":1700000000,"
			"\"nbf\":1700000000,\"exp\":1700000300}");
		/* JOSE's raw r || s for ES256: 64 bytes, never DER's 70 or so */
		dot = strrchr(a.jwt, '.');
		sig_len = jwt_base64url_decode(dot + 1, strlen(dot + 1), sig);
		failures += mismatch_int(r->name, "signature bytes", sig_len,
					 (long long)r->signature_bytes);
		failures += mismatch_int(
			r->name, "authlib verifies",
			authlib_verifies(a.jwt, r->pem, r->hmac_key, decoded, sizeof(decoded)), 0);
		failures +=
			mismatch_contains(r->name, "header as authlib read it", decoded, r->header);
		failures += mismatch_contains(r->name, "claims as authlib read it", decoded,
					      "\"aud\":\"https://login.example/oauth2/token\"");
		json_object_put(header);
		json_object_put(claims);
		assertion_free(&a);
		signkey_free(&k);
	}
	assert_int_equal(failures, 0);
}

/* A signature authlib must refuse, so the check above can fail: the ES256 assertion with
 * its last signature byte changed, and the HS256 one checked with another secret. */
static void
test_authlib_refuses_a_wrong_signature(void **state)
{
	struct assertion_params in = { .client_id = "c",
				       .audience = "https://a/t",
				       .issued_at = 1700000000,
				       .alg = SIGN_ES256 };
	struct signkey k;
	struct assertion a;
	struct error err = { 0 };
	char decoded[4096];
	size_t len;

	(void)state;
	assert_int_equal(signkey_load_pem(ec_pem, strlen(ec_pem), "t", &k, &err), 0);
	in.key = &k;
	assert_int_equal(assertion_encode(&in, &a, &err), 0);
	len = strlen(a.jwt);
	a.jwt[len - 2] = a.jwt[len - 2] == 'A' ? 'B' : 'A';
	assert_int_equal(authlib_verifies(a.jwt, ec_pem, NULL, decoded, sizeof(decoded)), -1);
	assertion_free(&a);
	in.alg = SIGN_HS256;
	in.hmac_key = "right";
	in.key = NULL;
	assert_int_equal(assertion_encode(&in, &a, &err), 0);
	assert_int_equal(authlib_verifies(a.jwt, NULL, "wrong", decoded, sizeof(decoded)), -1);
	assert_int_equal(authlib_verifies(a.jwt, NULL, "right", decoded, sizeof(decoded)), 0);
	assertion_free(&a);
	signkey_free(&k);
}

/* A made key: the type asked for, its private PEM read back as the same key, its public
 * PEM a public key. */
static void
test_generate_table(void **state)
{
	static const struct {
		const char *type;
		const char *describe;
	} rows[] = { { "ec", "EC P-256" }, { "rsa", "RSA 3072" } };
	size_t i, len;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct signkey k, back;
		struct error err = { 0 };
		char made[SIGNKEY_THUMBPRINT_LEN + 1], read[SIGNKEY_THUMBPRINT_LEN + 1], *pem, *pub;

		assert_int_equal(signkey_generate(rows[i].type, &k, &err), 0);
		failures += mismatch_str(rows[i].type, "describe", k.describe, rows[i].describe);
		assert_int_equal(signkey_private_pem(&k, &pem, &len, &err), 0);
		failures += mismatch_contains(rows[i].type, "PEM", pem,
					      "-----BEGIN PRIVATE KEY-----\n");
		assert_int_equal(signkey_load_pem(pem, len, "t", &back, &err), 0);
		signkey_thumbprint(&k, made);
		signkey_thumbprint(&back, read);
		failures += mismatch_str(rows[i].type, "thumbprint read back", read, made);
		pub = signkey_public_pem(&k);
		failures += mismatch_contains(rows[i].type, "public PEM", pub,
					      "-----BEGIN PUBLIC KEY-----\n");
		free(pub);
		explicit_bzero(pem, len);
		free(pem);
		signkey_free(&back);
		signkey_free(&k);
	}
	assert_int_equal(signkey_generate("dsa", &(struct signkey){ 0 }, &(struct error){ 0 }), -1);
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64url_table),
		cmocka_unit_test(test_thumbprint_rfc7638_example),
		cmocka_unit_test(test_keys_table),
		cmocka_unit_test(test_pick_alg_table),
		cmocka_unit_test(test_not_a_key_table),
		cmocka_unit_test(test_assertion_table),
		cmocka_unit_test(test_authlib_refuses_a_wrong_signature),
		cmocka_unit_test(test_generate_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

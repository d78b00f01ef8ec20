/* jwt.c reads a token's claims to learn when it expires. A wrong answer here hands out dead
 * tokens or refreshes needlessly, so the clock arithmetic is pinned to exact seconds. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "jwt.h"
#include "rows.h"

#define NOW 1700000000LL

#define HEADER_JSON "{\"alg\":\"RS256\",\"typ\":\"JWT\"}"

struct decode_case {
	const char *in;
	long len; /* -1: rejected */
	const char *out;
};

static const struct decode_case decode_cases[] = {
	{ "", 0, "" },
	{ "QQ", 1, "A" },
	{ "QQ==", 1, "A" },
	{ "QUI", 2, "AB" },
	{ "QUI=", 2, "AB" },
	{ "QUJD", 3, "ABC" },
	{ "QUJDRA", 4, "ABCD" },
	{ "eyJhIjoxfQ", 7, "{\"a\":1}" },
	{ "-_8", 2, "\xfb\xff" },
	{ "AAAA", 3, "\0\0\0" },
	/* The standard alphabet's + and / are not base64url. */
	{ "+/8", -1, NULL },
	{ "QUJ\n", -1, NULL },
	{ "QU J", -1, NULL },
	{ "QQ=A", -1, NULL },
	{ "QUJ.", -1, NULL },
	/* One leftover character carries 6 bits, not a byte: never valid. */
	{ "Q", -1, NULL },
	{ "QUJDR", -1, NULL },
	{ "Q===", -1, NULL },
};

static void
test_jwt_base64url_decode_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		unsigned char out[64];
		long n;

		memset(out, 0x5a, sizeof(out));
		n = jwt_base64url_decode(c->in, strlen(c->in), out);
		failures += mismatch_int(c->in, "length", n, c->len);
		if (n < 0 || c->len < 0 || n != c->len)
			continue;
		if (memcmp(out, c->out, (size_t)n) != 0) {
			print_error("%s: decoded bytes differ\n", c->in);
			failures++;
		}
		failures += mismatch_int(c->in, "terminating NUL", out[n], 0);
	}
	assert_int_equal(failures, 0);
}

/* Only len bytes are read: the rest of the string may be the next JWT part. */
static void
test_jwt_base64url_decode_honours_len(void **state)
{
	unsigned char out[16];

	(void)state;
	assert_int_equal(jwt_base64url_decode("QUI.garbage", 3, out), 2);
	assert_string_equal((char *)out, "AB");
}

static void
test_jwt_decode_valid(void **state)
{
	struct json_object *header, *claims, *member;
	char token[1024];

	(void)state;
	make_jwt(HEADER_JSON, "{\"sub\":\"client-1\",\"exp\":1700003600}", token, sizeof(token));
	assert_int_equal(jwt_decode(token, &header, &claims), 0);
	assert_non_null(header);
	assert_non_null(claims);
	assert_true(json_object_object_get_ex(header, "alg", &member));
	assert_string_equal(json_object_get_string(member), "RS256");
	assert_true(json_object_object_get_ex(claims, "sub", &member));
	assert_string_equal(json_object_get_string(member), "client-1");
	assert_true(json_object_object_get_ex(claims, "exp", &member));
	assert_int_equal(json_object_get_int64(member), 1700003600);
	json_object_put(header);
	json_object_put(claims);
}

struct bad_jwt_case {
	const char *name;
	const char *header_json, *claims_json; /* JSON to encode; NULL: use literal */
	const char *literal;
};

static const struct bad_jwt_case bad_jwt_cases[] = {
	{ "two parts", NULL, NULL, "eyJhbGciOiJub25lIn0.eyJleHAiOjF9" },
	{ "four parts", NULL, NULL, "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.c2ln.c2ln" },
	{ "one part", NULL, NULL, "eyJleHAiOjF9" },
	{ "empty", NULL, NULL, "" },
	{ "empty claims", NULL, NULL, "eyJhbGciOiJub25lIn0..c2ln" },
	{ "empty header", NULL, NULL, ".eyJleHAiOjF9.c2ln" },
	{ "claims not base64url", NULL, NULL, "eyJhbGciOiJub25lIn0.eyJleHAiOjF9*.c2ln" },
	{ "opaque token", NULL, NULL, "2YotnFZFEjr1zCsicMWpAA" },
	{ "claims not JSON", HEADER_JSON, "hello", NULL },
	{ "claims JSON array", HEADER_JSON, "[{\"exp\":1700003600}]", NULL },
	{ "claims JSON string", HEADER_JSON, "\"exp\"", NULL },
	{ "claims trailing garbage", HEADER_JSON, "{\"exp\":1700003600} x", NULL },
	{ "claims truncated", HEADER_JSON, "{\"exp\":1700003600", NULL },
	{ "header JSON array", "[\"RS256\"]", "{\"exp\":1700003600}", NULL },
	{ "header not JSON", "RS256", "{\"exp\":1700003600}", NULL },
};

static void
test_jwt_decode_rejects_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_jwt_cases) / sizeof(bad_jwt_cases[0]); i++) {
		const struct bad_jwt_case *c = &bad_jwt_cases[i];
		static char sentinel;
		struct json_object *header = (struct json_object *)&sentinel, *claims = header;
		char token[1024];
		int rc;

		if (c->literal != NULL)
			snprintf(token, sizeof(token), "%s", c->literal);
		else
			make_jwt(c->header_json, c->claims_json, token, sizeof(token));
		rc = jwt_decode(token, &header, &claims);
		failures += mismatch_int(c->name, "rc", rc, -1);
		/* The caller frees whatever it gets: a failure must leave nothing to free. */
		failures += mismatch_int(c->name, "header is NULL", header == NULL, 1);
		failures += mismatch_int(c->name, "claims is NULL", claims == NULL, 1);
		if (rc == 0) {
			json_object_put(header);
			json_object_put(claims);
		}
	}
	assert_int_equal(failures, 0);
}

struct expiry_case {
	const char *name;
	const char *claims_json; /* NULL: token is the literal below */
	const char *literal;
	long long server_now; /* the Date header; 0 when absent */
	int rc;
	long long expires_at;
};

static const struct expiry_case expiry_cases[] = {
	/* The issuer's clock agrees with ours: exp as is. */
	{ "exp and iat", "{\"iat\":1700000000,\"exp\":1700003600}", NULL, 0, 0, NOW + 3600 },
	/* Without a Date header: exp against our clock, and never more than exp - iat. */
	{ "iat in the past", "{\"iat\":1699999900,\"exp\":1700003500}", NULL, 0, 0, NOW + 3500 },
	/* The issuer's clock runs 3 h ahead: an hour of life is still an hour here. */
	{ "iat skewed 3 h ahead", "{\"iat\":1700010800,\"exp\":1700014400}", NULL, 0, 0,
	  NOW + 3600 },
	/* 3 h behind: by our clock it expired 2 h ago, and it is not handed out as alive. */
	{ "iat skewed 3 h behind", "{\"iat\":1699989200,\"exp\":1699992800}", NULL, 0, 0,
	  NOW - 7200 },
	{ "exp only", "{\"exp\":1700000500}", NULL, 0, 0, 1700000500 },
	{ "exp fractional", "{\"exp\":1700003600.75}", NULL, 0, 0, 1700003600 },
	{ "exp and iat fractional", "{\"iat\":1700000000.5,\"exp\":1700003600.25}", NULL, 0, 0,
	  NOW + 3600 },
	{ "iat equal to exp", "{\"iat\":1700000500,\"exp\":1700000500}", NULL, 0, 0, NOW },
	/* Issued after it expired: no lifetime to shift, exp as is. */
	{ "iat after exp", "{\"iat\":1700000010,\"exp\":1700000000}", NULL, 0, 0, 1700000000 },
	{ "iat unusable", "{\"iat\":\"1700000000\",\"exp\":1700000500}", NULL, 0, 0, 1700000500 },
	{ "no exp", "{\"iat\":1700000000,\"sub\":\"x\"}", NULL, 0, -1, 0 },
	{ "exp string", "{\"exp\":\"1700003600\"}", NULL, 0, -1, 0 },
	{ "exp negative", "{\"exp\":-1}", NULL, 0, -1, 0 },
	{ "exp null", "{\"exp\":null}", NULL, 0, -1, 0 },
	{ "exp beyond 1e12", "{\"exp\":1000000000001}", NULL, 0, -1, 0 },
	{ "exp 1e300", "{\"exp\":1e300}", NULL, 0, -1, 0 },
	{ "not a JWT", NULL, "2YotnFZFEjr1zCsicMWpAA", 0, -1, 0 },
	/* With the issuer's clock at reply time (Date), exp - Date is exactly what is left:
	 * a token issued 3000 s before the reply has 600 s, not its full 3600 s. */
	{ "Date and an old iat", "{\"iat\":1699997000,\"exp\":1700000600}", NULL, NOW, 0,
	  NOW + 600 },
	{ "Date 3 h ahead", "{\"iat\":1700010800,\"exp\":1700014400}", NULL, NOW + 10800, 0,
	  NOW + 3600 },
	{ "Date, exp already past", "{\"exp\":1699999000}", NULL, NOW, 0, NOW - 1000 },
	/* A Date header a day behind cannot make a 20 s token live a day. */
	{ "Date a day behind", "{\"iat\":1700000000,\"exp\":1700000020}", NULL, NOW - 86400, 0,
	  NOW + 20 },
	{ "Date a day behind, no iat", "{\"exp\":1700000020}", NULL, NOW - 86400, 0, NOW + 20 },
	{ "Date and iat a day behind", "{\"iat\":1699913600,\"exp\":1700000020}", NULL, NOW - 86400,
	  0, NOW + 20 },
	/* our clock an hour behind the issuer's: its 20 s are 20 s here, not 3620 */
	{ "local clock behind", "{\"iat\":1700003600,\"exp\":1700003620}", NULL, NOW + 3600, 0,
	  NOW + 20 },
	{ "local clock behind, no Date", "{\"iat\":1700003600,\"exp\":1700003620}", NULL, 0, 0,
	  NOW + 20 },
};

struct claimed_case {
	const char *name, *claims_json;
	int rc;
	long long lifetime;
};

static const struct claimed_case claimed_cases[] = {
	{ "both", "{\"iat\":1700000000,\"exp\":1700000020}", 0, 20 },
	{ "no iat", "{\"exp\":1700000020}", -1, 0 },
	{ "no exp", "{\"iat\":1700000020}", -1, 0 },
	{ "iat after exp", "{\"iat\":1700000030,\"exp\":1700000020}", -1, 0 },
};

static void
test_jwt_claimed_lifetime_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(claimed_cases) / sizeof(claimed_cases[0]); i++) {
		const struct claimed_case *c = &claimed_cases[i];
		long long lifetime = 0;
		char token[1024];
		make_jwt(HEADER_JSON, c->claims_json, token, sizeof(token));
		failures +=
			mismatch_int(c->name, "rc", jwt_claimed_lifetime(token, &lifetime), c->rc);
		failures += mismatch_int(c->name, "lifetime", lifetime, c->lifetime);
	}
	assert_int_equal(jwt_claimed_lifetime("2YotnFZFEjr1zCsicMWpAA", &(long long){ 0 }), -1);
	assert_int_equal(failures, 0);
}

static void
test_jwt_local_expiry_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(expiry_cases) / sizeof(expiry_cases[0]); i++) {
		const struct expiry_case *c = &expiry_cases[i];
		long long expires_at = -12345;
		char token[1024];
		int rc;

		if (c->literal != NULL)
			snprintf(token, sizeof(token), "%s", c->literal);
		else
			make_jwt(HEADER_JSON, c->claims_json, token, sizeof(token));
		rc = jwt_local_expiry(token, (time_t)NOW, c->server_now, &expires_at);
		failures += mismatch_int(c->name, "rc", rc, c->rc);
		failures += mismatch_int(c->name, "expires_at", expires_at,
					 c->rc == 0 ? c->expires_at : -12345);
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jwt_base64url_decode_table),
		cmocka_unit_test(test_jwt_base64url_decode_honours_len),
		cmocka_unit_test(test_jwt_decode_valid),
		cmocka_unit_test(test_jwt_decode_rejects_table),
		cmocka_unit_test(test_jwt_local_expiry_table),
		cmocka_unit_test(test_jwt_claimed_lifetime_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

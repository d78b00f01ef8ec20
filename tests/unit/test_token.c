/* token.c is the whole OAuth 2.0 conversation minus the socket: the request we send and the
 * judgement of each reply. Every reply class maps to an exit code scripts rely on, and no
 * message may carry the client secret, so both are checked for every row. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "token.h"
#include "rows.h"

#define RECEIVED_AT 1700000000LL
#define CLIENT_ID   "my-client"
#define SECRET	    "s3c+r/e=t&x% y"
#define SECRET_FORM "s3c%2Br%2Fe%3Dt%26x%25+y"
#define JWT_MARK    "@JWT@"

/* text with the first JWT_MARK replaced by value. */
static void
substitute_mark(const char *text, const char *value, char *out, size_t size)
{
	const char *mark = strstr(text, JWT_MARK);

	if (mark == NULL) {
		assert_true((size_t)snprintf(out, size, "%s", text) < size);
		return;
	}
	assert_true((size_t)snprintf(out, size, "%.*s%s%s", (int)(mark - text), text, value,
				     mark + strlen(JWT_MARK)) < size);
}

struct form_case {
	const char *value, *encoded;
};

static const struct form_case form_cases[] = {
	{ SECRET, SECRET_FORM },
	{ "ABCXYZabcxyz0189-._~", "ABCXYZabcxyz0189-._~" },
	{ "", "" },
	{ "a b  c", "a+b++c" },
	{ "caf\xc3\xa9", "caf%C3%A9" },
	{ "\xff\x80", "%FF%80" },
	{ "\x01\x7f\t\n", "%01%7F%09%0A" },
	{ "*'()!:/?#[]@$,;", "%2A%27%28%29%21%3A%2F%3F%23%5B%5D%40%24%2C%3B" },
	{ "\"<>\\^`{|}", "%22%3C%3E%5C%5E%60%7B%7C%7D" },
};

static void
test_token_form_encode_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(form_cases) / sizeof(form_cases[0]); i++) {
		char *encoded = token_form_encode(form_cases[i].value);

		failures += mismatch_str(form_cases[i].value, "encoded", encoded,
					 form_cases[i].encoded);
		free(encoded);
	}
	assert_int_equal(failures, 0);
}

struct request_case {
	const char *name;
	enum auth_method method;
	const char *client_id, *scope, *audience, *resource, *secret;
	const char *body, *authorization;
};

static const struct request_case request_cases[] = {
	{ "post minimal", AUTH_CLIENT_SECRET_POST, "my-client", NULL, NULL, NULL, "pw",
	  "grant_type=client_credentials&client_id=my-client&client_secret=pw", NULL },
	/* scope, audience, resource, then the credentials: the order the code builds. */
	{ "post full", AUTH_CLIENT_SECRET_POST, "my client", "read write",
	  "https://api.example.com/", "urn:example:api", SECRET,
	  "grant_type=client_credentials&scope=read+write&audience=https%3A%2F%2Fapi.example.com%2F"
	  "&resource=urn%3Aexample%3Aapi&client_id=my+client&client_secret=" SECRET_FORM,
	  NULL },
	{ "post audience only", AUTH_CLIENT_SECRET_POST, "c", NULL, "aud", NULL, "s",
	  "grant_type=client_credentials&audience=aud&client_id=c&client_secret=s", NULL },
	/* RFC 6749 2.3.1: id and secret are form-encoded before they are joined and base64ed. */
	{ "basic encoded", AUTH_CLIENT_SECRET_BASIC, "my-client", NULL, NULL, NULL, SECRET,
	  "grant_type=client_credentials",
	  "Authorization: Basic bXktY2xpZW50OnMzYyUyQnIlMkZlJTNEdCUyNnglMjUreQ==" },
	{ "basic colon in id", AUTH_CLIENT_SECRET_BASIC, "id:1", "read", NULL, NULL, "p w",
	  "grant_type=client_credentials&scope=read", "Authorization: Basic aWQlM0ExOnArdw==" },
	/* One of each base64 padding length. */
	{ "basic pad 1", AUTH_CLIENT_SECRET_BASIC, "abc", NULL, NULL, NULL, "d",
	  "grant_type=client_credentials", "Authorization: Basic YWJjOmQ=" },
	{ "basic pad 0", AUTH_CLIENT_SECRET_BASIC, "abcd", NULL, NULL, NULL, "e",
	  "grant_type=client_credentials", "Authorization: Basic YWJjZDpl" },
	{ "basic pad 2", AUTH_CLIENT_SECRET_BASIC, "ab", NULL, NULL, NULL, "c",
	  "grant_type=client_credentials", "Authorization: Basic YWI6Yw==" },
};

static void
test_token_request_build_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(request_cases) / sizeof(request_cases[0]); i++) {
		const struct request_case *c = &request_cases[i];
		struct profile p = { 0 };
		struct token_request req;
		struct error err = { 0 };

		p.name = "test";
		p.token_url = "https://login.example.com/token";
		p.auth_method = c->method;
		p.client_id = (char *)c->client_id;
		p.scope = (char *)c->scope;
		p.audience = (char *)c->audience;
		p.resource = (char *)c->resource;
		failures += mismatch_int(
			c->name, "rc",
			token_request_build(&p, &(struct token_credentials){ .secret = c->secret },
					    &req, &err),
			0);
		failures += mismatch_str(c->name, "body", req.body, c->body);
		failures +=
			mismatch_str(c->name, "authorization", req.authorization, c->authorization);
		token_request_free(&req);
		failures += mismatch_int(c->name, "freed body is NULL", req.body == NULL, 1);
		failures += mismatch_int(c->name, "freed authorization is NULL",
					 req.authorization == NULL, 1);
	}
	assert_int_equal(failures, 0);
}

/* key-based client authentication: the assertion goes in the form with client_id and its
 * type, the secret and the key never; a reply that echoes any of them is blanked, and a
 * refusal names the method, alg and kid sent. */
struct assertion_case {
	const char *name;
	enum auth_method method;
	const char *credential;
	const char *body;
	const char *echo;    /* what the refusal's error_description quotes */
	const char *message; /* the refusal */
};

#define ASSERTION_SIGNATURE "c2lnbmF0dXJlLW9mLXRoZS1hc3NlcnRpb24tZm9yLXRlc3Rz"
#define ASSERTION	    "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJjIn0." ASSERTION_SIGNATURE
#define KEY_PEM                                                                                    \
	"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIEFfHh40TAg+WT1uym4tUVZtkcvsw1BW\n"               \
	"-----END EC PRIVATE KEY-----\n"

static const struct assertion_case assertion_cases[] = {
	{ "private_key_jwt", AUTH_PRIVATE_KEY_JWT, KEY_PEM,
	  "grant_type=client_credentials&scope=read&client_id=c&client_assertion_type=urn%3Aietf%3A"
	  "params%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" ASSERTION,
	  "bad assertion " ASSERTION,
	  "token endpoint refused the request: invalid_client: bad assertion [redacted] — check "
	  "client_id, that the provider has this key's public half registered for the client "
	  "(keybearer keygen prints it) and auth_method (this request used private_key_jwt, "
	  "ES256, kid kid-1)" },
	{ "private_key_jwt, the signature alone", AUTH_PRIVATE_KEY_JWT, KEY_PEM, NULL,
	  "sig " ASSERTION_SIGNATURE, "invalid_client: sig [redacted] —" },
	{ "private_key_jwt, the key", AUTH_PRIVATE_KEY_JWT, KEY_PEM, NULL, "key " KEY_PEM,
	  "invalid_client: key [redacted] —" },
	{ "client_secret_jwt", AUTH_CLIENT_SECRET_JWT, "p w+d",
	  "grant_type=client_credentials&scope=read&client_id=c&client_assertion_type=urn%3Aietf%3A"
	  "params%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" ASSERTION,
	  "secret p+w%2Bd",
	  "token endpoint refused the request: invalid_client: secret [redacted] — check "
	  "client_id, the secret (was it rotated?) and auth_method (this request used "
	  "client_secret_jwt, ES256, kid kid-1)" },
};

static void
test_token_request_assertion_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(assertion_cases) / sizeof(assertion_cases[0]); i++) {
		const struct assertion_case *c = &assertion_cases[i];
		struct profile p = { .name = "test", .client_id = "c", .scope = "read" };
		struct token_request req;
		struct token_result result;
		struct error err = { 0 };
		char body[1024];
		const char *e;
		size_t n;
		struct token_reply reply = { .status = 401,
					     .content_type = "application/json",
					     .auth_method = c->method,
					     .signing_alg = "ES256",
					     .key_id = "kid-1",
					     .body = body };

		p.auth_method = c->method;
		failures +=
			mismatch_int(c->name, "rc",
				     token_request_build(&p,
							 &(struct token_credentials){
								 .secret = c->credential,
								 .client_assertion = ASSERTION },
							 &req, &err),
				     0);
		if (c->body != NULL)
			failures += mismatch_str(c->name, "body", req.body, c->body);
		failures += mismatch_str(c->name, "authorization", req.authorization, NULL);
		failures += mismatch_lacks(c->name, "body", req.body, "client_secret");
		/* JSON escapes the key's line ends; redaction reads the escapes */
		n = (size_t)snprintf(body, sizeof(body),
				     "{\"error\": \"invalid_client\", \"error_description\": \"");
		for (e = c->echo; *e != '\0'; e++)
			n += (size_t)snprintf(body + n, sizeof(body) - n, "%s",
					      *e == '\n' ? "\\n" : (char[]){ *e, '\0' });
		snprintf(body + n, sizeof(body) - n, "\"}");
		reply.body_len = strlen(body);
		failures += mismatch_int(
			c->name, "parse",
			token_reply_parse(&reply, &req.redaction, 0, &result, &err), -1);
		failures += mismatch_int(c->name, "code", err.code, KB_EXIT_REJECTED);
		failures += mismatch_contains(c->name, "message", err.message, c->message);
		token_request_free(&req);
	}
	assert_int_equal(failures, 0);
}

/* A JWT method without an assertion is a bug, never a request without credentials. */
static void
test_token_request_assertion_missing(void **state)
{
	struct profile p = { .name = "test",
			     .client_id = "c",
			     .auth_method = AUTH_PRIVATE_KEY_JWT };
	struct token_request req;
	struct error err = { 0 };

	(void)state;
	assert_int_equal(token_request_build(&p, &(struct token_credentials){ .secret = KEY_PEM },
					     &req, &err),
			 -1);
	assert_int_equal(err.code, KB_EXIT_INTERNAL);
}

/* The body starts at 256 bytes and grows by copying: a long secret must survive the copy. */
static void
test_token_request_build_long_values(void **state)
{
	char secret[701], expected[1024];
	struct profile p = { 0 };
	struct token_request req;
	struct error err = { 0 };

	(void)state;
	memset(secret, 'S', 700);
	secret[700] = '\0';
	p.name = "test";
	p.client_id = "my-client";
	p.scope = "a b c d e f g h i j k l m n o p q r s t u v w x y z";
	p.auth_method = AUTH_CLIENT_SECRET_POST;
	snprintf(expected, sizeof(expected),
		 "grant_type=client_credentials&scope=a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+r+s+t+u+v+w"
		 "+x+y+z&client_id=my-client&client_secret=%s",
		 secret);
	assert_int_equal(token_request_build(&p, &(struct token_credentials){ .secret = secret },
					     &req, &err),
			 0);
	assert_string_equal(req.body, expected);
	assert_null(req.authorization);
	token_request_free(&req);
}

struct b64token_case {
	const char *name;
	const char *text;
	size_t len;
	int valid;
};

static const struct b64token_case b64token_cases[] = {
	{ "letters", "abc", 3, 1 },
	{ "every allowed symbol", "Az09-._~+/", 10, 1 },
	{ "one trailing =", "abc=", 4, 1 },
	{ "two trailing =", "abc==", 5, 1 },
	{ "only the given length", "ab cd", 2, 1 },
	{ "empty", "", 0, 0 },
	{ "only =", "==", 2, 0 },
	{ "leading =", "=abc", 4, 0 },
	{ "= in the middle", "ab=c", 4, 0 },
	{ "character after =", "abc=\n", 5, 0 },
	{ "space", "a b", 3, 0 },
	{ "CR LF", "ab\r\n", 4, 0 },
	{ "LF", "ab\n", 3, 0 },
	{ "tab", "a\tb", 3, 0 },
	{ "double quote", "a\"b", 3, 0 },
	{ "backslash", "a\\b", 3, 0 },
	{ "comma", "a,b", 3, 0 },
	{ "colon", "a:b", 3, 0 },
	{ "percent", "a%20", 4, 0 },
	{ "non-ASCII", "caf\xc3\xa9", 5, 0 },
	{ "NUL inside len", "ab\0cd", 5, 0 },
	{ "NUL at the end of len", "ab\0", 3, 0 },
	{ "NUL after =", "ab=\0", 4, 0 },
};

static void
test_token_is_b64token_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(b64token_cases) / sizeof(b64token_cases[0]); i++) {
		const struct b64token_case *c = &b64token_cases[i];

		failures += mismatch_int(c->name, "valid", token_is_b64token(c->text, c->len) != 0,
					 c->valid);
	}
	assert_int_equal(failures, 0);
}

#define JSON_TOKEN(rest) "{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\"" rest "}"
#define OPAQUE		 "2YotnFZFEjr1zCsicMWpAA"
#define INVALID_CLIENT_MESSAGE                                                                     \
	"token endpoint refused the request: invalid_client: Client authentication failed — "    \
	"check client_id, the secret (was it rotated?) and auth_method (this request used "        \
	"client_secret_post)"

struct reply_case {
	const char *name;
	long status;
	const char *content_type, *retry_after, *location;
	const char *body; /* JWT_MARK becomes a JWT of jwt_claims */
	const char *jwt_claims;
	enum exit_code code; /* KB_EXIT_OK: accepted */
	const char *message; /* substring of err.message; the whole of it when exact */
	int exact;
	const char *token;  /* accepted token; JWT_MARK: the JWT built for the row */
	long long lifetime; /* expires_at - received_at */
	enum token_expiry_source source;
};

static const struct reply_case reply_cases[] = {
	{ "200 bearer", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":3600"), NULL, KB_EXIT_OK, NULL, 0,
	  OPAQUE, 3600, EXPIRY_FROM_EXPIRES_IN },
	{ "200 every b64token symbol", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"abc.DEF-_~+/==\",\"token_type\":\"Bearer\",\"expires_in\":60}", NULL,
	  KB_EXIT_OK, NULL, 0, "abc.DEF-_~+/==", 60, EXPIRY_FROM_EXPIRES_IN },
	/* RFC 6749 5.1: token_type is case-insensitive. */
	{ "token_type lower case", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"bearer\",\"expires_in\":3600"), NULL, KB_EXIT_OK, NULL, 0,
	  OPAQUE, 3600, EXPIRY_FROM_EXPIRES_IN },
	{ "token_type upper case", 200, NULL, NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"BEARER\",\"expires_in\":3600"), NULL, KB_EXIT_OK, NULL, 0,
	  OPAQUE, 3600, EXPIRY_FROM_EXPIRES_IN },
	/* Some servers quote numbers. */
	{ "expires_in string", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":\"3600\""), NULL, KB_EXIT_OK, NULL,
	  0, OPAQUE, 3600, EXPIRY_FROM_EXPIRES_IN },
	/* Valid by RFC 6749, but dead on arrival: never handed out. */
	{ "expires_in 0", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":0"), NULL, KB_EXIT_PROTOCOL,
	  "already expired (by its expires_in)", 0, NULL, 0, 0 },
	/* Less than TOKEN_MIN_LIFETIME: it could die on its way to the server. */
	{ "expires_in 9", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":9"), NULL, KB_EXIT_PROTOCOL,
	  "issued a token that lives only 9 s (by its expires_in)", 0, NULL, 0, 0 },
	{ "expires_in 10", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":10"), NULL, KB_EXIT_OK, NULL, 0,
	  OPAQUE, 10, EXPIRY_FROM_EXPIRES_IN },
	{ "JWT exp in the past", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"" JWT_MARK "\",\"token_type\":\"Bearer\"}",
	  "{\"iat\":1700000000,\"exp\":1500000000}", KB_EXIT_PROTOCOL,
	  "already expired (by its JWT exp)", 0, NULL, 0, 0 },
	{ "expires_in ten years", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":315360000"), NULL, KB_EXIT_OK, NULL,
	  0, OPAQUE, 315360000, EXPIRY_FROM_EXPIRES_IN },
	{ "whitespace around the object", 200, "application/json", NULL, NULL,
	  "\r\n  " JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":60") "\n", NULL,
	  KB_EXIT_OK, NULL, 0, OPAQUE, 60, EXPIRY_FROM_EXPIRES_IN },
	{ "expires_in fractional", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":3600.5"), NULL, KB_EXIT_PROTOCOL,
	  "token endpoint sent an unusable expires_in (3600.5)", 0, NULL, 0, 0 },
	{ "expires_in negative", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":-1"), NULL, KB_EXIT_PROTOCOL,
	  "unusable expires_in (-1)", 0, NULL, 0, 0 },
	{ "expires_in beyond ten years", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":315360001"), NULL, KB_EXIT_PROTOCOL,
	  "unusable expires_in (315360001)", 0, NULL, 0, 0 },
	{ "expires_in string with letters", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":\"36OO\""), NULL, KB_EXIT_PROTOCOL,
	  "unusable expires_in", 0, NULL, 0, 0 },
	{ "expires_in empty string", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":\"\""), NULL, KB_EXIT_PROTOCOL,
	  "unusable expires_in", 0, NULL, 0, 0 },
	{ "expires_in boolean", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":true"), NULL, KB_EXIT_PROTOCOL,
	  "unusable expires_in (true)", 0, NULL, 0, 0 },
	/* Without expires_in, the JWT's own lifetime counts from when the reply arrived. */
	{ "no expires_in, JWT exp and iat", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"" JWT_MARK "\",\"token_type\":\"Bearer\"}",
	  "{\"iat\":1700000000,\"exp\":1700007200}", KB_EXIT_OK, NULL, 0, JWT_MARK, 7200,
	  EXPIRY_FROM_JWT },
	{ "no expires_in, JWT iat 3 h ahead", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"" JWT_MARK "\",\"token_type\":\"Bearer\"}",
	  "{\"iat\":1700010800,\"exp\":1700014400}", KB_EXIT_OK, NULL, 0, JWT_MARK, 3600,
	  EXPIRY_FROM_JWT },
	{ "expires_in null, JWT", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"" JWT_MARK "\",\"token_type\":\"Bearer\",\"expires_in\":null}",
	  "{\"iat\":1700000000,\"exp\":1700000900}", KB_EXIT_OK, NULL, 0, JWT_MARK, 900,
	  EXPIRY_FROM_JWT },
	/* The server's expires_in is the authority when both exist. */
	{ "expires_in beats JWT", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"" JWT_MARK "\",\"token_type\":\"Bearer\",\"expires_in\":60}",
	  "{\"iat\":1700000000,\"exp\":1700007200}", KB_EXIT_OK, NULL, 0, JWT_MARK, 60,
	  EXPIRY_FROM_EXPIRES_IN },
	{ "JWT without exp", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"" JWT_MARK "\",\"token_type\":\"Bearer\"}",
	  "{\"iat\":1700000000,\"sub\":\"c\"}", KB_EXIT_OK, NULL, 0, JWT_MARK, 86400,
	  EXPIRY_DEFAULT },
	{ "no expires_in, opaque token", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\""), NULL, KB_EXIT_OK, NULL, 0, OPAQUE, 86400,
	  EXPIRY_DEFAULT },
	{ "missing access_token", 200, "application/json", NULL, NULL,
	  "{\"token_type\":\"Bearer\",\"expires_in\":3600}", NULL, KB_EXIT_PROTOCOL,
	  "token endpoint's reply has no access_token", 0, NULL, 0, 0 },
	{ "access_token a number", 200, "application/json", NULL, NULL,
	  "{\"access_token\":12345,\"token_type\":\"Bearer\"}", NULL, KB_EXIT_PROTOCOL,
	  "has no access_token", 0, NULL, 0, 0 },
	{ "access_token empty", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"\",\"token_type\":\"Bearer\"}", NULL, KB_EXIT_PROTOCOL,
	  "characters a Bearer token cannot have", 0, NULL, 0, 0 },
	{ "access_token with CR LF", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"abc\\r\\nX-Injected: 1\",\"token_type\":\"Bearer\"}", NULL,
	  KB_EXIT_PROTOCOL,
	  "token endpoint sent an access_token with characters a Bearer token cannot have", 0, NULL,
	  0, 0 },
	{ "access_token with NUL", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"abc\\u0000def\",\"token_type\":\"Bearer\"}", NULL, KB_EXIT_PROTOCOL,
	  "characters a Bearer token cannot have", 0, NULL, 0, 0 },
	{ "token_type mac", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"mac\",\"expires_in\":3600"), NULL, KB_EXIT_PROTOCOL,
	  "token endpoint sent token_type \"mac\", not Bearer", 0, NULL, 0, 0 },
	{ "token_type missing", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"expires_in\":3600"), NULL, KB_EXIT_PROTOCOL,
	  "sent token_type (none), not Bearer", 0, NULL, 0, 0 },
	{ "token_type Bearer with suffix", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer2\""), NULL, KB_EXIT_PROTOCOL,
	  "token_type \"Bearer2\", not Bearer", 0, NULL, 0, 0 },
	{ "JSON array", 200, "application/json", NULL, NULL,
	  "[" JSON_TOKEN(",\"token_type\":\"Bearer\"") "]", NULL, KB_EXIT_PROTOCOL,
	  "token endpoint's reply is not a JSON object (HTTP 200, application/json)", 0, NULL, 0,
	  0 },
	{ "empty body", 200, "application/json", NULL, NULL, "", NULL, KB_EXIT_PROTOCOL,
	  "is not a JSON object (HTTP 200, application/json): \"\"", 0, NULL, 0, 0 },
	{ "truncated JSON", 200, "application/json", NULL, NULL,
	  "{\"access_token\":\"2YotnFZFEjr1zCsicMWpAA\",\"token_", NULL, KB_EXIT_PROTOCOL,
	  "is not a JSON object", 0, NULL, 0, 0 },
	{ "trailing garbage", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\"") " x", NULL, KB_EXIT_PROTOCOL,
	  "is not a JSON object", 0, NULL, 0, 0 },
	{ "two objects", 200, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\"") JSON_TOKEN(",\"token_type\":\"Bearer\""), NULL,
	  KB_EXIT_PROTOCOL, "is not a JSON object", 0, NULL, 0, 0 },
	{ "HTML login page", 200, NULL, NULL, NULL,
	  "<html><head><title>Sign in</title></head></html>", NULL, KB_EXIT_PROTOCOL,
	  "is not a JSON object (HTTP 200, no content type): \"Sign in\"", 0, NULL, 0, 0 },
	{ "302 with Location", 302, "text/html", NULL, "https://login.example.com/v2/token",
	  "<a href=\"/v2/token\">moved</a>", NULL, KB_EXIT_PROTOCOL,
	  "token endpoint redirected the request (HTTP 302 to https://login.example.com/v2/token)",
	  0, NULL, 0, 0 },
	{ "301 without Location", 301, NULL, NULL, NULL, "", NULL, KB_EXIT_PROTOCOL,
	  "(HTTP 301 to nowhere)", 0, NULL, 0, 0 },
	/* Not a refusal, a "not now": transient, so a cached token may stand in. */
	{ "408 Request Timeout", 408, "text/plain", NULL, NULL, "Request Timeout", NULL,
	  KB_EXIT_TRANSIENT, "token endpoint failed (HTTP 408): \"Request Timeout\"", 0, NULL, 0,
	  0 },
	{ "400 temporarily_unavailable", 400, "application/json", NULL, NULL,
	  "{\"error\":\"temporarily_unavailable\"}", NULL, KB_EXIT_TRANSIENT,
	  "refused the request: temporarily_unavailable — try again later", 0, NULL, 0, 0 },
	{ "429 with Retry-After seconds", 429, "application/json", "30", NULL,
	  "{\"error\":\"slow_down\"}", NULL, KB_EXIT_TRANSIENT,
	  "token endpoint is rate limiting (HTTP 429, retry after 30 s)", 0, NULL, 0, 0 },
	{ "429 with Retry-After date", 429, NULL, "Wed, 21 Oct 2015 07:28:00 GMT", NULL, "", NULL,
	  KB_EXIT_TRANSIENT, "(HTTP 429, retry after Wed, 21 Oct 2015 07:28:00 GMT)", 0, NULL, 0,
	  0 },
	{ "429 without Retry-After", 429, NULL, NULL, NULL, "", NULL, KB_EXIT_TRANSIENT,
	  "(HTTP 429) — wait and try again", 0, NULL, 0, 0 },
	{ "503 HTML", 503, "text/html", "120", NULL,
	  "<html><body><h1>Service Unavailable</h1>\n<p>Try   later.</p></body></html>", NULL,
	  KB_EXIT_TRANSIENT,
	  "token endpoint failed (HTTP 503, retry after 120 s): \"Service Unavailable Try later.\"",
	  0, NULL, 0, 0 },
	{ "500", 500, "text/plain", NULL, NULL, "internal error", NULL, KB_EXIT_TRANSIENT,
	  "token endpoint failed (HTTP 500): \"internal error\" — try again later", 0, NULL, 0, 0 },
	/* A 5xx is the server's trouble even when it looks like an OAuth error. */
	{ "502 with OAuth error", 502, "application/json", NULL, NULL,
	  "{\"error\":\"invalid_client\"}", NULL, KB_EXIT_TRANSIENT, "(HTTP 502)", 0, NULL, 0, 0 },
	{ "400 invalid_client", 400, "application/json", NULL, NULL,
	  "{\"error\":\"invalid_client\",\"error_description\":\"Client authentication failed\"}",
	  NULL, KB_EXIT_REJECTED, INVALID_CLIENT_MESSAGE, 1, NULL, 0, 0 },
	{ "401 invalid_client", 401, "application/json", NULL, NULL,
	  "{\"error\":\"invalid_client\",\"error_description\":\"Client authentication failed\"}",
	  NULL, KB_EXIT_REJECTED, INVALID_CLIENT_MESSAGE, 1, NULL, 0, 0 },
	{ "400 invalid_scope", 400, "application/json", NULL, NULL, "{\"error\":\"invalid_scope\"}",
	  NULL, KB_EXIT_REJECTED,
	  "token endpoint refused the request: invalid_scope — check scope, audience and resource "
	  "in the profile",
	  1, NULL, 0, 0 },
	{ "400 unknown OAuth error", 400, "application/json", NULL, NULL,
	  "{\"error\":\"weird_error\"}", NULL, KB_EXIT_REJECTED,
	  "weird_error — check the profile against the provider's documentation", 0, NULL, 0, 0 },
	{ "400 OAuth error with control characters", 400, "application/json", NULL, NULL,
	  "{\"error\":\"invalid_request\",\"error_description\":\"bad\\u001b[31m\\nthing\"}", NULL,
	  KB_EXIT_REJECTED, "invalid_request: bad?[31m thing — check token_url, auth_method", 0,
	  NULL, 0, 0 },
	{ "400 JSON without error", 400, "application/json", NULL, NULL, "{\"message\":\"nope\"}",
	  NULL, KB_EXIT_PROTOCOL, "token endpoint answered HTTP 400: \"{\"message\":\"nope\"}\"", 0,
	  NULL, 0, 0 },
	{ "401 non-JSON", 401, "text/plain", NULL, NULL, "Unauthorized", NULL, KB_EXIT_REJECTED,
	  "token endpoint refused the request (HTTP 401): \"Unauthorized\" — check client_id and "
	  "secret",
	  0, NULL, 0, 0 },
	{ "403 HTML", 403, "text/html", NULL, NULL, "<h1>Forbidden</h1>", NULL, KB_EXIT_REJECTED,
	  "(HTTP 403): \"Forbidden\"", 0, NULL, 0, 0 },
	{ "404 HTML", 404, "text/html", NULL, NULL,
	  "<!DOCTYPE html><html><body><h1>Not Found</h1></body></html>", NULL, KB_EXIT_PROTOCOL,
	  "token endpoint answered HTTP 404: \"Not Found\" — check token_url", 1, NULL, 0, 0 },
	{ "201 with a token", 201, "application/json", NULL, NULL,
	  JSON_TOKEN(",\"token_type\":\"Bearer\""), NULL, KB_EXIT_PROTOCOL,
	  "token endpoint answered HTTP 201", 0, NULL, 0, 0 },
};

static int
check_reply_case(const struct reply_case *c)
{
	char jwt[1024] = "", body[2048], token[1024];
	struct redaction redaction;
	struct token_reply reply = { 0 };
	struct token_result result;
	struct error err = { 0 };
	int rc, failures = 0;

	if (c->jwt_claims != NULL)
		make_jwt("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", c->jwt_claims, jwt, sizeof(jwt));
	substitute_mark(c->body, jwt, body, sizeof(body));
	reply.status = c->status;
	reply.content_type = c->content_type;
	reply.retry_after = c->retry_after;
	reply.location = c->location;
	reply.body = body;
	reply.body_len = strlen(body);
	assert_int_equal(token_redaction_build(CLIENT_ID, SECRET, &redaction), 0);
	rc = token_reply_parse(&reply, &redaction, (time_t)RECEIVED_AT, &result, &err);
	redaction_free(&redaction);

	failures += mismatch_int(c->name, "rc", rc, c->code == KB_EXIT_OK ? 0 : -1);
	failures += mismatch_int(c->name, "exit code", err.code, c->code);
	if (c->code != KB_EXIT_OK) {
		if (c->exact)
			failures += mismatch_str(c->name, "message", err.message, c->message);
		else
			failures += mismatch_contains(c->name, "message", err.message, c->message);
		failures += mismatch_int(c->name, "no token on failure",
					 result.access_token == NULL, 1);
	} else if (rc == 0) {
		substitute_mark(c->token, jwt, token, sizeof(token));
		failures += mismatch_str(c->name, "access_token", result.access_token, token);
		failures += mismatch_int(c->name, "obtained_at", result.obtained_at, RECEIVED_AT);
		failures += mismatch_int(c->name, "expires_at - received_at",
					 result.expires_at - RECEIVED_AT, c->lifetime);
		failures += mismatch_int(c->name, "expiry_source", result.expiry_source, c->source);
	}
	token_result_free(&result);
	return failures;
}

static void
test_token_reply_parse_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++)
		failures += check_reply_case(&reply_cases[i]);
	assert_int_equal(failures, 0);
}

/* federated assertions and token exchange */
struct federated_request_case {
	const char *name;
	enum auth_method method;
	enum grant_type grant;
	const char *client_id, *subject_token_type, *requested_token_type;
	struct token_credentials creds;
	const char *body, *authorization;
};

#define SUBJECT_FORM                                                                               \
	"subject_token=sub.jwt.x&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%"     \
	"3Ajwt"
#define ASSERTION_FORM                                                                             \
	"client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"   \
	"&client_assertion=ci.jwt.x"

static const struct federated_request_case federated_request_cases[] = {
	/* RFC 7523 2.2, with client_id as RFC 6749 2.3.1 allows */
	{ "client_assertion",
	  AUTH_CLIENT_ASSERTION,
	  GRANT_CLIENT_CREDENTIALS,
	  "my-client",
	  NULL,
	  NULL,
	  { .client_assertion = "ci.jwt.x" },
	  "grant_type=client_credentials&client_id=my-client&" ASSERTION_FORM,
	  NULL },
	/* RFC 8693 2.1: the subject first, its type defaulting to jwt */
	{ "exchange, public client",
	  AUTH_NONE,
	  GRANT_TOKEN_EXCHANGE,
	  "pub",
	  NULL,
	  NULL,
	  { .subject_token = "sub.jwt.x" },
	  "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&" SUBJECT_FORM
	  "&client_id=pub",
	  NULL },
	{ "exchange, no client_id at all",
	  AUTH_NONE,
	  GRANT_TOKEN_EXCHANGE,
	  NULL,
	  NULL,
	  NULL,
	  { .subject_token = "sub.jwt.x" },
	  "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&" SUBJECT_FORM,
	  NULL },
	{ "exchange with a secret and both types",
	  AUTH_CLIENT_SECRET_BASIC,
	  GRANT_TOKEN_EXCHANGE,
	  "c",
	  "urn:ietf:params:oauth:token-type:access_token",
	  "urn:ietf:params:oauth:token-type:jwt",
	  { .secret = "d", .subject_token = "op+aque/=" },
	  "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&subject_token="
	  "op%2Baque%2F%3D&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_"
	  "token&requested_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Ajwt",
	  "Authorization: Basic Yzpk" },
	{ "exchange authenticated by an assertion",
	  AUTH_CLIENT_ASSERTION,
	  GRANT_TOKEN_EXCHANGE,
	  "c",
	  NULL,
	  NULL,
	  { .client_assertion = "ci.jwt.x", .subject_token = "sub.jwt.x" },
	  "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&" SUBJECT_FORM
	  "&client_id=c&" ASSERTION_FORM,
	  NULL },
	/* what the method needs and is not there is a bug, never an empty parameter */
	{ "assertion missing",
	  AUTH_CLIENT_ASSERTION,
	  GRANT_CLIENT_CREDENTIALS,
	  "c",
	  NULL,
	  NULL,
	  { 0 },
	  NULL,
	  NULL },
	{ "subject missing", AUTH_NONE, GRANT_TOKEN_EXCHANGE, "c", NULL, NULL, { 0 }, NULL, NULL },
	{ "secret missing",
	  AUTH_CLIENT_SECRET_POST,
	  GRANT_TOKEN_EXCHANGE,
	  "c",
	  NULL,
	  NULL,
	  { .subject_token = "s" },
	  NULL,
	  NULL },
};

static void
test_token_request_build_federated_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(federated_request_cases) / sizeof(federated_request_cases[0]); i++) {
		const struct federated_request_case *c = &federated_request_cases[i];
		struct profile p = { 0 };
		struct token_request req;
		struct redaction_scan scan;
		struct error err = { 0 };
		int rc;

		p.name = "test";
		p.token_url = "https://login.example.com/token";
		p.auth_method = c->method;
		p.grant_type = c->grant;
		p.client_id = (char *)c->client_id;
		p.subject_token_type = (char *)c->subject_token_type;
		p.requested_token_type = (char *)c->requested_token_type;
		rc = token_request_build(&p, &c->creds, &req, &err);
		failures += mismatch_int(c->name, "rc", rc, c->body != NULL ? 0 : -1);
		if (c->body == NULL) {
			failures += mismatch_int(c->name, "code", err.code, KB_EXIT_INTERNAL);
			continue;
		}
		failures += mismatch_str(c->name, "body", req.body, c->body);
		failures +=
			mismatch_str(c->name, "authorization", req.authorization, c->authorization);
		/* what the request carried is what no message may show */
		if (c->creds.client_assertion != NULL) {
			redaction_scan_start(&scan, &req.redaction, c->creds.client_assertion,
					     strlen(c->creds.client_assertion));
			failures += mismatch_int(c->name, "assertion redacted",
						 redaction_span_end(&scan, 0, 0, 0) > 0, 1);
		}
		if (c->creds.subject_token != NULL) {
			redaction_scan_start(&scan, &req.redaction, c->creds.subject_token,
					     strlen(c->creds.subject_token));
			failures += mismatch_int(c->name, "subject token redacted",
						 redaction_span_end(&scan, 0, 0, 0) > 0, 1);
		}
		token_request_free(&req);
	}
	assert_int_equal(failures, 0);
}

struct exchange_reply_case {
	const char *name;
	const char *requested; /* requested_token_type, or NULL */
	const char *body;
	enum exit_code code;
	const char *message; /* the whole message */
};

#define ISSUED(type) ",\"issued_token_type\":\"urn:ietf:params:oauth:token-type:" type "\""
#define TE_JWT	     "urn:ietf:params:oauth:token-type:jwt"
#define TE_ACCESS    "urn:ietf:params:oauth:token-type:access_token"

static const struct exchange_reply_case exchange_reply_cases[] = {
	{ "access_token, Bearer", NULL,
	  JSON_TOKEN(ISSUED("access_token") ",\"token_type\":\"Bearer\",\"expires_in\":60"),
	  KB_EXIT_OK, NULL },
	{ "jwt, Bearer", NULL,
	  JSON_TOKEN(ISSUED("jwt") ",\"token_type\":\"Bearer\",\"expires_in\":60"), KB_EXIT_OK,
	  NULL },
	{ "the type asked for", TE_JWT,
	  JSON_TOKEN(ISSUED("jwt") ",\"token_type\":\"Bearer\",\"expires_in\":60"), KB_EXIT_OK,
	  NULL },
	/* N_A (RFC 8693 2.2.1): only for a JWT asked for by name */
	{ "N_A for a jwt asked for", TE_JWT,
	  JSON_TOKEN(ISSUED("jwt") ",\"token_type\":\"N_A\",\"expires_in\":60"), KB_EXIT_OK, NULL },
	{ "N_A unasked", NULL,
	  JSON_TOKEN(ISSUED("jwt") ",\"token_type\":\"N_A\",\"expires_in\":60"), KB_EXIT_PROTOCOL,
	  "token endpoint sent token_type N_A: the " TE_JWT " it issued is no access token (RFC "
	  "8693 2.2.1) — to send it as a Bearer token anyway, ask for it: requested_token_type "
	  "= " TE_JWT },
	{ "N_A for an access token", TE_ACCESS,
	  JSON_TOKEN(ISSUED("access_token") ",\"token_type\":\"N_A\",\"expires_in\":60"),
	  KB_EXIT_PROTOCOL, "token endpoint sent token_type N_A: the " TE_ACCESS " it issued" },
	{ "no issued_token_type", NULL, JSON_TOKEN(",\"token_type\":\"Bearer\",\"expires_in\":60"),
	  KB_EXIT_PROTOCOL,
	  "token endpoint's token exchange reply has no issued_token_type, which RFC 8693 "
	  "requires — report this to the provider; the token was not used" },
	{ "issued_token_type not a string", NULL,
	  JSON_TOKEN(",\"issued_token_type\":1,\"token_type\":\"Bearer\""), KB_EXIT_PROTOCOL,
	  "token endpoint's token exchange reply has no issued_token_type" },
	{ "another type than asked for", TE_ACCESS,
	  JSON_TOKEN(ISSUED("jwt") ",\"token_type\":\"Bearer\",\"expires_in\":60"),
	  KB_EXIT_PROTOCOL,
	  "token endpoint issued a token of type \"" TE_JWT "\", not the " TE_ACCESS
	  " asked for — check requested_token_type; the token was not used" },
	{ "an id_token", NULL,
	  JSON_TOKEN(ISSUED("id_token") ",\"token_type\":\"Bearer\",\"expires_in\":60"),
	  KB_EXIT_PROTOCOL,
	  "token endpoint issued a token of type \"urn:ietf:params:oauth:token-type:id_token\", "
	  "which is no access token for a Bearer header — set requested_token_type = " TE_ACCESS
	  "; the token was not used" },
	{ "a refresh_token", NULL, JSON_TOKEN(ISSUED("refresh_token") ",\"token_type\":\"Bearer\""),
	  KB_EXIT_PROTOCOL,
	  "token endpoint issued a token of type \"urn:ietf:params:oauth:token-type:refresh_"
	  "token\", which is no access token" },
	{ "a saml2 assertion", NULL, JSON_TOKEN(ISSUED("saml2") ",\"token_type\":\"N_A\""),
	  KB_EXIT_PROTOCOL, "of type \"urn:ietf:params:oauth:token-type:saml2\", which is no" },
	{ "case matters in a URI", NULL,
	  JSON_TOKEN(",\"issued_token_type\":\"URN:IETF:PARAMS:OAUTH:TOKEN-TYPE:JWT\","
		     "\"token_type\":\"Bearer\""),
	  KB_EXIT_PROTOCOL, "which is no access token for a Bearer header" },
	{ "a token type that is no type", NULL,
	  JSON_TOKEN(ISSUED("access_token") ",\"token_type\":\"mac\""), KB_EXIT_PROTOCOL,
	  "token endpoint sent token_type \"mac\", not Bearer" },
	{ "no token_type", NULL, JSON_TOKEN(ISSUED("access_token")), KB_EXIT_PROTOCOL,
	  "token endpoint sent token_type (none), not Bearer" },
	/* an error reply is an error reply, as for any grant */
	{ "invalid_grant", NULL, "{\"error\":\"invalid_grant\"}", KB_EXIT_REJECTED,
	  "token endpoint refused the request: invalid_grant" },
};

static void
test_token_reply_parse_exchange_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(exchange_reply_cases) / sizeof(exchange_reply_cases[0]); i++) {
		const struct exchange_reply_case *c = &exchange_reply_cases[i];
		struct token_reply reply = { 0 };
		struct token_result result;
		struct error err = { 0 };
		int rc;

		reply.status = c->code == KB_EXIT_REJECTED ? 400 : 200;
		reply.content_type = "application/json";
		reply.body = c->body;
		reply.body_len = strlen(c->body);
		reply.token_exchange = 1;
		reply.requested_token_type = c->requested;
		rc = token_reply_parse(&reply, NULL, (time_t)RECEIVED_AT, &result, &err);
		failures += mismatch_int(c->name, "rc", rc, c->code == KB_EXIT_OK ? 0 : -1);
		failures += mismatch_int(c->name, "exit code", err.code, c->code);
		if (c->code == KB_EXIT_OK)
			failures += mismatch_str(c->name, "token", result.access_token, OPAQUE);
		else
			failures += mismatch_contains(c->name, "message", err.message, c->message);
		token_result_free(&result);
	}
	assert_int_equal(failures, 0);
}

/* RFC 6750 tokens have no length limit; ours is 16 KiB, and the boundary is exact. */
static void
test_token_reply_parse_token_length_limit(void **state)
{
	static const struct {
		size_t length;
		enum exit_code code;
	} lengths[] = {
		{ TOKEN_MAX_LENGTH, KB_EXIT_OK },
		{ TOKEN_MAX_LENGTH + 1, KB_EXIT_PROTOCOL },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		size_t body_len = lengths[i].length + 64;
		char *body = malloc(body_len), *token = malloc(lengths[i].length + 1);
		struct token_reply reply = { 0 };
		struct token_result result;
		struct error err = { 0 };
		int rc;

		assert_non_null(body);
		assert_non_null(token);
		memset(token, 'a', lengths[i].length);
		token[lengths[i].length] = '\0';
		snprintf(body, body_len, "{\"access_token\":\"%s\",\"token_type\":\"Bearer\"}",
			 token);
		reply.status = 200;
		reply.body = body;
		reply.body_len = strlen(body);
		rc = token_reply_parse(&reply, NULL, (time_t)RECEIVED_AT, &result, &err);
		print_message("token of %zu bytes: rc %d, %s\n", lengths[i].length, rc,
			      err.message);
		assert_int_equal(err.code, lengths[i].code);
		if (lengths[i].code == KB_EXIT_OK) {
			assert_int_equal(rc, 0);
			assert_string_equal(result.access_token, token);
		} else {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(err.message,
					       "token endpoint sent an access_token of "
					       "16385 bytes, more than 16384"));
		}
		token_result_free(&result);
		free(token);
		free(body);
	}
}

/* A reply may echo what we sent. Whatever part of the reply a message quotes, the secret
 * must not reach stderr (and from there CI logs), neither raw nor as we form-encoded it. */
struct redaction_case {
	const char *name;
	long status;
	const char *location;
	const char *body;
	int echoes; /* the reply holds the secret: "[redacted]" must show where it was */
};

static const struct redaction_case redaction_cases[] = {
	{ "500 text", 500, NULL, "upstream said: " SECRET, 1 },
	{ "503 HTML with form", 503, NULL, "<p>client_secret=" SECRET_FORM "</p>", 1 },
	{ "400 description", 400, NULL,
	  "{\"error\":\"invalid_client\",\"error_description\":\"secret " SECRET " is wrong\"}",
	  1 },
	{ "400 description form", 400, NULL,
	  "{\"error\":\"invalid_request\",\"error_description\":\"body was client_id=c&client_"
	  "secret=" SECRET_FORM "\"}",
	  1 },
	{ "400 error code", 400, NULL, "{\"error\":\"" SECRET "\"}", 1 },
	{ "400 not OAuth", 400, NULL, "grant_type=client_credentials&client_secret=" SECRET_FORM,
	  1 },
	{ "401 text", 401, NULL, "bad credentials for " SECRET, 1 },
	{ "404 text", 404, NULL, "no route for client_secret=" SECRET_FORM, 1 },
	{ "200 not JSON", 200, NULL, "echo: " SECRET, 1 },
	{ "200 token_type", 200, NULL, "{\"access_token\":\"abc\",\"token_type\":\"" SECRET "\"}",
	  1 },
	{ "200 token_type form", 200, NULL,
	  "{\"access_token\":\"abc\",\"token_type\":\"" SECRET_FORM "\"}", 1 },
	{ "302 Location", 302, "https://login.example.com/cb?client_secret=" SECRET_FORM, "", 1 },
	{ "500 no echo", 500, NULL, "internal error", 0 },
};

static void
test_token_reply_parse_redacts_secret(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(redaction_cases) / sizeof(redaction_cases[0]); i++) {
		const struct redaction_case *c = &redaction_cases[i];
		struct redaction redaction;
		struct token_reply reply = { 0 };
		struct token_result result;
		struct error err = { 0 };

		reply.status = c->status;
		reply.location = c->location;
		reply.body = c->body;
		reply.body_len = strlen(c->body);
		assert_int_equal(token_redaction_build(CLIENT_ID, SECRET, &redaction), 0);
		failures += mismatch_int(
			c->name, "rc",
			token_reply_parse(&reply, &redaction, (time_t)RECEIVED_AT, &result, &err),
			-1);
		redaction_free(&redaction);
		failures += mismatch_lacks(c->name, "message", err.message, SECRET);
		failures += mismatch_lacks(c->name, "message", err.message, SECRET_FORM);
		if (c->echoes)
			failures +=
				mismatch_contains(c->name, "message", err.message, "[redacted]");
		else
			failures += mismatch_lacks(c->name, "message", err.message, "[redacted]");
		token_result_free(&result);
	}
	assert_int_equal(failures, 0);
}

/* Short words: a long run of token characters would be blanked as a possible token. */
#define X10  "x,x,x,x,x,"
#define X100 X10 X10 X10 X10 X10 X10 X10 X10 X10 X10
#define X117 X100 X10 "x,x,x,x"
#define RUN31                                                                                      \
	"abcdefghij"                                                                               \
	"abcdefghij"                                                                               \
	"abcdefghij"                                                                               \
	"k"

struct excerpt_case {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen(text) */
	const char *secret;
	size_t max;
	const char *expected;
};

static const struct excerpt_case excerpt_cases[] = {
	{ "tags stripped", "<html><body><h1>Bad Gateway</h1></body></html>", 0, NULL, 121,
	  "Bad Gateway" },
	{ "tag between words", "a<br>b", 0, NULL, 121, "a b" },
	{ "tag attributes hidden", "<a title='hunter2!'>link</a>", 0, NULL, 121, "link" },
	{ "unterminated tag", "ok <script src=x", 0, NULL, 121, "ok" },
	{ "only a tag", "<html>", 0, NULL, 121, "" },
	{ "empty", "", 0, NULL, 121, "" },
	{ "whitespace collapsed", "  a \t\r\n\n  b  \n", 0, NULL, 121, "a b" },
	{ "entities kept", "a &amp; b", 0, NULL, 121, "a &amp; b" },
	{ "non-ASCII", "caf\xc3\xa9.", 0, NULL, 121, "caf??." },
	{ "control characters",
	  "a\x01\x1b[31m\x7f"
	  "b",
	  0, NULL, 121, "a??[31m?b" },
	{ "NUL inside len", "a\0b", 3, NULL, 121, "a?b" },
	{ "only len bytes", "abcdef", 3, NULL, 121, "abc" },
	{ "fits", "abcdef", 0, NULL, 10, "abcdef" },
	{ "cut", "abcdefghijkl", 0, NULL, 10, "abcdef..." },
	{ "117 fit in 121", X117, 0, NULL, 121, X117 },
	{ "118 are cut", X117 "y", 0, NULL, 121, X117 "..." },
	/* max is capped: the excerpt never exceeds 120 characters. */
	{ "bound at 120", X100 X100 X100, 0, NULL, 1000, X117 "..." },
	/* A 200 reply we could not parse may carry a token: long token-character runs go. */
	{ "form-encoded token reply", "access_token=" RUN31 "&token_type=bearer", 0, NULL, 121,
	  "[redacted]&token_type=bearer" },
	{ "31-character run kept", "a " RUN31 " b", 0, NULL, 121, "a " RUN31 " b" },
	{ "32-character run blanked", "a " RUN31 "l b", 0, NULL, 121, "a [redacted] b" },
	{ "secret", "key=hunter2! end", 0, "hunter2!", 121, "key=[redacted] end" },
	{ "secret form-encoded", "key=hunter2%21", 0, "hunter2!", 121, "key=[redacted]" },
	{ "secret twice", "hunter2! hunter2!", 0, "hunter2!", 121, "[redacted] [redacted]" },
	{ "secret with spaces", "was a  b c", 0, "a  b", 121, "was [redacted] c" },
	{ "empty secret", "abc", 0, "", 121, "abc" },
	{ "redaction does not fit", "abcd hunter2!", 0, "hunter2!", 16, "abcd..." },
};

static void
test_token_excerpt_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(excerpt_cases) / sizeof(excerpt_cases[0]); i++) {
		const struct excerpt_case *c = &excerpt_cases[i];
		struct redaction redaction;
		char out[1024];

		memset(out, '#', sizeof(out));
		assert_int_equal(token_redaction_build(CLIENT_ID, c->secret, &redaction), 0);
		token_excerpt(c->text, c->len ? c->len : strlen(c->text), &redaction, out, c->max);
		redaction_free(&redaction);
		failures += mismatch_str(c->name, "excerpt", out, c->expected);
	}
	assert_int_equal(failures, 0);
}

/* Whatever the input, the excerpt ends inside the buffer: max is a size, not a hint. */
static void
test_token_excerpt_stays_in_bounds(void **state)
{
	static const char *const texts[] = {
		X100 X100,
		"a b c d e f g h i j k l m n o p q r s t u v w x y z",
		"<b>x</b>y z",
		"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
		"hunter2! hunter2! hunter2!",
	};
	struct redaction redaction;
	size_t i, max;
	int failures = 0;

	(void)state;
	assert_int_equal(token_redaction_build(CLIENT_ID, "hunter2!", &redaction), 0);
	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		for (max = 1; max <= 40; max++) {
			char out[64];

			memset(out, '#', sizeof(out));
			token_excerpt(texts[i], strlen(texts[i]), &redaction, out, max);
			if (memchr(out, '\0', max) == NULL || out[max] != '#') {
				print_error("\"%s\" with max %zu: wrote past the bound\n", texts[i],
					    max);
				failures++;
			}
		}
	}
	redaction_free(&redaction);
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_token_form_encode_table),
		cmocka_unit_test(test_token_request_build_table),
		cmocka_unit_test(test_token_request_build_long_values),
		cmocka_unit_test(test_token_request_assertion_table),
		cmocka_unit_test(test_token_request_assertion_missing),
		cmocka_unit_test(test_token_request_build_federated_table),
		cmocka_unit_test(test_token_reply_parse_exchange_table),
		cmocka_unit_test(test_token_is_b64token_table),
		cmocka_unit_test(test_token_reply_parse_table),
		cmocka_unit_test(test_token_reply_parse_token_length_limit),
		cmocka_unit_test(test_token_reply_parse_redacts_secret),
		cmocka_unit_test(test_token_excerpt_table),
		cmocka_unit_test(test_token_excerpt_stays_in_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

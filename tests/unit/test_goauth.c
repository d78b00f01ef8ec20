/* The GOAUTH plugin's parsers, against `go help goauth` (Go 1.24): what go writes on stdin
 * after a 4xx (StatusLine {HeaderLine} BlankLine, as cmd/go/internal/auth's
 * writeResponseToStdin writes it), the WWW-Authenticate challenges that say a Bearer token
 * was refused, and the URL prefixes go keeps. Every malformed input must be refused with
 * exit 65 and a message that names what is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "rows.h"

struct response_case {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen(text) */
	int rc, status, invalid_token, refused;
	const char *message; /* a part of the error, for rc -1 */
};

#define OK(name, text, status, invalid, refused)                                                   \
	{                                                                                          \
		name, text, 0, 0, status, invalid, refused, NULL                                   \
	}
#define BAD(name, text, message)                                                                   \
	{                                                                                          \
		name, text, 0, -1, 0, 0, 0, message                                                \
	}
/* for a literal with a NUL byte in it: its length is the literal's */
#define BAD_BYTES(name, literal, message)                                                          \
	{                                                                                          \
		name, literal, sizeof(literal) - 1, -1, 0, 0, 0, message                           \
	}

#define NOT_STATUS "line 1 is not a status line"

static const struct response_case response_cases[] = {
	/* go help goauth's own example */
	OK("help example",
	   "HTTP/1.1 401 Unauthorized\nContent-Length: 19\nContent-Type: text/plain; "
	   "charset=utf-8\nDate: Thu, 07 Nov 2024 18:43:09 GMT\n\n",
	   401, 0, 1),
	OK("401 alone", "HTTP/1.1 401 Unauthorized\n\n", 401, 0, 1),
	OK("401 without a reason (net/http keeps none)", "HTTP/1.1 401\n\n", 401, 0, 1),
	OK("HTTP/2 with Go's empty text for an unknown code", "HTTP/2.0 499 \n\n", 499, 0, 0),
	OK("HTTP/1.0", "HTTP/1.0 401 Unauthorized\n\n", 401, 0, 1),
	OK("401 whatever its challenge",
	   "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Basic realm=x\n\n", 401, 0, 1),
	OK("401 with invalid_token",
	   "HTTP/1.1 401 Unauthorized\nWww-Authenticate: Bearer error=\"invalid_token\"\n\n", 401,
	   1, 1),
	OK("403 with invalid_token: refused",
	   "HTTP/1.1 403 Forbidden\nWww-Authenticate: Bearer realm=\"x\", error=\"invalid_token\", "
	   "error_description=\"revoked\"\n\n",
	   403, 1, 1),
	OK("403 with insufficient_scope: not refused",
	   "HTTP/1.1 403 Forbidden\nWww-Authenticate: Bearer error=\"insufficient_scope\"\n\n", 403,
	   0, 0),
	OK("403 without a challenge: not refused", "HTTP/1.1 403 Forbidden\n\n", 403, 0, 0),
	OK("403, header name in any case",
	   "HTTP/1.1 403 Forbidden\nwww-authenticate: bearer ERROR=invalid_token\n\n", 403, 1, 1),
	OK("403, invalid_token on another scheme: not refused",
	   "HTTP/1.1 403 Forbidden\nWww-Authenticate: DPoP error=\"invalid_token\"\n\n", 403, 0, 0),
	OK("403, go's join of two headers",
	   "HTTP/1.1 403 Forbidden\nWww-Authenticate: Basic realm=\"r\", Bearer "
	   "error=\"invalid_token\"\n\n",
	   403, 1, 1),
	OK("403, the challenge on a second header line",
	   "HTTP/1.1 403 Forbidden\nWww-Authenticate: Basic realm=\"r\"\nWww-Authenticate: Bearer "
	   "error=invalid_token\n\n",
	   403, 1, 1),
	OK("403, a malformed challenge shows nothing",
	   "HTTP/1.1 403 Forbidden\nWww-Authenticate: Bearer error=\"invalid_token\n\n", 403, 0, 0),
	OK("403, invalid_token in another header: not refused",
	   "HTTP/1.1 403 Forbidden\nX-Error: Bearer error=\"invalid_token\"\n\n", 403, 0, 0),
	OK("404", "HTTP/1.1 404 Not Found\nContent-Type: text/plain\n\n", 404, 0, 0),
	OK("410", "HTTP/1.1 410 Gone\n\n", 410, 0, 0),
	OK("a status go never calls for is no refusal", "HTTP/1.1 500 Internal Server Error\n\n",
	   500, 0, 0),
	OK("an empty header value (go writes \"Key: \")", "HTTP/1.1 404 Not Found\nX-Empty: \n\n",
	   404, 0, 0),
	OK("no space after the colon", "HTTP/1.1 404 Not Found\nX-A:b\n\n", 404, 0, 0),
	OK("tabs and obs-text in a value", "HTTP/1.1 404 Not Found\nX-A: a\tb \xc3\xa9\n\n", 404, 0,
	   0),
	OK("a reason with tabs and obs-text", "HTTP/1.1 404 Nicht \xc3\xa9\tda\n\n", 404, 0, 0),

	BAD("empty", "", "it is empty"),
	BAD("a blank line only", "\n", NOT_STATUS),
	BAD("no line end at all", "HTTP/1.1 401 Unauthorized", "no line end"),
	BAD("status line only", "HTTP/1.1 401 Unauthorized\n", "ends without the blank line"),
	BAD("a header without the blank line", "HTTP/1.1 401 Unauthorized\nA: b\n",
	    "ends without the blank line"),
	BAD("a last header without its LF", "HTTP/1.1 401 Unauthorized\nA: b", "no line end"),
	BAD("CRLF line ends", "HTTP/1.1 401 Unauthorized\r\n\r\n", "carriage return"),
	BAD("a CR in a value", "HTTP/1.1 401 Unauthorized\nA: b\rc\n\n", "carriage return"),
	BAD_BYTES("a NUL byte", "HTTP/1.1 401 Unauthorized\nA: b\0c\n\n", "NUL byte"),
	BAD_BYTES("a NUL byte in the blank line", "HTTP/1.1 401 Unauthorized\n\0\n", "NUL byte"),
	BAD("a body after the blank line", "HTTP/1.1 401 Unauthorized\n\nUnauthorized\n",
	    "more follows the blank line"),
	BAD("a second blank line", "HTTP/1.1 401 Unauthorized\n\n\n",
	    "more follows the blank line"),
	BAD("a header without a colon", "HTTP/1.1 401 Unauthorized\nContent-Length 19\n\n",
	    "line 2 is not a header line"),
	BAD("a header with an empty name", "HTTP/1.1 401 Unauthorized\n: b\n\n",
	    "line 2 is not a header line"),
	BAD("a space before the colon", "HTTP/1.1 401 Unauthorized\nA : b\n\n",
	    "line 2 is not a header line"),
	BAD("a name that is no token", "HTTP/1.1 401 Unauthorized\nA(b): c\n\n",
	    "line 2 is not a header line"),
	BAD("a control character in a value", "HTTP/1.1 401 Unauthorized\nA: b\x01\n\n",
	    "line 2 is not a header line"),
	BAD("DEL in a value", "HTTP/1.1 401 Unauthorized\nA: b\x7f\n\n",
	    "line 2 is not a header line"),
	BAD("a folded header line", "HTTP/1.1 401 Unauthorized\nA: b\n c\n\n",
	    "line 3 starts with white space"),
	BAD("a tab-folded header line", "HTTP/1.1 401 Unauthorized\nA: b\n\tc\n\n",
	    "line 3 starts with white space"),
	BAD("the line number of a later bad line", "HTTP/1.1 401 Unauthorized\nA: b\nC: d\nbad\n\n",
	    "line 4 is not a header line"),
	BAD("headers first", "Content-Length: 19\nHTTP/1.1 401 Unauthorized\n\n", NOT_STATUS),
	BAD("no protocol", "401 Unauthorized\n\n", NOT_STATUS),
	BAD("a protocol in lower case", "http/1.1 401 Unauthorized\n\n", NOT_STATUS),
	BAD("another protocol", "ICY/1.1 401 Unauthorized\n\n", NOT_STATUS),
	BAD("a protocol without its minor version", "HTTP/2 401 Unauthorized\n\n", NOT_STATUS),
	BAD("a two-digit major version", "HTTP/11.1 401 Unauthorized\n\n", NOT_STATUS),
	BAD("no space after the protocol", "HTTP/1.1401 Unauthorized\n\n", NOT_STATUS),
	BAD("two spaces after the protocol", "HTTP/1.1  401 Unauthorized\n\n", NOT_STATUS),
	BAD("a tab after the protocol", "HTTP/1.1\t401 Unauthorized\n\n", NOT_STATUS),
	BAD("a two-digit status", "HTTP/1.1 40 Unauthorized\n\n", NOT_STATUS),
	BAD("a two-digit status alone", "HTTP/1.1 40\n\n", NOT_STATUS),
	BAD("a four-digit status", "HTTP/1.1 4010 Unauthorized\n\n", NOT_STATUS),
	BAD("a status glued to its reason", "HTTP/1.1 401Unauthorized\n\n", NOT_STATUS),
	BAD("a status that is no number", "HTTP/1.1 4x1 Unauthorized\n\n", NOT_STATUS),
	BAD("a status below 100", "HTTP/1.1 099 Odd\n\n", NOT_STATUS),
	BAD("a status above 599", "HTTP/1.1 600 Odd\n\n", NOT_STATUS),
	BAD("a signed status", "HTTP/1.1 +01 Odd\n\n", NOT_STATUS),
	BAD("protocol only", "HTTP/1.1\n\n", NOT_STATUS),
	BAD("protocol and a space", "HTTP/1.1 \n\n", NOT_STATUS),
	BAD("a control character in the reason", "HTTP/1.1 401 Un\x01\n\n", NOT_STATUS),
	BAD("leading white space", " HTTP/1.1 401 Unauthorized\n\n", NOT_STATUS),
	BAD("a status line that is a header", "Status: 401\n\n", NOT_STATUS),
};

static void
test_parse_response(void **state)
{
	struct goauth_response resp;
	struct error err;
	size_t i;
	int failures = 0, rc;
	(void)state;

	for (i = 0; i < sizeof(response_cases) / sizeof(response_cases[0]); i++) {
		const struct response_case *c = &response_cases[i];
		/* the bytes, and no NUL after them: the parser must not read past len */
		size_t len = c->len ? c->len : strlen(c->text);
		char *copy = malloc(len ? len : 1);

		assert_non_null(copy);
		memcpy(copy, c->text, len);
		memset(&err, 0, sizeof(err));
		rc = goauth_parse_response(copy, len, &resp, &err);
		free(copy);
		failures += mismatch_int(c->name, "rc", rc, c->rc);
		if (c->rc == 0) {
			failures += mismatch_int(c->name, "status", resp.status, c->status);
			failures += mismatch_int(c->name, "invalid_token", resp.invalid_token,
						 c->invalid_token);
			failures += mismatch_int(c->name, "refused", resp.refused, c->refused);
			failures += mismatch_str(c->name, "message", err.message, "");
		} else {
			failures += mismatch_int(c->name, "code", err.code, KB_EXIT_DATA);
			failures += mismatch_contains(c->name, "message", err.message, c->message);
			failures += mismatch_contains(c->name, "message", err.message,
						      "go's response on stdin: ");
			failures += mismatch_contains(c->name, "message", err.message, " — run ");
		}
	}
	assert_int_equal(failures, 0);
}

/* Nothing from the input reaches a message: a header may hold a cookie. */
static void
test_message_quotes_nothing(void **state)
{
	static const char text[] = "HTTP/1.1 401 Unauthorized\nSet-Cookie: session=SECRETVALUE\n"
				   "bad SECRETVALUE\n\n";
	struct goauth_response resp;
	struct error err = { 0 };
	(void)state;

	assert_int_equal(goauth_parse_response(text, strlen(text), &resp, &err), -1);
	assert_null(strstr(err.message, "SECRETVALUE"));
	assert_non_null(strstr(err.message, "line 3"));
}

struct challenge_case {
	const char *value;
	int invalid_token;
};

static const struct challenge_case challenge_cases[] = {
	{ "Bearer error=\"invalid_token\"", 1 },
	{ "Bearer error=invalid_token", 1 },
	{ "Bearer realm=\"example\", error=\"invalid_token\", error_description=\"expired\"", 1 },
	{ "Bearer realm=\"example\",error=\"invalid_token\"", 1 },
	{ "Bearer    error = \"invalid_token\" ", 1 },
	{ "bearer Error=\"invalid_token\"", 1 },
	{ "BEARER ERROR=\"invalid_token\"", 1 },
	{ "Bearer error=\"inv\\alid_token\"", 1 }, /* a quoted-pair is the character itself */
	{ "Basic realm=\"r\", Bearer error=\"invalid_token\"", 1 },
	{ "Bearer, error=\"invalid_token\"", 1 }, /* a parameter after the scheme's comma */
	{ "Negotiate abc==, Bearer error=\"invalid_token\"", 1 },
	{ "Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic "
	  "realm=\"simple\", "
	  "Bearer error=invalid_token",
	  1 },
	{ ", , Bearer error=invalid_token, ,", 1 },
	{ "Bearer error=\"invalid_token\", Bearer error=\"insufficient_scope\"", 1 },
	/* not an invalid_token of a Bearer challenge */
	{ "", 0 },
	{ "Bearer", 0 },
	{ "Bearer realm=\"example\"", 0 },
	{ "Bearer error=\"insufficient_scope\"", 0 },
	{ "Bearer error=\"invalid_request\"", 0 },
	{ "Bearer error=\"INVALID_TOKEN\"", 0 }, /* RFC 6750's codes are case-sensitive */
	{ "Bearer error=\"invalid_token \"", 0 },
	{ "Bearer error=\"invalid_tokens\"", 0 },
	{ "Bearer error=\"invalid_toke\"", 0 },
	{ "Bearer error=invalid_tokenx", 0 },
	{ "Bearer error_description=\"invalid_token\"", 0 },
	{ "Bearer xerror=\"invalid_token\"", 0 },
	{ "Basic error=\"invalid_token\"", 0 },
	{ "DPoP error=\"invalid_token\"", 0 },
	{ "Bearerx error=\"invalid_token\"", 0 },
	{ "Basic realm=\"r\", error=\"invalid_token\"", 0 }, /* Basic's parameter */
	{ "Bearer realm=\"r\", Basic error=\"invalid_token\"", 0 },
	{ "error=\"invalid_token\"", 0 }, /* a parameter with no scheme */
	{ "\"Bearer error=invalid_token\"", 0 },
	/* malformed as a whole: shows nothing, wherever invalid_token is */
	{ "Bearer error=\"invalid_token", 0 },
	{ "Bearer error=\"invalid_token\" junk", 0 },
	{ "Bearer error=\"invalid_token\", @@@", 0 },
	{ "@@@, Bearer error=\"invalid_token\"", 0 },
	{ "Bearer error=", 0 },
	{ "Bearer error=\"invalid_token\\", 0 },
	{ "Bearer error=\"inv\x01lid_token\"", 0 },
	{ "Bearer\terror=\"invalid_token\"", 0 },
	{ "Bearer error=\"invalid_token\";", 0 },
	{ "Bearer abc def", 0 },
};

static void
test_challenges(void **state)
{
	size_t i;
	int failures = 0;
	(void)state;

	for (i = 0; i < sizeof(challenge_cases) / sizeof(challenge_cases[0]); i++)
		failures += mismatch_int(
			challenge_cases[i].value, "invalid_token",
			goauth_challenge_invalid_token(challenge_cases[i].value,
						       strlen(challenge_cases[i].value)),
			challenge_cases[i].invalid_token);
	/* a NUL byte is no token68 character (strchr would find the string's end) */
	failures += mismatch_int(
		"NUL as a token68", "invalid_token",
		goauth_challenge_invalid_token("Bearer \0, Bearer error=invalid_token", 36), 0);
	failures += mismatch_int(
		"token68, then a Bearer", "invalid_token",
		goauth_challenge_invalid_token("Bearer a, Bearer error=invalid_token", 36), 1);
	/* len bounds it: what follows is not read */
	failures +=
		mismatch_int("cut before the code", "invalid_token",
			     goauth_challenge_invalid_token("Bearer error=invalid_token", 20), 0);
	assert_int_equal(failures, 0);
}

struct prefix_case {
	const char *entry;
	int rc;
	const char *prefix;
};

static const struct prefix_case prefix_cases[] = {
	{ "https://example.com/", 0, "https://example.com/" },
	{ "https://example.com", 0, "https://example.com" },
	{ "https://example.com/api/", 0, "https://example.com/api/" },
	{ "https://example.com/api", 0, "https://example.com/api" },
	/* go matches the host as written: as url.c reads it, in lower case, no :443 */
	{ "HTTPS://Example.COM/Api/", 0, "https://example.com/Api/" },
	{ "https://example.com:443/x", 0, "https://example.com/x" },
	{ "https://example.com:8443/x", 0, "https://example.com:8443/x" },
	{ "https://127.0.0.1:9000/git/", 0, "https://127.0.0.1:9000/git/" },
	{ "https://[2001:DB8::1]:8443/", 0, "https://[2001:db8::1]:8443/" },
	{ "https://[::1]/", 0, "https://[::1]/" },
	/* not for go */
	{ "http://127.0.0.1:8080/api/", 1, NULL },
	{ "http://localhost/", 1, NULL },
	{ "https://example.com/api?x=1", 1, NULL },
	{ "https://example.com/?", 1, NULL },
	{ "https://user@example.com/", 1, NULL },
	{ "ftp://example.com/", 1, NULL },
	{ "example.com/", 1, NULL },
	{ "", 1, NULL },
};

static void
test_url_prefixes(void **state)
{
	char out[512];
	size_t i;
	int failures = 0, rc;
	(void)state;

	for (i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
		out[0] = '\0';
		rc = goauth_url_prefix(prefix_cases[i].entry, out, sizeof(out));
		failures += mismatch_int(prefix_cases[i].entry, "rc", rc, prefix_cases[i].rc);
		if (prefix_cases[i].rc == 0)
			failures += mismatch_str(prefix_cases[i].entry, "prefix", out,
						 prefix_cases[i].prefix);
	}
	/* never cut to fit: one byte short is a refusal */
	failures += mismatch_int("no room", "rc",
				 goauth_url_prefix("https://example.com/api", out, 23), -1);
	failures += mismatch_int("just room", "rc",
				 goauth_url_prefix("https://example.com/api", out, 24), 0);
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_response),
		cmocka_unit_test(test_message_quotes_nothing),
		cmocka_unit_test(test_challenges),
		cmocka_unit_test(test_url_prefixes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

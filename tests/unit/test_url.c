/* url.c decides where a secret or a token may travel: every accepted URL here is a place
 * keybearer will send credentials to, so the rejections matter as much as the parses. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "rows.h"

struct parse_case {
	const char *text;
	int rc;
	const char *scheme, *host;
	int port;
	const char *path;
};

/* Hosts at the limit: 255 bytes fit, 256 do not (and are told apart from a malformed URL). */
#define A16  "aaaaaaaaaaaaaaaa"
#define A64  A16 A16 A16 A16
#define A255 A64 A64 A64 A16 A16 A16 "aaaaaaaaaaaaaaa"
#define V16  "aaa:aaa:aaa:aaa:"
#define V64  V16 V16 V16 V16
#define V255 V64 V64 V64 V16 V16 V16 "aaa:aaa:aaa:aaa" /* with colons: an IPv6 host */

static const struct parse_case parse_cases[] = {
	{ "https://example.com/token", 0, "https", "example.com", 443, "/token" },
	{ "https://example.com", 0, "https", "example.com", 443, "" },
	{ "https://example.com/p?q=1", 0, "https", "example.com", 443, "/p?q=1" },
	{ "http://127.0.0.1:8080/t", 0, "http", "127.0.0.1", 8080, "/t" },
	{ "http://localhost/", 0, "http", "localhost", 80, "/" },
	/* Scheme and host are case-insensitive; the path is not. */
	{ "HTTPS://Login.Example.COM/Path", 0, "https", "login.example.com", 443, "/Path" },
	{ "HtTp://LOCALHOST:81/", 0, "http", "localhost", 81, "/" },
	{ "https://[::1]:8443/t", 0, "https", "::1", 8443, "/t" },
	{ "https://[2001:DB8::A]/", 0, "https", "2001:db8::a", 443, "/" },
	{ "https://[::ffff:127.0.0.1]/", 0, "https", "::ffff:127.0.0.1", 443, "/" },
	{ "https://h:1/", 0, "https", "h", 1, "/" },
	{ "https://h:65535/", 0, "https", "h", 65535, "/" },
	{ "https://h:00080/", 0, "https", "h", 80, "/" },
	{ "https://my_host-1.example/", 0, "https", "my_host-1.example", 443, "/" },
	/* Port range. */
	{ "https://h:0/", -1, NULL, NULL, 0, NULL },
	{ "https://h:65536/", -1, NULL, NULL, 0, NULL },
	{ "https://h:123456/", -1, NULL, NULL, 0, NULL },
	{ "https://h:/", -1, NULL, NULL, 0, NULL },
	{ "https://h:-1/", -1, NULL, NULL, 0, NULL },
	{ "https://h:8a/", -1, NULL, NULL, 0, NULL },
	{ "https://h:80:80/", -1, NULL, NULL, 0, NULL },
	/* Only absolute http(s). */
	{ "", -1, NULL, NULL, 0, NULL },
	{ "ftp://example.com/", -1, NULL, NULL, 0, NULL },
	{ "https:/example.com/", -1, NULL, NULL, 0, NULL },
	{ "//example.com/", -1, NULL, NULL, 0, NULL },
	{ "example.com/token", -1, NULL, NULL, 0, NULL },
	{ "https://", -1, NULL, NULL, 0, NULL },
	{ "https:///token", -1, NULL, NULL, 0, NULL },
	/* Whitespace and control characters anywhere. */
	{ " https://h/", -1, NULL, NULL, 0, NULL },
	{ "https://h x/", -1, NULL, NULL, 0, NULL },
	{ "https://h/a b", -1, NULL, NULL, 0, NULL },
	{ "https://h/\t", -1, NULL, NULL, 0, NULL },
	{ "https://h/\r\n", -1, NULL, NULL, 0, NULL },
	{ "https://h/\x7f", -1, NULL, NULL, 0, NULL },
	/* Fragments and user info never belong in an endpoint. */
	{ "https://h/x#frag", -1, NULL, NULL, 0, NULL },
	{ "https://h#", -1, NULL, NULL, 0, NULL },
	{ "https://h/?a=b#c", -1, NULL, NULL, 0, NULL },
	{ "https://user:pass@h/", -1, NULL, NULL, 0, NULL },
	{ "https://user@h/", -1, NULL, NULL, 0, NULL },
	{ "https://@h/", -1, NULL, NULL, 0, NULL },
	/* Host syntax. */
	{ "https://a..b/", -1, NULL, NULL, 0, NULL },
	{ "https://../", -1, NULL, NULL, 0, NULL },
	{ "https://h%41/", -1, NULL, NULL, 0, NULL },
	{ "https://[::1/", -1, NULL, NULL, 0, NULL },
	{ "https://[]/", -1, NULL, NULL, 0, NULL },
	{ "https://[::1]x/", -1, NULL, NULL, 0, NULL },
	{ "https://[g::1]/", -1, NULL, NULL, 0, NULL },
	{ "https://[::1]:0/", -1, NULL, NULL, 0, NULL },
	/* Host length. */
	{ "https://" A255 "/x", 0, "https", A255, 443, "/x" },
	{ "https://" A255 ":8443/x", 0, "https", A255, 8443, "/x" },
	{ "https://[" A255 "]/x", 0, "https", A255, 443, "/x" },
	{ "https://" A255 "a/x", URL_HOST_TOO_LONG, NULL, NULL, 0, NULL },
	{ "https://" A255 "a:8443/x", URL_HOST_TOO_LONG, NULL, NULL, 0, NULL },
	{ "https://[" A255 "a]/x", URL_HOST_TOO_LONG, NULL, NULL, 0, NULL },
	{ "http://" A255 "a", URL_HOST_TOO_LONG, NULL, NULL, 0, NULL },
	/* what is wrong before the host is found says so first */
	{ "https://u@" A255 "a/x", -1, NULL, NULL, 0, NULL },
	{ "ftp://" A255 "a/x", -1, NULL, NULL, 0, NULL },
};

static void
test_url_parse_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
		const struct parse_case *c = &parse_cases[i];
		struct url url;
		int rc = url_parse(c->text, &url);

		failures += mismatch_int(c->text, "rc", rc, c->rc);
		if (rc != 0 || c->rc != 0)
			continue;
		failures += mismatch_str(c->text, "scheme", url.scheme, c->scheme);
		failures += mismatch_str(c->text, "host", url.host, c->host);
		failures += mismatch_int(c->text, "port", url.port, c->port);
		failures += mismatch_str(c->text, "path", url.path, c->path);
	}
	assert_int_equal(failures, 0);
}

/* path points into the caller's string, so callers must keep it alive: pin that down. */
static void
test_url_parse_path_points_into_text(void **state)
{
	static const char text[] = "https://h:8443/connect/token";
	struct url url;

	(void)state;
	assert_int_equal(url_parse(text, &url), 0);
	assert_ptr_equal(url.path, text + strlen("https://h:8443"));
}

static void
test_url_parse_host_length_limit(void **state)
{
	char text[URL_HOST_MAX + 32], label[URL_HOST_MAX + 1];
	struct url url;

	(void)state;
	memset(label, 'a', URL_HOST_MAX - 1);
	label[URL_HOST_MAX - 1] = '\0';
	snprintf(text, sizeof(text), "https://%s/", label);
	assert_int_equal(url_parse(text, &url), 0);
	assert_int_equal(strlen(url.host), URL_HOST_MAX - 1);

	memset(label, 'a', URL_HOST_MAX);
	label[URL_HOST_MAX] = '\0';
	snprintf(text, sizeof(text), "https://%s/", label);
	assert_int_equal(url_parse(text, &url), URL_HOST_TOO_LONG);
}

struct loopback_case {
	const char *host;
	int loopback;
};

static const struct loopback_case loopback_cases[] = {
	{ "127.0.0.1", 1 },
	{ "127.255.255.254", 1 },
	{ "127.0.0.0", 1 },
	{ "127.1.2.3", 1 },
	{ "localhost", 1 },
	{ "::1", 1 },
	{ "0:0:0:0:0:0:0:1", 1 },
	{ "128.0.0.1", 0 },
	{ "126.255.255.255", 0 },
	{ "127.0.0", 0 },
	{ "127.0.0.1.5", 0 },
	{ "127.0.0.256", 0 },
	{ "127.0.0.1a", 0 },
	{ "127..0.1", 0 },
	{ "+127.0.0.1", 0 },
	{ "127.-1.0.1", 0 },
	/* inet_aton reads a leading 0 as octal (0127 is 87): such forms are not ours to guess. */
	{ "0127.0.0.1", 0 },
	{ "0177.0.0.1", 0 },
	{ "1127.0.0.1", 0 },
	{ "::2", 0 },
	{ "::ffff:127.0.0.1", 0 },
	{ "example.com", 0 },
	{ "localhost.example.com", 0 },
	{ "localhost.", 0 },
	{ "127.0.0.1.nip.io", 0 },
	{ "", 0 },
};

static void
test_url_host_is_loopback_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(loopback_cases) / sizeof(loopback_cases[0]); i++)
		failures += mismatch_int(loopback_cases[i].host, "url_host_is_loopback",
					 url_host_is_loopback(loopback_cases[i].host) != 0,
					 loopback_cases[i].loopback);
	assert_int_equal(failures, 0);
}

struct origin_case {
	const char *text;
	int rc;
	const char *origin;
};

static const struct origin_case origin_cases[] = {
	{ "https://h:8443/connect/token", 0, "https://h:8443/" },
	{ "https://Login.Example.com/oauth2/v2.0/token?x=1", 0, "https://login.example.com/" },
	{ "https://h:443/t", 0, "https://h/" },
	{ "https://h", 0, "https://h/" },
	{ "http://127.0.0.1:80/t", 0, "http://127.0.0.1/" },
	{ "http://127.0.0.1:443/t", 0, "http://127.0.0.1:443/" },
	{ "https://h:80/t", 0, "https://h:80/" },
	{ "http://[::1]:8080/t", 0, "http://[::1]:8080/" },
	{ "https://[::1]/t", 0, "https://[::1]/" },
	{ "https://user@h/", -1, NULL },
	{ "not a url", -1, NULL },
	/* the longest origins fit the URL_HOST_MAX + 32 bytes callers give */
	{ "https://" A255 ":65535/x", 0, "https://" A255 ":65535/" },
	{ "https://[" V255 "]:65535/x", 0, "https://[" V255 "]:65535/" },
	{ "https://" A255 "a/x", -1, NULL },
};

static void
test_url_origin_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(origin_cases) / sizeof(origin_cases[0]); i++) {
		const struct origin_case *c = &origin_cases[i];
		char out[URL_HOST_MAX + 32] = "";
		int rc = url_origin(c->text, out, sizeof(out));

		failures += mismatch_int(c->text, "rc", rc, c->rc);
		if (rc == 0 && c->rc == 0)
			failures += mismatch_str(c->text, "origin", out, c->origin);
	}
	assert_int_equal(failures, 0);
}

/* A truncated origin would widen or shift the allowed prefix: it must fail instead. */
static void
test_url_origin_buffer_too_small(void **state)
{
	char out[16];

	(void)state;
	/* "https://h:8443/" is 15 characters: it needs 16 bytes. */
	assert_int_equal(url_origin("https://h:8443/x", out, 16), 0);
	assert_string_equal(out, "https://h:8443/");
	assert_int_equal(url_origin("https://h:8443/x", out, 15), -1);
}

struct endpoint_case {
	const char *text;
	enum exit_code code;
	const char *message; /* substring, or NULL when accepted */
};

static const struct endpoint_case endpoint_cases[] = {
	{ "https://login.example.com/token", KB_EXIT_OK, NULL },
	{ "http://127.0.0.1:8080/token", KB_EXIT_OK, NULL },
	{ "http://127.9.9.9/token", KB_EXIT_OK, NULL },
	{ "http://[::1]:8080/token", KB_EXIT_OK, NULL },
	{ "http://localhost/token", KB_EXIT_OK, NULL },
	{ "http://LOCALHOST/token", KB_EXIT_OK, NULL },
	{ "http://login.example.com/token", KB_EXIT_CONFIG,
	  "token_url in /etc/kb:3 uses plain http to login.example.com: secrets and tokens "
	  "would travel unencrypted" },
	{ "http://128.0.0.1/token", KB_EXIT_CONFIG, "uses plain http to 128.0.0.1" },
	{ "http://[::2]/token", KB_EXIT_CONFIG, "uses plain http to ::2" },
	{ "http://localhost.example.com/", KB_EXIT_CONFIG,
	  "uses plain http to localhost.example.com" },
	{ "https://user:pass@h/token", KB_EXIT_CONFIG,
	  "token_url in /etc/kb:3 is not a usable URL: \"https://user:pass@h/token\"" },
	{ "ftp://h/token", KB_EXIT_CONFIG, "is not a usable URL" },
};

static void
test_url_check_endpoint_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(endpoint_cases) / sizeof(endpoint_cases[0]); i++) {
		const struct endpoint_case *c = &endpoint_cases[i];
		struct error err = { 0 };
		int rc = url_check_endpoint(c->text, "token_url in /etc/kb:3", &err);

		failures += mismatch_int(c->text, "rc", rc, c->code == KB_EXIT_OK ? 0 : -1);
		failures += mismatch_int(c->text, "exit code", err.code, c->code);
		if (c->message != NULL)
			failures += mismatch_contains(c->text, "message", err.message, c->message);
	}
	assert_int_equal(failures, 0);
}

/* A refusal is said in words: the words agree with url_parse on every row of its table,
 * and each reason is the one that applies. */
static const struct {
	const char *text, *why, *advice;
} refusal_cases[] = {
	{ "https://h/a b", "it has a space or a control character in it", "percent-encode it" },
	{ "ftp://h/", "it is not an http:// or https:// URL", "give an https:// URL" },
	{ "h/x", "it is not an http:// or https:// URL", "give an https:// URL" },
	{ "https://u:p@h/", "it has a user name or password (@) before its host",
	  "leave them out of the URL" },
	{ "https://h/x#f", "it has a fragment (#)", "leave out the #fragment" },
	{ "https://a..b/", "its host is not a host name, IPv4 or [IPv6] address", "check the URL" },
	{ "https://[::1/", "its host is not a host name, IPv4 or [IPv6] address", "check the URL" },
	{ "https://" A255 "a/", "its host is longer than 255 bytes", "check the URL" },
	{ "https://h:0/", "its port is not a number from 1 to 65535", "check the URL" },
	{ "https://h/a/../b",
	  "its path has a dot segment (. or ..) or an encoded dot, slash or backslash, which "
	  "servers and tools resolve differently",
	  "write the path without them" },
	{ "https://h/a%2Fb",
	  "its path has a dot segment (. or ..) or an encoded dot, slash or backslash, which "
	  "servers and tools resolve differently",
	  "write the path without them" },
	{ "https://h/a", NULL, NULL },
};

static void
test_url_refusal_table(void **state)
{
	const char *advice;
	struct url u;
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]); i++) {
		const char *why = url_refusal(refusal_cases[i].text, &advice);
		failures += mismatch_str(refusal_cases[i].text, "why", why, refusal_cases[i].why);
		failures += mismatch_str(refusal_cases[i].text, "advice", advice,
					 refusal_cases[i].advice);
	}
	for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++)
		failures += mismatch_int(parse_cases[i].text, "refused in words",
					 url_refusal(parse_cases[i].text, &advice) != NULL,
					 url_parse(parse_cases[i].text, &u) != 0);
	assert_int_equal(failures, 0);
}

/* A word without "://" is the http:// URL curl would fetch; any other is as given. */
static void
test_url_with_default_scheme(void **state)
{
	char *url;
	int added;

	(void)state;
	url = url_with_default_scheme("127.0.0.1:8080/x", &added);
	assert_string_equal(url, "http://127.0.0.1:8080/x");
	assert_int_equal(added, 1);
	free(url);
	url = url_with_default_scheme("HTTPS://h/", &added);
	assert_string_equal(url, "HTTPS://h/");
	assert_int_equal(added, 0);
	free(url);
	url = url_with_default_scheme("ftp://h/", &added);
	assert_string_equal(url, "ftp://h/");
	assert_int_equal(added, 0);
	free(url);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse_table),
		cmocka_unit_test(test_url_parse_path_points_into_text),
		cmocka_unit_test(test_url_parse_host_length_limit),
		cmocka_unit_test(test_url_host_is_loopback_table),
		cmocka_unit_test(test_url_origin_table),
		cmocka_unit_test(test_url_origin_buffer_too_small),
		cmocka_unit_test(test_url_check_endpoint_table),
		cmocka_unit_test(test_url_refusal_table),
		cmocka_unit_test(test_url_with_default_scheme),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The shapes a token leaves in are read by other programs (curl -K, wget --config, Bazel,
 * scripts): a byte out of place breaks them, so every format is compared whole. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "output.h"
#include "rows.h"

#define TOKEN "abc.DEF-_~+/="
#define NOW   1700000000LL

struct render_case {
	const char *name;
	enum output_format format;
	const char *token;
	long long expires_at;
	const char *expected; /* NULL: the token must be refused */
};

static const struct render_case render_cases[] = {
	{ "header", OUTPUT_HEADER, TOKEN, NOW + 3600, "Authorization: Bearer " TOKEN "\n" },
	{ "token", OUTPUT_TOKEN, TOKEN, NOW + 3600, TOKEN "\n" },
	{ "curl", OUTPUT_CURL, TOKEN, NOW + 3600,
	  "header = \"Authorization: Bearer " TOKEN "\"\n" },
	{ "wget", OUTPUT_WGET, TOKEN, NOW + 3600, "header = Authorization: Bearer " TOKEN "\n" },
	/* '/' stays unescaped: a consumer comparing tokens byte for byte must see the same. */
	{ "json", OUTPUT_JSON, TOKEN, NOW + 3600,
	  "{\"access_token\":\"" TOKEN "\",\"token_type\":\"Bearer\",\"expires_at\":1700003600,"
	  "\"expires_in\":3600}\n" },
	{ "json expired", OUTPUT_JSON, TOKEN, NOW - 5,
	  "{\"access_token\":\"" TOKEN "\",\"token_type\":\"Bearer\",\"expires_at\":1699999995,"
	  "\"expires_in\":0}\n" },
	{ "json expiring now", OUTPUT_JSON, "t", NOW,
	  "{\"access_token\":\"t\",\"token_type\":\"Bearer\",\"expires_at\":1700000000,"
	  "\"expires_in\":0}\n" },
};

static void
test_output_render_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
		const struct render_case *c = &render_cases[i];
		char *text = output_render(c->format, c->token, c->expires_at, (time_t)NOW);

		failures += mismatch_str(c->name, "output", text, c->expected);
		free(text);
	}
	assert_int_equal(failures, 0);
}

/* A consumer parses the JSON: check it reads back with the right types, not just bytes. */
static void
test_output_render_json_parses_back(void **state)
{
	char *text = output_render(OUTPUT_JSON, TOKEN, NOW + 42, (time_t)NOW);
	struct json_object *obj, *member;

	(void)state;
	assert_non_null(text);
	obj = json_tokener_parse(text);
	assert_non_null(obj);
	assert_true(json_object_is_type(obj, json_type_object));
	assert_int_equal(json_object_object_length(obj), 4);

	assert_true(json_object_object_get_ex(obj, "access_token", &member));
	assert_true(json_object_is_type(member, json_type_string));
	assert_string_equal(json_object_get_string(member), TOKEN);
	assert_true(json_object_object_get_ex(obj, "token_type", &member));
	assert_string_equal(json_object_get_string(member), "Bearer");
	assert_true(json_object_object_get_ex(obj, "expires_at", &member));
	assert_true(json_object_is_type(member, json_type_int));
	assert_int_equal(json_object_get_int64(member), NOW + 42);
	assert_true(json_object_object_get_ex(obj, "expires_in", &member));
	assert_true(json_object_is_type(member, json_type_int));
	assert_int_equal(json_object_get_int64(member), 42);

	json_object_put(obj);
	free(text);
}

/* A token that could split a header or a config line must never be written out. */
static void
test_output_render_refuses_non_b64token(void **state)
{
	static const char *const bad_tokens[] = {
		"", "a b", "a\nb", "a\r\nX-Evil: 1", "a\"b", "a\\b", "=abc", "ab=c", "caf\xc3\xa9",
	};
	static const enum output_format formats[] = {
		OUTPUT_HEADER, OUTPUT_TOKEN, OUTPUT_CURL, OUTPUT_WGET, OUTPUT_JSON,
	};
	size_t i, j;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++) {
		for (j = 0; j < sizeof(formats) / sizeof(formats[0]); j++) {
			char *text =
				output_render(formats[j], bad_tokens[i], NOW + 60, (time_t)NOW);
			if (text != NULL) {
				print_error("format %d rendered bad token \"%s\" as \"%s\"\n",
					    (int)formats[j], bad_tokens[i], text);
				failures++;
			}
			free(text);
		}
	}
	assert_int_equal(failures, 0);
}

struct quote_case {
	const char *value, *quoted;
};

static const struct quote_case quote_cases[] = {
	{ "plain", "\"plain\"" },   { "", "\"\"" },
	{ "a\"b", "\"a\\\"b\"" },   { "a\\b", "\"a\\\\b\"" },
	{ "\\\"", "\"\\\\\\\"\"" }, { "\"\"", "\"\\\"\\\"\"" },
	{ "it's", "\"it's\"" },
};

static void
test_output_curl_quote_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
		char *quoted = output_curl_quote(quote_cases[i].value);

		failures +=
			mismatch_str(quote_cases[i].value, "quoted", quoted, quote_cases[i].quoted);
		free(quoted);
	}
	assert_int_equal(failures, 0);
}

struct format_case {
	const char *name;
	int rc;
	enum output_format format;
};

static const struct format_case format_cases[] = {
	{ "header", 0, OUTPUT_HEADER }, { "token", 0, OUTPUT_TOKEN },
	{ "curl", 0, OUTPUT_CURL },	{ "wget", 0, OUTPUT_WGET },
	{ "json", 0, OUTPUT_JSON },	{ "JSON", -1, OUTPUT_HEADER },
	{ "", -1, OUTPUT_HEADER },	{ "headers", -1, OUTPUT_HEADER },
	{ "head", -1, OUTPUT_HEADER },	{ "bearer", -1, OUTPUT_HEADER },
	{ " json", -1, OUTPUT_HEADER },
};

static void
test_output_format_parse_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
		const struct format_case *c = &format_cases[i];
		/* A sentinel outside the enum shows whether a failed parse wrote anything. */
		enum output_format got = (enum output_format)99;
		int rc = output_format_parse(c->name, &got);

		failures += mismatch_int(c->name, "rc", rc, c->rc);
		failures += mismatch_int(c->name, "format", got, c->rc == 0 ? c->format : 99);
	}
	assert_int_equal(failures, 0);
}

struct rfc3339_case {
	long long when;
	const char *text;
};

static const struct rfc3339_case rfc3339_cases[] = {
	{ 0, "1970-01-01T00:00:00Z" },	       { 1700000000, "2023-11-14T22:13:20Z" },
	{ 951782400, "2000-02-29T00:00:00Z" }, { 4102444799LL, "2099-12-31T23:59:59Z" },
	{ -1, "1969-12-31T23:59:59Z" },
};

static void
test_output_rfc3339_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(rfc3339_cases) / sizeof(rfc3339_cases[0]); i++) {
		char out[64] = "";
		char row[32];

		snprintf(row, sizeof(row), "%lld", rfc3339_cases[i].when);
		output_rfc3339(rfc3339_cases[i].when, out, sizeof(out));
		failures += mismatch_str(row, "rfc3339", out, rfc3339_cases[i].text);
	}
	assert_int_equal(failures, 0);
}

struct duration_case {
	long long seconds;
	const char *text;
};

static const struct duration_case duration_cases[] = {
	{ 0, "0 s" },	  { 1, "1 s" },		  { 42, "42 s" },	   { 59, "59 s" },
	{ 60, "1 min" },  { 61, "1 min 1 s" },	  { 3599, "59 min 59 s" }, { 3600, "1 h" },
	{ 3659, "1 h" },  { 3660, "1 h 1 min" },  { 3723, "1 h 2 min" },   { 86399, "23 h 59 min" },
	{ 86400, "1 d" }, { 90061, "1 d 1 h" },	  { 183600, "2 d 3 h" },   { 31536000, "365 d" },
	{ -42, "42 s" },  { -3723, "1 h 2 min" }, { -90061, "1 d 1 h" },
};

static void
test_output_duration_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(duration_cases) / sizeof(duration_cases[0]); i++) {
		char out[64] = "";
		char row[32];

		snprintf(row, sizeof(row), "%lld", duration_cases[i].seconds);
		output_duration(duration_cases[i].seconds, out, sizeof(out));
		failures += mismatch_str(row, "duration", out, duration_cases[i].text);
	}
	assert_int_equal(failures, 0);
}

static void
test_output_write_all_writes_everything(void **state)
{
	static const char text[] = "Authorization: Bearer " TOKEN "\n";
	char back[sizeof(text)] = "";
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(output_write_all(fds[1], text, strlen(text)), 0);
	close(fds[1]);
	assert_int_equal(read(fds[0], back, sizeof(back)), (ssize_t)strlen(text));
	close(fds[0]);
	assert_string_equal(back, text);
}

static void
test_output_write_all_reports_failure(void **state)
{
	struct error err = { 0 };
	int fds[2], saved;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	close(fds[1]);
	/* Writing to a descriptor opened only for reading fails with EBADF, without SIGPIPE. */
	assert_int_equal(output_write_all(fds[0], "x", 1), -1);
	assert_int_equal(errno, EBADF);
	saved = dup(STDOUT_FILENO);
	assert_int_equal(dup2(fds[0], STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(output_answer("x", &err), -1);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	close(fds[0]);
	assert_int_equal(err.code, KB_EXIT_IO);
	assert_non_null(strstr(err.message, "cannot write the answer: Bad file descriptor"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_render_table),
		cmocka_unit_test(test_output_render_json_parses_back),
		cmocka_unit_test(test_output_render_refuses_non_b64token),
		cmocka_unit_test(test_output_curl_quote_table),
		cmocka_unit_test(test_output_format_parse_table),
		cmocka_unit_test(test_output_rfc3339_table),
		cmocka_unit_test(test_output_duration_table),
		cmocka_unit_test(test_output_write_all_writes_everything),
		cmocka_unit_test(test_output_write_all_reports_failure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

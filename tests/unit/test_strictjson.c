/* strictjson.c reads every JSON a host tool or a server sends: a string member must come
 * out whole or not at all. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "strictjson.h"
#include "rows.h"

struct string_case {
	const char *json;
	const char *want; /* the member "s", or NULL */
};

static const struct string_case string_cases[] = {
	{ "{\"s\":\"https://h/x\"}", "https://h/x" },
	{ "{\"s\":\"\"}", "" },
	{ "{\"s\":\"a\\u00e9b\"}", "a\xc3\xa9"
				   "b" },
	/* a NUL byte would end the C string early: the value is refused, not cut */
	{ "{\"s\":\"https://h/\\u0000/../x\"}", NULL },
	{ "{\"s\":\"\\u0000\"}", NULL },
	{ "{\"s\":42}", NULL },
	{ "{\"s\":null}", NULL },
	{ "{\"s\":[\"x\"]}", NULL },
	{ "{\"t\":\"x\"}", NULL },
};

static void
test_strictjson_get_string_table(void **state)
{
	size_t i;
	int failures = 0;

	(void)state;
	for (i = 0; i < sizeof(string_cases) / sizeof(string_cases[0]); i++) {
		const struct string_case *c = &string_cases[i];
		struct json_object *obj = strictjson_parse(c->json, strlen(c->json));
		const char *got;

		if (obj == NULL) {
			failures += mismatch_str(c->json, "parse", "NULL", "an object");
			continue;
		}
		got = strictjson_get_string(obj, "s");
		failures += mismatch_str(c->json, "value", got, c->want);
		json_object_put(obj);
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strictjson_get_string_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

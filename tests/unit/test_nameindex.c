/* The name index config finds profiles and sections by: every name added is found at its
 * position, through growth and collisions; a name never added is not. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "nameindex.h"

#define NAMES 10000

static char names[NAMES][16];

static const char *
name_at(const void *array, size_t position)
{
	return ((const char(*)[16])array)[position];
}

static void
test_every_name_found_at_its_position(void **state)
{
	struct name_index ix = { 0 };
	size_t i;

	(void)state;
	for (i = 0; i < NAMES; i++) {
		snprintf(names[i], sizeof(names[i]), "p%zu", i);
		assert_int_equal(name_index_add(&ix, names[i], i), 0);
	}
	assert_int_equal(ix.count, NAMES);
	assert_true(ix.capacity >= 2 * NAMES); /* at most half full */
	for (i = 0; i < NAMES; i++)
		assert_int_equal(name_index_find(&ix, names[i], name_at, names), i);
	assert_int_equal(name_index_find(&ix, "p10000", name_at, names), NAME_INDEX_NONE);
	assert_int_equal(name_index_find(&ix, "", name_at, names), NAME_INDEX_NONE);
	assert_int_equal(name_index_find(&ix, "P1", name_at, names), NAME_INDEX_NONE);
	name_index_free(&ix);
	assert_null(ix.slots);
	assert_int_equal(ix.count, 0);
}

static void
test_empty_index_finds_nothing(void **state)
{
	struct name_index ix = { 0 };

	(void)state;
	assert_int_equal(name_index_find(&ix, "aspose", name_at, names), NAME_INDEX_NONE);
	name_index_free(&ix);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_name_found_at_its_position),
		cmocka_unit_test(test_empty_index_finds_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

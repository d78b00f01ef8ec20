/* The name index config finds profiles and sections by: every name added is found at its
 * position, through growth and collisions; a name never added is not. The name set keeps
 * names once each, in one block, at the positions they were added in. */
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
	/* at most three quarters full, and not more than twice the slots that needs */
	assert_true(ix.capacity * 3 >= NAMES * 4);
	assert_true(ix.capacity <= NAMES * 8 / 3);
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

static void
test_name_set_keeps_each_name_once(void **state)
{
	struct name_set set = { 0 };
	char name[16];
	size_t i;
	int added;

	(void)state;
	for (i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "v%zu", i);
		assert_int_equal(name_set_add(&set, name, &added), i);
		assert_int_equal(added, 1);
	}
	assert_int_equal(name_set_add(&set, "v17", &added), 17); /* again: the same place */
	assert_int_equal(added, 0);
	assert_int_equal(set.count, NAMES);
	/* one block of text, the names and their NULs: "v0".."v9999" */
	assert_int_equal(set.text_len, 10 * 3 + 90 * 4 + 900 * 5 + 9000 * 6);
	for (i = 0; i < NAMES; i++) {
		snprintf(name, sizeof(name), "v%zu", i);
		assert_string_equal(name_set_at(&set, i), name);
		assert_int_equal(name_set_find(&set, name), i);
	}
	assert_int_equal(name_set_find(&set, "v10000"), NAME_INDEX_NONE);
	assert_int_equal(name_set_find(&set, ""), NAME_INDEX_NONE);
	name_set_free(&set);
	assert_null(set.text);
	assert_int_equal(set.count, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_name_found_at_its_position),
		cmocka_unit_test(test_empty_index_finds_nothing),
		cmocka_unit_test(test_name_set_keeps_each_name_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

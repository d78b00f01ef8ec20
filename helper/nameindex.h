/* An index from names to positions in an array its owner keeps: finding a profile or a
 * section by name costs the same with ten thousand of them as with one, so reading a
 * config stays linear in its size. */
#ifndef KEYBEARER_NAMEINDEX_H
#define KEYBEARER_NAMEINDEX_H

#include <stddef.h>
#include <stdint.h>

#define NAME_INDEX_NONE SIZE_MAX

struct name_index_slot {
	uint32_t hash;
	uint32_t position_plus_one; /* 0: the slot is free */
};

struct name_index {
	struct name_index_slot *slots;
	size_t capacity; /* a power of two, or 0 */
	size_t count;
};

/* The name of the entry at position in the owner's array. */
typedef const char *(*name_index_name_at)(const void *array, size_t position);

/* Records name at position (one the index does not hold yet). 0, or -1 when out of
 * memory (the index is then as before). */
int name_index_add(struct name_index *ix, const char *name, size_t position);

/* The position of name, or NAME_INDEX_NONE. */
size_t name_index_find(const struct name_index *ix, const char *name, name_index_name_at name_at,
		       const void *array);

void name_index_free(struct name_index *ix);

/* A set of names kept in one block of text, each at a position (0, 1, ... in the order
 * added): ten thousand profile names cost their bytes, not ten thousand allocations. */
struct name_set {
	char *text;
	size_t text_len, text_cap;
	uint32_t *offsets; /* of each name in text, by position */
	size_t count, offsets_cap;
	struct name_index index;
};

/* The position of name: the one it had, or a new one (*added set). NAME_INDEX_NONE when
 * out of memory (the set is then as before). */
size_t name_set_add(struct name_set *set, const char *name, int *added);
/* The position of name, or NAME_INDEX_NONE. */
size_t name_set_find(const struct name_set *set, const char *name);
/* The name at position; valid until the next name_set_add. */
const char *name_set_at(const struct name_set *set, size_t position);
void name_set_free(struct name_set *set);

#endif

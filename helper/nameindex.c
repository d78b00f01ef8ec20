#include "nameindex.h"

#include <stdlib.h>
#include <string.h>

/* FNV-1a: names are short, and whoever writes the config file gains nothing by colliding
 * them (a collision costs a comparison, never a wrong answer). */
static uint32_t
name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (; *name != '\0'; name++) {
		h ^= (unsigned char)*name;
		h *= 16777619u;
	}
	return h;
}

static void
slot_put(struct name_index_slot *slots, size_t capacity, struct name_index_slot entry)
{
	size_t i = entry.hash & (capacity - 1);

	while (slots[i].position_plus_one != 0)
		i = (i + 1) & (capacity - 1);
	slots[i] = entry;
}

/* Kept at most half full, so a probe ends soon. */
static int
index_grow(struct name_index *ix)
{
	size_t capacity = ix->capacity ? ix->capacity * 2 : 16, i;
	struct name_index_slot *slots;

	if (capacity > SIZE_MAX / sizeof(*slots))
		return -1;
	slots = calloc(capacity, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (i = 0; i < ix->capacity; i++) {
		if (ix->slots[i].position_plus_one != 0)
			slot_put(slots, capacity, ix->slots[i]);
	}
	free(ix->slots);
	ix->slots = slots;
	ix->capacity = capacity;
	return 0;
}

int
name_index_add(struct name_index *ix, const char *name, size_t position)
{
	struct name_index_slot entry;

	if (position >= UINT32_MAX)
		return -1;
	if ((ix->count + 1) * 2 > ix->capacity && index_grow(ix) != 0)
		return -1;
	entry.hash = name_hash(name);
	entry.position_plus_one = (uint32_t)position + 1;
	slot_put(ix->slots, ix->capacity, entry);
	ix->count++;
	return 0;
}

size_t
name_index_find(const struct name_index *ix, const char *name, name_index_name_at name_at,
		const void *array)
{
	uint32_t hash;
	size_t i;

	if (ix->capacity == 0)
		return NAME_INDEX_NONE;
	hash = name_hash(name);
	for (i = hash & (ix->capacity - 1); ix->slots[i].position_plus_one != 0;
	     i = (i + 1) & (ix->capacity - 1)) {
		size_t position = ix->slots[i].position_plus_one - 1;
		if (ix->slots[i].hash == hash && strcmp(name_at(array, position), name) == 0)
			return position;
	}
	return NAME_INDEX_NONE;
}

void
name_index_free(struct name_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

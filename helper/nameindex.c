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

/* Kept at most three quarters full: a probe still ends soon, and ten thousand names take
 * 128 KiB of slots, not 256. */
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
	if ((ix->count + 1) * 4 > ix->capacity * 3 && index_grow(ix) != 0)
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

static const char *
set_name_at(const void *set, size_t position)
{
	const struct name_set *names = set;

	return names->text + names->offsets[position];
}

size_t
name_set_find(const struct name_set *set, const char *name)
{
	return name_index_find(&set->index, name, set_name_at, set);
}

/* Grows *buf (of *cap elements of size) to hold need: doubling, so that n names cost
 * about n bytes and a realloc each time the size doubles. */
static int
grow(void **buf, size_t *cap, size_t need, size_t size)
{
	size_t capacity = *cap ? *cap : 64;
	void *grown;

	while (capacity < need) {
		if (capacity > SIZE_MAX / 2 / size)
			return -1;
		capacity *= 2;
	}
	if (capacity == *cap)
		return 0;
	grown = realloc(*buf, capacity * size);
	if (grown == NULL)
		return -1;
	*buf = grown;
	*cap = capacity;
	return 0;
}

size_t
name_set_add(struct name_set *set, const char *name, int *added)
{
	size_t position = name_set_find(set, name), len = strlen(name) + 1;
	void *text = set->text, *offsets = set->offsets;

	*added = 0;
	if (position != NAME_INDEX_NONE)
		return position;
	if (set->text_len + len > UINT32_MAX ||
	    grow(&text, &set->text_cap, set->text_len + len, 1) != 0)
		return NAME_INDEX_NONE;
	set->text = text;
	if (grow(&offsets, &set->offsets_cap, set->count + 1, sizeof(*set->offsets)) != 0)
		return NAME_INDEX_NONE;
	set->offsets = offsets;
	memcpy(set->text + set->text_len, name, len);
	set->offsets[set->count] = (uint32_t)set->text_len;
	if (name_index_add(&set->index, set->text + set->text_len, set->count) != 0)
		return NAME_INDEX_NONE;
	set->text_len += len;
	*added = 1;
	return set->count++;
}

const char *
name_set_at(const struct name_set *set, size_t position)
{
	return set->text + set->offsets[position];
}

void
name_set_free(struct name_set *set)
{
	free(set->text);
	free(set->offsets);
	name_index_free(&set->index);
	memset(set, 0, sizeof(*set));
}

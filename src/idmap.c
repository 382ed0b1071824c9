/*
 * Id map. Ids are handed out sequentially, so the hash is a 64-bit mix
 * (splitmix64's finaliser) to spread consecutive keys. The table grows at
 * 70% load and never shrinks below its high-water mark.
 */
#include <stdlib.h>

#include "idmap.h"

void
idmap_init(struct idmap *m)
{
	m->slots = NULL;
	m->cap = m->len = 0;
}

void
idmap_free(struct idmap *m)
{
	free(m->slots);
	idmap_init(m);
}

size_t
idmap_len(const struct idmap *m)
{
	return m->len;
}

static size_t
idmap_hash(uint64_t k)
{
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return (size_t)k;
}

static void
idmap_insert(struct idmap_slot *slots, size_t cap, uint64_t k, void *v)
{
	size_t	i = idmap_hash(k) & (cap - 1);

	while (slots[i].key != 0)
		i = (i + 1) & (cap - 1);
	slots[i].key = k;
	slots[i].val = v;
}

static int
idmap_grow(struct idmap *m)
{
	struct idmap_slot	*slots;
	size_t			 cap = m->cap ? m->cap * 2 : 64, i;

	if ((slots = calloc(cap, sizeof *slots)) == NULL)
		return -1;
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].key != 0)
			idmap_insert(slots, cap, m->slots[i].key,
			    m->slots[i].val);
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int
idmap_put(struct idmap *m, uint64_t k, void *v)
{
	if ((m->len + 1) * 10 > m->cap * 7 && idmap_grow(m) == -1)
		return -1;
	idmap_insert(m->slots, m->cap, k, v);
	m->len++;
	return 0;
}

static size_t
idmap_find(const struct idmap *m, uint64_t k)
{
	size_t	i;

	if (m->cap == 0 || k == 0)
		return SIZE_MAX;
	for (i = idmap_hash(k) & (m->cap - 1); m->slots[i].key != 0;
	    i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == k)
			return i;
	}
	return SIZE_MAX;
}

void *
idmap_get(const struct idmap *m, uint64_t k)
{
	size_t	i = idmap_find(m, k);

	return i == SIZE_MAX ? NULL : m->slots[i].val;
}

void *
idmap_del(struct idmap *m, uint64_t k)
{
	size_t	 i = idmap_find(m, k), j, home, mask = m->cap - 1;
	void	*v;

	if (i == SIZE_MAX)
		return NULL;
	v = m->slots[i].val;
	/* Backward shift: move later members of the run into the hole. */
	for (j = (i + 1) & mask; m->slots[j].key != 0; j = (j + 1) & mask) {
		home = idmap_hash(m->slots[j].key) & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = 0;
	m->slots[i].val = NULL;
	m->len--;
	return v;
}

void *
idmap_next(const struct idmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		if (m->slots[*pos].key != 0)
			return m->slots[(*pos)++].val;
		(*pos)++;
	}
	return NULL;
}

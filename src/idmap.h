/*
 * A map from non-zero u64 ids (jobs, connections) to pointers: open
 * addressing with linear probing and backward-shift deletion.
 */
#ifndef COMMIS_IDMAP_H
#define COMMIS_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct idmap {
	struct idmap_slot {
		uint64_t	 key;	/* 0: empty */
		void		*val;
	}	*slots;
	size_t	 cap;		/* power of two */
	size_t	 len;
};

void	 idmap_init(struct idmap *);
void	 idmap_free(struct idmap *);
/* 0, or -1 when out of memory. The key must not be present yet. */
int	 idmap_put(struct idmap *, uint64_t, void *);
void	*idmap_get(const struct idmap *, uint64_t);
void	*idmap_del(struct idmap *, uint64_t);
size_t	 idmap_len(const struct idmap *);
/* Iteration: *pos starts at 0; returns NULL at the end. */
void	*idmap_next(const struct idmap *, size_t *pos);

#endif

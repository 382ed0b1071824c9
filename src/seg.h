/*
 * Segments: sealed memfds that carry bulk data between processes without
 * copying (docs/protocol.md, "Segments"). Shared by commisd (which only
 * checks them), the workers and libcommis (which map them).
 */
#ifndef COMMIS_SEG_H
#define COMMIS_SEG_H

#include <stddef.h>
#include <stdint.h>

enum seg_kind {
	SEG_INPUT,	/* COMMIS_SEALS_INPUT: read-only, size fixed */
	SEG_INPLACE,	/* COMMIS_SEALS_INPLACE: size fixed, writable */
};

/*
 * Checks an fd from a peer without mapping it: a memfd (F_GET_SEALS
 * works) that carries at least the kind's seals, and an fstat size of at
 * most max. 0 and *size, or -1 with a reason in why.
 */
int	 seg_check(int fd, enum seg_kind, uint64_t max, uint64_t *size,
	    char *why, size_t whylen);
/* A new memfd (CLOEXEC, sealing allowed) of size bytes, mapped writable
 * at *map (NULL for size 0). The fd, or -1 with errno. */
int	 seg_create(const char *name, size_t size, void **map);
/* Adds the kind's seals. 0 or -1 with errno. For SEG_INPUT no writable
 * mapping of the segment may be left (unmap the seg_create() one first):
 * the kernel refuses F_SEAL_WRITE with EBUSY while one exists. */
int	 seg_seal(int fd, enum seg_kind);
/* Maps a checked segment of size bytes, read-only or writable. A size of
 * 0 maps nothing and returns a valid empty pointer. NULL with errno. */
void	*seg_map(int fd, size_t size, int writable);
void	 seg_unmap(void *, size_t);

#endif

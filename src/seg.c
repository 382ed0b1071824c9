/*
 * Segments: sealed memfds that carry bulk data between processes. This
 * module owns the seal rules of docs/protocol.md ("Segments") and the
 * mapping calls; it knows nothing of frames, jobs or who sent an fd. No
 * logging, no exits: every failure returns to the caller.
 *
 * The order matters for safety: a peer's fd is checked (seals, then fstat
 * size) before anything maps it. With F_SEAL_SHRINK in place the file can
 * never become shorter than our mapping, so touching the mapping cannot
 * raise SIGBUS whatever the peer does afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commis/proto.h"
#include "seg.h"

_Static_assert(COMMIS_SEALS_INPLACE == (F_SEAL_SHRINK | F_SEAL_GROW),
    "COMMIS_SEALS_INPLACE does not match the kernel's seals");
_Static_assert(COMMIS_SEALS_INPUT == (F_SEAL_SHRINK | F_SEAL_GROW |
    F_SEAL_WRITE | F_SEAL_SEAL),
    "COMMIS_SEALS_INPUT does not match the kernel's seals");

/* What an empty segment maps to: a valid pointer with nothing behind it. */
static uint8_t	seg_empty[1];

static const struct {
	int		 seal;
	const char	*name;
} seg_seal_names[] = {
	{ F_SEAL_SHRINK, "shrink" },
	{ F_SEAL_GROW, "grow" },
	{ F_SEAL_WRITE, "write" },
	{ F_SEAL_SEAL, "seal" },
};

static int
seg_seals(enum seg_kind kind)
{
	return kind == SEG_INPUT ? COMMIS_SEALS_INPUT : COMMIS_SEALS_INPLACE;
}

/* "segment is not sealed against: write, seal" for the seals missing. */
static void
seg_missing(int missing, char *why, size_t whylen)
{
	const char	*sep = " ";
	size_t		 i, off;

	snprintf(why, whylen, "segment is not sealed against:");
	for (i = 0; i < sizeof seg_seal_names / sizeof seg_seal_names[0];
	    i++) {
		if ((missing & seg_seal_names[i].seal) == 0)
			continue;
		off = strlen(why);
		snprintf(why + off, whylen - off, "%s%s", sep,
		    seg_seal_names[i].name);
		sep = ", ";
	}
}

int
seg_check(int fd, enum seg_kind kind, uint64_t max, uint64_t *size,
    char *why, size_t whylen)
{
	struct stat	st;
	int		seals, missing;

	if ((seals = fcntl(fd, F_GET_SEALS)) == -1) {
		snprintf(why, whylen, "not a sealable memfd");
		return -1;
	}
	if ((missing = seg_seals(kind) & ~seals) != 0) {
		seg_missing(missing, why, whylen);
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(why, whylen, "fstat: %s", strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		snprintf(why, whylen, "not a sealable memfd");
		return -1;
	}
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size > SIZE_MAX) {
		snprintf(why, whylen, "segment of %llu bytes is above the "
		    "limit (%llu)", (unsigned long long)st.st_size,
		    (unsigned long long)max);
		return -1;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

int
seg_create(const char *name, size_t size, void **map)
{
	void	*p = NULL;
	int	 fd, saved;

	if ((fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1)
		return -1;
	if (size > (size_t)INT64_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if (ftruncate(fd, (off_t)size) == -1)
		goto fail;
	if (size > 0 && (p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED)
		goto fail;
	*map = p;
	return fd;

fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * For SEG_INPUT the caller must have unmapped every writable mapping of
 * the segment first: the kernel refuses F_SEAL_WRITE (EBUSY) while one
 * exists, and so does this function.
 */
int
seg_seal(int fd, enum seg_kind kind)
{
	return fcntl(fd, F_ADD_SEALS, seg_seals(kind)) == -1 ? -1 : 0;
}

void *
seg_map(int fd, size_t size, int writable)
{
	void	*p;

	if (size == 0)
		return seg_empty;
	p = mmap(NULL, size, writable ? PROT_READ | PROT_WRITE : PROT_READ,
	    MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

void
seg_unmap(void *p, size_t size)
{
	if (p != NULL && size > 0)
		munmap(p, size);
}

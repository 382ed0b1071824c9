/*
 * libFuzzer target: the segment validator. The input picks the seals, the
 * size, the kind and the limit; whatever seg_check accepts is mapped and
 * read to the last byte, which would fault (SIGBUS) if the size or seals
 * let the file change under the mapping.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "seg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 why[256];
	uint64_t	 got;
	size_t		 len;
	uint8_t		*map;
	volatile uint8_t sum = 0;
	int		 fd;

	if (size < 4)
		return 0;
	len = (size_t)data[1] * 97 + data[2];	/* up to ~25 KB */
	if ((fd = memfd_create("fuzz", MFD_CLOEXEC | ((data[0] & 0x80) ?
	    MFD_ALLOW_SEALING : 0))) == -1)
		return 0;
	if (ftruncate(fd, (off_t)len) == 0 && size > 4)
		(void)!write(fd, data + 4, size - 4 < len ? size - 4 : len);
	(void)fcntl(fd, F_ADD_SEALS, data[0] & 0x1f);
	if (seg_check(fd, data[3] & 1 ? SEG_INPLACE : SEG_INPUT,
	    (uint64_t)data[3] * 128, &got, why, sizeof why) == 0) {
		if (got > len)
			abort();
		if ((map = seg_map(fd, (size_t)got, data[3] & 1)) != NULL) {
			/* A shrink would be refused now; try, then read all. */
			(void)!ftruncate(fd, 0);
			for (size_t i = 0; i < got; i++)
				sum ^= map[i];
			seg_unmap(map, (size_t)got);
		}
	} else if (why[0] == '\0')
		abort();	/* a refusal always says why */
	close(fd);
	(void)sum;	/* the reads are the point */
	return 0;
}

/*
 * libFuzzer target: the frame decoder fed an arbitrary byte stream, split
 * into reads at points the input itself chooses. Every frame it yields
 * must lie inside the bytes fed, and an oversized one is skipped as
 * control.c does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_dec	d;
	struct frame		f;
	size_t			off = 1, chunk;
	int			r;

	if (size < 1)
		return 0;
	/* The first byte: the read size (1..256) and a small limit. */
	chunk = (size_t)data[0] % 256 + 1;
	frame_dec_init(&d, data[0] & 1 ? 64 : 4096);
	while (off < size) {
		if (chunk > size - off)
			chunk = size - off;
		if (frame_dec_feed(&d, data + off, chunk, -1) == -1)
			break;
		off += chunk;
		while ((r = frame_dec_next(&d, &f)) != 0) {
			if (r == 1) {
				if (f.hdr.len > 0)
					/* Touch every payload byte. */
					(void)memchr(f.payload, 0x7f, f.hdr.len);
				if (f.fd != -1)
					abort();	/* none was fed */
				continue;
			}
			if (d.err != FRAME_ETOOBIG)
				goto out;
			frame_dec_skip(&d, &f.hdr);
		}
	}
out:
	frame_dec_free(&d);
	return 0;
}

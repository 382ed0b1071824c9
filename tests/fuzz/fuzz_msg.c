/*
 * libFuzzer target: the typed payload readers on the layout of every
 * message type that carries fields (docs/protocol.md), as the receivers
 * read them: every field checked, then every byte consumed (mr_end).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "commis/proto.h"
#include "msg.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
fuzz_layout(uint8_t type, const uint8_t *p, size_t n)
{
	struct mreader	 r;
	char		 s[COMMIS_TEXT_MAX];
	const uint8_t	*b;
	size_t		 len;
	uint32_t	 argc, i;

	mr_init(&r, p, n);
	switch (type % 8) {
	case 0:		/* SUBMIT */
		(void)mr_i32(&r);
		for (i = 0; i < 4; i++)
			(void)mr_u32(&r);
		mr_str(&r, s, COMMIS_NAME_MAX);
		mr_str(&r, s, COMMIS_NAME_MAX);
		b = mr_bytes(&r, &len);
		break;
	case 1:		/* RESULT */
		(void)mr_u64(&r);
		(void)mr_u8(&r);
		(void)mr_u16(&r);
		mr_str(&r, s, sizeof s);
		for (i = 0; i < 4; i++)
			(void)mr_u64(&r);
		b = mr_bytes(&r, &len);
		break;
	case 2:		/* JOB_INFO */
		(void)mr_u64(&r);
		(void)mr_u8(&r);
		(void)mr_u8(&r);
		(void)mr_u16(&r);
		mr_str(&r, s, COMMIS_NAME_MAX);
		mr_str(&r, s, COMMIS_NAME_MAX);
		mr_str(&r, s, sizeof s);
		b = NULL;
		break;
	case 3:		/* ADMIN */
		argc = mr_u32(&r);
		for (i = 0; i < argc && i < 8 && !r.err; i++)
			mr_str(&r, s, 256);
		b = NULL;
		break;
	case 4:		/* JOB */
		mr_str(&r, s, COMMIS_NAME_MAX);
		(void)mr_u32(&r);
		b = mr_bytes(&r, &len);
		break;
	case 5:		/* DONE */
		(void)mr_u8(&r);
		mr_str(&r, s, sizeof s);
		(void)mr_u64(&r);
		(void)mr_u64(&r);
		b = mr_bytes(&r, &len);
		break;
	case 6:		/* ERROR */
		(void)mr_u32(&r);
		mr_str(&r, s, sizeof s);
		b = NULL;
		break;
	default:	/* WAIT */
		(void)mr_u64(&r);
		(void)mr_u32(&r);
		b = NULL;
		break;
	}
	/* A field that came back must lie inside the payload. */
	if (b != NULL && !r.err && (b < p || b + len > p + n))
		abort();
	if (mr_end(&r) == 0 && r.left != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_layout(data[0], data + 1, size - 1);
	return 0;
}

/*
 * Typed payload encoding: a growable byte buffer that writers append
 * little-endian fields to, and a reader that checks every field against the
 * bytes left and, at the end, that every byte was consumed.
 */
#ifndef COMMIS_MSG_H
#define COMMIS_MSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * Small messages fit in the buffer's own inl[], so encoding one costs no
 * allocation; data points there until the first growth past it. An mbuf
 * must therefore not be copied by value.
 */
#define MBUF_INLINE	192

struct mbuf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	int		 err;		/* an allocation failed */
	uint8_t		 inl[MBUF_INLINE];
};

void	 mbuf_init(struct mbuf *);
void	 mbuf_free(struct mbuf *);
void	 mbuf_reset(struct mbuf *);
int	 mbuf_reserve(struct mbuf *, size_t);
void	 mbuf_add(struct mbuf *, const void *, size_t);
void	 mbuf_u8(struct mbuf *, uint8_t);
void	 mbuf_u16(struct mbuf *, uint16_t);
void	 mbuf_u32(struct mbuf *, uint32_t);
void	 mbuf_i32(struct mbuf *, int32_t);
void	 mbuf_u64(struct mbuf *, uint64_t);
/* A length-prefixed (u32) run of bytes; str is the same with strlen. */
void	 mbuf_bytes(struct mbuf *, const void *, size_t);
void	 mbuf_str(struct mbuf *, const char *);

struct mreader {
	const uint8_t	*p;
	size_t		 left;
	int		 err;
};

void		 mr_init(struct mreader *, const void *, size_t);
uint8_t		 mr_u8(struct mreader *);
uint16_t	 mr_u16(struct mreader *);
uint32_t	 mr_u32(struct mreader *);
int32_t		 mr_i32(struct mreader *);
uint64_t	 mr_u64(struct mreader *);
/* Points into the payload; *len gets the length. NULL on error. */
const uint8_t	*mr_bytes(struct mreader *, size_t *);
/* Copies a str into dst (NUL-terminated); too long or with a NUL is an error. */
void		 mr_str(struct mreader *, char *, size_t);
/* 0 when no field failed and every byte was consumed, else -1. */
int		 mr_end(const struct mreader *);

/* Little-endian helpers shared with the frame codec. */
static inline void
le16_put(uint8_t *b, uint16_t v)
{
	b[0] = v & 0xff; b[1] = v >> 8;
}
static inline void
le32_put(uint8_t *b, uint32_t v)
{
	le16_put(b, v & 0xffff); le16_put(b + 2, v >> 16);
}
static inline void
le64_put(uint8_t *b, uint64_t v)
{
	le32_put(b, v & 0xffffffffu); le32_put(b + 4, v >> 32);
}
static inline uint16_t
le16_get(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}
static inline uint32_t
le32_get(const uint8_t *b)
{
	return le16_get(b) | (uint32_t)le16_get(b + 2) << 16;
}
static inline uint64_t
le64_get(const uint8_t *b)
{
	return le32_get(b) | (uint64_t)le32_get(b + 4) << 32;
}

#endif

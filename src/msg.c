/*
 * Typed payload fields. Writers never fail one by one: an allocation
 * failure sticks in mbuf.err for the caller to check once. Readers likewise
 * latch the first error, so a handler reads all its fields and then asks
 * mr_end() once (OpenSMTPD's m_get_* / m_end pattern).
 */
#include <stdlib.h>
#include <string.h>

#include "msg.h"

void
mbuf_init(struct mbuf *m)
{
	m->data = m->inl;
	m->len = 0;
	m->cap = sizeof m->inl;
	m->err = 0;
}

void
mbuf_free(struct mbuf *m)
{
	if (m->data != m->inl)
		free(m->data);
	mbuf_init(m);
}

void
mbuf_reset(struct mbuf *m)
{
	m->len = 0;
	m->err = 0;
}

int
mbuf_reserve(struct mbuf *m, size_t n)
{
	size_t	 cap;
	uint8_t	*p;

	if (m->err)
		return -1;
	if (n <= m->cap - m->len)
		return 0;
	if (n > SIZE_MAX / 2 - m->len) {
		m->err = 1;
		return -1;
	}
	cap = m->cap ? m->cap * 2 : MBUF_INLINE;
	while (cap < m->len + n)
		cap *= 2;
	if (m->data == m->inl) {
		if ((p = malloc(cap)) != NULL)
			memcpy(p, m->inl, m->len);
	} else
		p = realloc(m->data, cap);
	if (p == NULL) {
		m->err = 1;
		return -1;
	}
	m->data = p;
	m->cap = cap;
	return 0;
}

void
mbuf_add(struct mbuf *m, const void *p, size_t n)
{
	if (n == 0 || mbuf_reserve(m, n) == -1)
		return;
	memcpy(m->data + m->len, p, n);
	m->len += n;
}

void
mbuf_u8(struct mbuf *m, uint8_t v)
{
	mbuf_add(m, &v, 1);
}

void
mbuf_u16(struct mbuf *m, uint16_t v)
{
	uint8_t	b[2];

	le16_put(b, v);
	mbuf_add(m, b, sizeof b);
}

void
mbuf_u32(struct mbuf *m, uint32_t v)
{
	uint8_t	b[4];

	le32_put(b, v);
	mbuf_add(m, b, sizeof b);
}

void
mbuf_i32(struct mbuf *m, int32_t v)
{
	mbuf_u32(m, (uint32_t)v);
}

void
mbuf_u64(struct mbuf *m, uint64_t v)
{
	uint8_t	b[8];

	le64_put(b, v);
	mbuf_add(m, b, sizeof b);
}

void
mbuf_bytes(struct mbuf *m, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		m->err = 1;
		return;
	}
	mbuf_u32(m, (uint32_t)n);
	mbuf_add(m, p, n);
}

void
mbuf_str(struct mbuf *m, const char *s)
{
	mbuf_bytes(m, s, s == NULL ? 0 : strlen(s));
}

void
mr_init(struct mreader *r, const void *p, size_t len)
{
	r->p = p;
	r->left = len;
	r->err = 0;
}

static const uint8_t *
mr_take(struct mreader *r, size_t n)
{
	const uint8_t	*p;

	if (r->err || n > r->left) {
		r->err = 1;
		return NULL;
	}
	p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

uint8_t
mr_u8(struct mreader *r)
{
	const uint8_t	*p = mr_take(r, 1);

	return p ? p[0] : 0;
}

uint16_t
mr_u16(struct mreader *r)
{
	const uint8_t	*p = mr_take(r, 2);

	return p ? le16_get(p) : 0;
}

uint32_t
mr_u32(struct mreader *r)
{
	const uint8_t	*p = mr_take(r, 4);

	return p ? le32_get(p) : 0;
}

int32_t
mr_i32(struct mreader *r)
{
	return (int32_t)mr_u32(r);
}

uint64_t
mr_u64(struct mreader *r)
{
	const uint8_t	*p = mr_take(r, 8);

	return p ? le64_get(p) : 0;
}

const uint8_t *
mr_bytes(struct mreader *r, size_t *len)
{
	uint32_t	 n = mr_u32(r);
	const uint8_t	*p;

	*len = 0;
	if ((p = mr_take(r, n)) == NULL)
		return NULL;
	*len = n;
	return p;
}

void
mr_str(struct mreader *r, char *dst, size_t dstsz)
{
	const uint8_t	*p;
	size_t		 n;

	dst[0] = '\0';
	if ((p = mr_bytes(r, &n)) == NULL)
		return;
	if (n >= dstsz || memchr(p, '\0', n) != NULL) {
		r->err = 1;
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

int
mr_end(const struct mreader *r)
{
	return (r->err || r->left != 0) ? -1 : 0;
}

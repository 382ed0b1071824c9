/*
 * Typed payload fields (src/msg.c): writers append little-endian fields to
 * a growable buffer, readers latch the first error and mr_end() insists
 * that every byte was consumed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commis/proto.h"
#include "msg.h"
#include "testlib.h"

START_TEST(test_roundtrip_all_types)
{
	static const uint8_t	 blob[] = { 0, 1, 2, 0xff, 0 };
	struct mbuf		 m;
	struct mreader		 r;
	const uint8_t		*p;
	size_t			 n;
	char			 s[COMMIS_TEXT_MAX];

	mbuf_init(&m);
	mbuf_u8(&m, 0);
	mbuf_u8(&m, 0xab);
	mbuf_u16(&m, 0xbeef);
	mbuf_u32(&m, 0xdeadbeefu);
	mbuf_i32(&m, -1);
	mbuf_i32(&m, INT32_MIN);
	mbuf_i32(&m, INT32_MAX);
	mbuf_u64(&m, 0x0123456789abcdefull);
	mbuf_u64(&m, UINT64_MAX);
	mbuf_str(&m, "echo");
	mbuf_str(&m, "");
	mbuf_str(&m, NULL);
	mbuf_bytes(&m, blob, sizeof blob);
	ck_assert_int_eq(m.err, 0);
	ck_assert_uint_eq(m.len, 2 + 2 + 4 + 3 * 4 + 2 * 8 +
	    (4 + 4) + 4 + 4 + (4 + sizeof blob));

	mr_init(&r, m.data, m.len);
	ck_assert_uint_eq(mr_u8(&r), 0);
	ck_assert_uint_eq(mr_u8(&r), 0xab);
	ck_assert_uint_eq(mr_u16(&r), 0xbeef);
	ck_assert_uint_eq(mr_u32(&r), 0xdeadbeefu);
	ck_assert_int_eq(mr_i32(&r), -1);
	ck_assert_int_eq(mr_i32(&r), INT32_MIN);
	ck_assert_int_eq(mr_i32(&r), INT32_MAX);
	ck_assert(mr_u64(&r) == 0x0123456789abcdefull);
	ck_assert(mr_u64(&r) == UINT64_MAX);
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "echo");
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "");
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "");
	p = mr_bytes(&r, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, sizeof blob);
	ck_assert_mem_eq(p, blob, sizeof blob);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_free(&m);
	ck_assert_ptr_eq(m.data, m.inl);	/* empty again, reusable */
	ck_assert_uint_eq(m.len, 0);
}
END_TEST

/* Small messages stay in the inline buffer; growth past it keeps every
 * byte, and so does each later doubling. */
START_TEST(test_inline_then_heap)
{
	struct mbuf	m;
	uint8_t		b[1000];
	size_t		i;

	for (i = 0; i < sizeof b; i++)
		b[i] = (uint8_t)(i * 7);
	mbuf_init(&m);
	mbuf_add(&m, b, MBUF_INLINE);
	ck_assert_ptr_eq(m.data, m.inl);
	mbuf_add(&m, b + MBUF_INLINE, 1);
	ck_assert_ptr_ne(m.data, m.inl);
	mbuf_add(&m, b + MBUF_INLINE + 1, sizeof b - MBUF_INLINE - 1);
	ck_assert_int_eq(m.err, 0);
	ck_assert_uint_eq(m.len, sizeof b);
	ck_assert_mem_eq(m.data, b, sizeof b);
	mbuf_reset(&m);
	ck_assert_uint_eq(m.len, 0);
	mbuf_free(&m);
	ck_assert_ptr_eq(m.data, m.inl);
}
END_TEST

/* The wire is little-endian whatever the host is. */
START_TEST(test_wire_layout)
{
	static const uint8_t	 want[] = {
		0x7f,
		0x34, 0x12,
		0x78, 0x56, 0x34, 0x12,
		0xfe, 0xff, 0xff, 0xff,
		0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,
		0x02, 0x00, 0x00, 0x00, 'h', 'i',
		0x00, 0x00, 0x00, 0x00,
	};
	struct mbuf		 m;

	mbuf_init(&m);
	mbuf_u8(&m, 0x7f);
	mbuf_u16(&m, 0x1234);
	mbuf_u32(&m, 0x12345678u);
	mbuf_i32(&m, -2);
	mbuf_u64(&m, 0x0102030405060708ull);
	mbuf_str(&m, "hi");
	mbuf_bytes(&m, NULL, 0);
	ck_assert_int_eq(m.err, 0);
	ck_assert_uint_eq(m.len, sizeof want);
	ck_assert_mem_eq(m.data, want, sizeof want);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_bytes_len_zero)
{
	struct mbuf		 m;
	struct mreader		 r;
	const uint8_t		*p;
	size_t			 n = 99;

	mbuf_init(&m);
	mbuf_bytes(&m, NULL, 0);
	mbuf_bytes(&m, "ignored", 0);
	ck_assert_int_eq(m.err, 0);
	ck_assert_uint_eq(m.len, 8);

	mr_init(&r, m.data, m.len);
	p = mr_bytes(&r, &n);
	ck_assert_ptr_nonnull(p);	/* NULL means error, not empty */
	ck_assert_uint_eq(n, 0);
	n = 99;
	p = mr_bytes(&r, &n);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_free(&m);
}
END_TEST

/* A too-large run is refused before the pointer is touched. */
START_TEST(test_bytes_too_long)
{
	struct mbuf	m;

	if (SIZE_MAX <= UINT32_MAX)
		return;		/* cannot be expressed on this host */
	mbuf_init(&m);
	mbuf_bytes(&m, "", (size_t)UINT32_MAX + 1);
	ck_assert_int_eq(m.err, 1);
	ck_assert_uint_eq(m.len, 0);
	/* Sticky: later writes do nothing. */
	mbuf_u32(&m, 1);
	ck_assert_uint_eq(m.len, 0);
	mbuf_reset(&m);
	ck_assert_int_eq(m.err, 0);
	mbuf_u32(&m, 1);
	ck_assert_uint_eq(m.len, 4);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_read_past_end_latches)
{
	static const uint8_t	b[] = { 1, 2, 3 };
	struct mreader		r;

	mr_init(&r, b, sizeof b);
	ck_assert_uint_eq(mr_u16(&r), 0x0201);
	ck_assert_uint_eq(mr_u16(&r), 0);	/* one byte left: fails */
	ck_assert_int_eq(r.err, 1);
	ck_assert_uint_eq(r.left, 1);		/* nothing taken */
	/* Latched: even a field that would fit now fails. */
	ck_assert_uint_eq(mr_u8(&r), 0);
	ck_assert_uint_eq(r.left, 1);
	ck_assert_int_eq(mr_end(&r), -1);

	/* Each reader type fails on an empty payload. */
	mr_init(&r, b, 0);
	ck_assert_uint_eq(mr_u8(&r), 0);
	ck_assert_int_eq(mr_end(&r), -1);
	mr_init(&r, b, 3);
	ck_assert_uint_eq(mr_u32(&r), 0);
	ck_assert_int_eq(mr_end(&r), -1);
	mr_init(&r, b, 3);
	ck_assert_int_eq(mr_i32(&r), 0);
	ck_assert_int_eq(mr_end(&r), -1);
	mr_init(&r, b, 3);
	ck_assert(mr_u64(&r) == 0);
	ck_assert_int_eq(mr_end(&r), -1);
}
END_TEST

/* A length prefix that promises more bytes than are left. */
START_TEST(test_bytes_short)
{
	struct mbuf		 m;
	struct mreader		 r;
	size_t			 n = 99;
	char			 s[16];

	mbuf_init(&m);
	mbuf_u32(&m, 10);
	mbuf_add(&m, "abc", 3);
	mr_init(&r, m.data, m.len);
	ck_assert_ptr_null(mr_bytes(&r, &n));
	ck_assert_uint_eq(n, 0);
	ck_assert_int_eq(mr_end(&r), -1);

	mr_init(&r, m.data, m.len);
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(mr_end(&r), -1);

	/* A huge length must not wrap the bounds check. */
	mbuf_reset(&m);
	mbuf_u32(&m, UINT32_MAX);
	mbuf_add(&m, "abc", 3);
	mr_init(&r, m.data, m.len);
	ck_assert_ptr_null(mr_bytes(&r, &n));
	ck_assert_int_eq(mr_end(&r), -1);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_end_leftover)
{
	struct mbuf	m;
	struct mreader	r;

	mbuf_init(&m);
	mbuf_u32(&m, 7);
	mbuf_u8(&m, 1);
	mr_init(&r, m.data, m.len);
	ck_assert_uint_eq(mr_u32(&r), 7);
	ck_assert_int_eq(r.err, 0);
	ck_assert_int_eq(mr_end(&r), -1);	/* one byte unread */
	ck_assert_uint_eq(mr_u8(&r), 1);
	ck_assert_int_eq(mr_end(&r), 0);

	/* An empty payload read as nothing is fine. */
	mr_init(&r, m.data, 0);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_str_limits)
{
	struct mbuf	m;
	struct mreader	r;
	char		s[8];

	/* 7 chars + NUL fit in 8. */
	mbuf_init(&m);
	mbuf_str(&m, "1234567");
	mr_init(&r, m.data, m.len);
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "1234567");
	ck_assert_int_eq(mr_end(&r), 0);

	/* 8 chars do not. */
	mbuf_reset(&m);
	mbuf_str(&m, "12345678");
	mr_init(&r, m.data, m.len);
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(r.err, 1);
	ck_assert_int_eq(mr_end(&r), -1);

	/* A name at COMMIS_NAME_MAX is refused by a NAME_MAX buffer. */
	{
		char	name[COMMIS_NAME_MAX + 1], dst[COMMIS_NAME_MAX];

		memset(name, 'n', COMMIS_NAME_MAX);
		name[COMMIS_NAME_MAX] = '\0';
		mbuf_reset(&m);
		mbuf_str(&m, name);
		mr_init(&r, m.data, m.len);
		mr_str(&r, dst, sizeof dst);
		ck_assert_int_eq(mr_end(&r), -1);
	}
	mbuf_free(&m);
}
END_TEST

START_TEST(test_str_embedded_nul)
{
	struct mbuf	m;
	struct mreader	r;
	char		s[16];
	size_t		n;

	mbuf_init(&m);
	mbuf_bytes(&m, "ab\0cd", 5);
	mr_init(&r, m.data, m.len);
	mr_str(&r, s, sizeof s);
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(mr_end(&r), -1);

	/* A trailing NUL counts too: strings carry no terminator. */
	mbuf_reset(&m);
	mbuf_bytes(&m, "abc", 4);
	mr_init(&r, m.data, m.len);
	mr_str(&r, s, sizeof s);
	ck_assert_int_eq(mr_end(&r), -1);

	/* The same bytes are fine as bytes. */
	mr_init(&r, m.data, m.len);
	ck_assert_ptr_nonnull(mr_bytes(&r, &n));
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_many_appends_grow)
{
	struct mbuf	m;
	struct mreader	r;
	uint32_t	i, count = 100000;
	size_t		cap = 0, grows = 0;

	mbuf_init(&m);
	for (i = 0; i < count; i++) {
		mbuf_u32(&m, i * 2654435761u);
		mbuf_u8(&m, (uint8_t)i);
		if (m.cap != cap) {
			ck_assert_uint_ge(m.cap, m.len);
			cap = m.cap;
			grows++;
		}
	}
	ck_assert_int_eq(m.err, 0);
	ck_assert_uint_eq(m.len, (size_t)count * 5);
	ck_assert_uint_ge(m.cap, m.len);
	/* Geometric growth: a few dozen reallocations, not thousands. */
	ck_assert_uint_lt(grows, 32);

	mr_init(&r, m.data, m.len);
	for (i = 0; i < count; i++) {
		ck_assert_uint_eq(mr_u32(&r), i * 2654435761u);
		ck_assert_uint_eq(mr_u8(&r), (uint8_t)i);
	}
	ck_assert_int_eq(mr_end(&r), 0);

	/* One append larger than the doubling step. */
	mbuf_reset(&m);
	{
		size_t	 big = 3 * m.cap + 7;
		uint8_t	*p = malloc(big);

		ck_assert_ptr_nonnull(p);
		memset(p, 0x5a, big);
		mbuf_add(&m, "x", 1);
		mbuf_add(&m, p, big);
		ck_assert_int_eq(m.err, 0);
		ck_assert_uint_eq(m.len, big + 1);
		ck_assert_uint_eq(m.data[0], 'x');
		ck_assert_mem_eq(m.data + 1, p, big);
		free(p);
	}
	mbuf_free(&m);
}
END_TEST

START_TEST(test_reserve)
{
	struct mbuf	m;

	mbuf_init(&m);
	ck_assert_int_eq(mbuf_reserve(&m, 1000), 0);
	ck_assert_uint_ge(m.cap, 1000);
	ck_assert_uint_eq(m.len, 0);
	/* A request that cannot be met sets the sticky error. */
	ck_assert_int_eq(mbuf_reserve(&m, SIZE_MAX - 8), -1);
	ck_assert_int_eq(m.err, 1);
	mbuf_u8(&m, 1);
	ck_assert_uint_eq(m.len, 0);
	mbuf_free(&m);
	mbuf_free(&m);		/* free of an empty mbuf is harmless */
}
END_TEST

Suite *
msg_suite(void)
{
	Suite	*s = suite_create("msg");
	TCase	*tc = tcase_create("fields");

	tcase_add_test(tc, test_roundtrip_all_types);
	tcase_add_test(tc, test_inline_then_heap);
	tcase_add_test(tc, test_wire_layout);
	tcase_add_test(tc, test_bytes_len_zero);
	tcase_add_test(tc, test_bytes_too_long);
	tcase_add_test(tc, test_read_past_end_latches);
	tcase_add_test(tc, test_bytes_short);
	tcase_add_test(tc, test_end_leftover);
	tcase_add_test(tc, test_str_limits);
	tcase_add_test(tc, test_str_embedded_nul);
	tcase_add_test(tc, test_many_appends_grow);
	tcase_add_test(tc, test_reserve);
	suite_add_tcase(s, tc);
	return s;
}

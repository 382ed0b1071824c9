/*
 * The run queue (priority, FIFO within a priority, front door for retries,
 * removal) and the id map behind the job and connection tables.
 */
#include <stdint.h>
#include <stdlib.h>

#include "idmap.h"
#include "queue.h"
#include "testlib.h"

static struct queue_item *
item(int32_t prio)
{
	struct queue_item	*it = calloc(1, sizeof *it);

	ck_assert_ptr_nonnull(it);
	it->priority = prio;
	it->idx = QUEUE_NONE;
	return it;
}

START_TEST(test_queue_fifo_within_priority)
{
	struct queue		 q;
	struct queue_item	*its[100];
	int			 i;

	queue_init(&q);
	for (i = 0; i < 100; i++) {
		its[i] = item(0);
		ck_assert_int_eq(queue_push(&q, its[i]), 0);
	}
	ck_assert_uint_eq(queue_len(&q), 100);
	for (i = 0; i < 100; i++)
		ck_assert_ptr_eq(queue_pop(&q), its[i]);
	ck_assert_ptr_null(queue_pop(&q));
	for (i = 0; i < 100; i++)
		free(its[i]);
	queue_free(&q);
}
END_TEST

START_TEST(test_queue_priority_order)
{
	static const int32_t	 prios[] = { 0, 5, -3, 5, 0, 10, -3, 0 };
	/* Expected pop order: by priority desc, then push order. */
	static const int	 order[] = { 5, 1, 3, 0, 4, 7, 2, 6 };
	struct queue		 q;
	struct queue_item	*its[8];
	size_t			 i;

	queue_init(&q);
	for (i = 0; i < 8; i++) {
		its[i] = item(prios[i]);
		queue_push(&q, its[i]);
	}
	for (i = 0; i < 8; i++)
		ck_assert_ptr_eq(queue_pop(&q), its[order[i]]);
	for (i = 0; i < 8; i++)
		free(its[i]);
	queue_free(&q);
}
END_TEST

START_TEST(test_queue_front)
{
	struct queue		 q;
	struct queue_item	*a = item(0), *b = item(0), *r1 = item(0);
	struct queue_item	*r2 = item(0), *hi = item(1);

	queue_init(&q);
	queue_push(&q, a);
	queue_push(&q, b);
	queue_push_front(&q, r1);
	queue_push_front(&q, r2);	/* the latest requeue goes first */
	queue_push(&q, hi);
	ck_assert_ptr_eq(queue_pop(&q), hi);	/* priority still rules */
	ck_assert_ptr_eq(queue_pop(&q), r2);
	ck_assert_ptr_eq(queue_pop(&q), r1);
	ck_assert_ptr_eq(queue_pop(&q), a);
	ck_assert_ptr_eq(queue_pop(&q), b);
	free(a); free(b); free(r1); free(r2); free(hi);
	queue_free(&q);
}
END_TEST

START_TEST(test_queue_remove)
{
	struct queue		 q;
	struct queue_item	*its[50];
	int			 i, n = 0;
	int32_t			 last = INT32_MAX;
	struct queue_item	*it;

	queue_init(&q);
	for (i = 0; i < 50; i++) {
		its[i] = item((i * 7) % 5);
		queue_push(&q, its[i]);
	}
	for (i = 0; i < 50; i += 3) {
		queue_remove(&q, its[i]);
		ck_assert(!queue_contains(its[i]));
		queue_remove(&q, its[i]);	/* twice is harmless */
	}
	ck_assert_uint_eq(queue_len(&q), 50 - 17);
	while ((it = queue_pop(&q)) != NULL) {
		ck_assert_int_le(it->priority, last);
		last = it->priority;
		for (i = 0; i < 50; i += 3)
			ck_assert_ptr_ne(it, its[i]);
		n++;
	}
	ck_assert_int_eq(n, 33);
	for (i = 0; i < 50; i++)
		free(its[i]);
	queue_free(&q);
}
END_TEST

/* Two streams: the second's first item does not wait behind the
 * first's backlog, and each stream keeps its order. */
START_TEST(test_queue_fair)
{
	struct queue		 q;
	struct queue_item	*a[6], *b[2], *it;
	int64_t			 la = 0, lb = 0;
	int			 i;

	queue_init(&q);
	for (i = 0; i < 6; i++) {
		a[i] = item(0);
		ck_assert_int_eq(queue_push_fair(&q, a[i], &la), 0);
	}
	ck_assert_ptr_eq(queue_pop(&q), a[0]);
	ck_assert_ptr_eq(queue_pop(&q), a[1]);
	/* b arrives while a has four waiting. */
	for (i = 0; i < 2; i++) {
		b[i] = item(0);
		ck_assert_int_eq(queue_push_fair(&q, b[i], &lb), 0);
	}
	it = queue_pop(&q);
	ck_assert(it == a[2] || it == b[0]);
	it = queue_pop(&q);
	ck_assert(it == a[2] || it == b[0]);
	/* b's second item comes before a's last ones. */
	for (i = 0; i < 2; i++) {
		it = queue_pop(&q);
		ck_assert(it == a[3] || it == b[1]);
	}
	ck_assert_ptr_eq(queue_pop(&q), a[4]);
	ck_assert_ptr_eq(queue_pop(&q), a[5]);
	/* Priority still rules over fairness. */
	a[0]->priority = 5;
	queue_push_fair(&q, b[0], &lb);
	queue_push_fair(&q, a[0], &la);
	ck_assert_ptr_eq(queue_pop(&q), a[0]);
	ck_assert_ptr_eq(queue_pop(&q), b[0]);
	for (i = 0; i < 6; i++)
		free(a[i]);
	free(b[0]);
	free(b[1]);
	queue_free(&q);
}
END_TEST

START_TEST(test_idmap)
{
	struct idmap	 m;
	uint64_t	 k;
	size_t		 pos = 0, seen = 0;
	void		*v;

	idmap_init(&m);
	for (k = 1; k <= 10000; k++)
		ck_assert_int_eq(idmap_put(&m, k, (void *)(uintptr_t)(k * 3)), 0);
	ck_assert_uint_eq(idmap_len(&m), 10000);
	for (k = 1; k <= 10000; k += 2)
		ck_assert_ptr_eq(idmap_del(&m, k), (void *)(uintptr_t)(k * 3));
	ck_assert_uint_eq(idmap_len(&m), 5000);
	for (k = 1; k <= 10000; k++) {
		v = idmap_get(&m, k);
		if (k % 2)
			ck_assert_ptr_null(v);
		else
			ck_assert_ptr_eq(v, (void *)(uintptr_t)(k * 3));
	}
	ck_assert_ptr_null(idmap_get(&m, 0));
	ck_assert_ptr_null(idmap_del(&m, 1));
	while ((v = idmap_next(&m, &pos)) != NULL)
		seen++;
	ck_assert_uint_eq(seen, 5000);
	idmap_free(&m);
}
END_TEST

Suite *
queue_suite(void)
{
	Suite	*s = suite_create("queue");
	TCase	*tc = tcase_create("queue");

	tcase_add_test(tc, test_queue_fifo_within_priority);
	tcase_add_test(tc, test_queue_priority_order);
	tcase_add_test(tc, test_queue_front);
	tcase_add_test(tc, test_queue_remove);
	tcase_add_test(tc, test_queue_fair);
	tcase_add_test(tc, test_idmap);
	suite_add_tcase(s, tc);
	return s;
}

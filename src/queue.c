/*
 * The run queue as a binary heap ordered by (priority desc, seq asc).
 * Jobs pushed at the back take increasing seqs, jobs pushed at the front
 * decreasing ones, so a requeued job runs before every job of its priority
 * that was waiting, and never before a job of higher priority. With
 * queue_push_fair, each stream (user) numbers its jobs from the virtual
 * time (the highest seq popped), so streams interleave within a priority. Each item
 * knows its heap slot, so removal (a cancelled job) is O(log n). The queue
 * knows nothing of jobs or pools; its bound (queue_max) is the caller's.
 */
#include <stdint.h>
#include <stdlib.h>

#include "queue.h"

void
queue_init(struct queue *q)
{
	q->heap = NULL;
	q->len = q->cap = 0;
	q->back = 0;
	q->front = 0;
	q->vtime = 0;
}

void
queue_free(struct queue *q)
{
	free(q->heap);
	queue_init(q);
}

size_t
queue_len(const struct queue *q)
{
	return q->len;
}

int
queue_contains(const struct queue_item *it)
{
	return it->idx != QUEUE_NONE;
}

/* Does a run before b? */
static int
queue_before(const struct queue_item *a, const struct queue_item *b)
{
	if (a->priority != b->priority)
		return a->priority > b->priority;
	return a->seq < b->seq;
}

static void
queue_set(struct queue *q, size_t i, struct queue_item *it)
{
	q->heap[i] = it;
	it->idx = (uint32_t)i;
}

static void
queue_up(struct queue *q, size_t i)
{
	struct queue_item	*it = q->heap[i];
	size_t			 parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!queue_before(it, q->heap[parent]))
			break;
		queue_set(q, i, q->heap[parent]);
		i = parent;
	}
	queue_set(q, i, it);
}

static void
queue_down(struct queue *q, size_t i)
{
	struct queue_item	*it = q->heap[i];
	size_t			 child;

	for (;;) {
		child = 2 * i + 1;
		if (child >= q->len)
			break;
		if (child + 1 < q->len &&
		    queue_before(q->heap[child + 1], q->heap[child]))
			child++;
		if (!queue_before(q->heap[child], it))
			break;
		queue_set(q, i, q->heap[child]);
		i = child;
	}
	queue_set(q, i, it);
}

static int
queue_insert(struct queue *q, struct queue_item *it)
{
	struct queue_item	**heap;
	size_t			  cap;

	if (q->len >= QUEUE_CAP_MAX)
		return -1;
	if (q->len == q->cap) {
		cap = q->cap ? q->cap * 2 : 64;
		if ((heap = reallocarray(q->heap, cap, sizeof *heap)) == NULL)
			return -1;
		q->heap = heap;
		q->cap = cap;
	}
	q->heap[q->len] = it;
	it->idx = (uint32_t)q->len++;
	queue_up(q, it->idx);
	return 0;
}

int
queue_push_fair(struct queue *q, struct queue_item *it, int64_t *last)
{
	it->seq = (q->vtime > *last ? q->vtime : *last) + 1;
	*last = it->seq;
	return queue_insert(q, it);
}

int
queue_push(struct queue *q, struct queue_item *it)
{
	return queue_push_fair(q, it, &q->back);
}

int
queue_push_front(struct queue *q, struct queue_item *it)
{
	it->seq = q->front--;
	return queue_insert(q, it);
}

struct queue_item *
queue_peek(const struct queue *q)
{
	return q->len ? q->heap[0] : NULL;
}

void
queue_remove(struct queue *q, struct queue_item *it)
{
	size_t			 i = it->idx;
	struct queue_item	*last;

	if (i == QUEUE_NONE || i >= q->len || q->heap[i] != it)
		return;
	it->idx = QUEUE_NONE;
	last = q->heap[--q->len];
	if (i == q->len)
		return;
	queue_set(q, i, last);
	if (i > 0 && queue_before(last, q->heap[(i - 1) / 2]))
		queue_up(q, i);
	else
		queue_down(q, i);
}

struct queue_item *
queue_pop(struct queue *q)
{
	struct queue_item	*it = queue_peek(q);

	if (it != NULL) {
		queue_remove(q, it);
		if (it->seq > q->vtime)
			q->vtime = it->seq;
	}
	return it;
}

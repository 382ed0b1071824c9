/*
 * A pool's run queue: higher priority first, FIFO within a priority, with
 * a front door for jobs that go back after their worker died.
 */
#ifndef COMMIS_QUEUE_H
#define COMMIS_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* What the queue needs of an element; embedded in struct job. */
struct queue_item {
	int64_t		seq;		/* order within a priority */
	int32_t		priority;
	uint32_t	idx;		/* heap slot, QUEUE_NONE when out */
};
#define QUEUE_NONE	UINT32_MAX
/* The most items a queue holds (queue_max is below it). */
#define QUEUE_CAP_MAX	(UINT32_MAX - 1)

struct queue {
	struct queue_item	**heap;
	size_t			  len;
	size_t			  cap;
	int64_t			  back;		/* last seq of queue_push */
	int64_t			  front;	/* next seq at the front */
	int64_t			  vtime;	/* highest seq popped so far */
};

void			 queue_init(struct queue *);
void			 queue_free(struct queue *);
/* 0, or -1 when out of memory. */
int			 queue_push(struct queue *, struct queue_item *);
int			 queue_push_front(struct queue *, struct queue_item *);
/*
 * Fair queueing between streams (a pool's users): *last is the stream's
 * last seq. A stream's items keep their order, and a new stream's first
 * item goes right after what has already run, not behind another
 * stream's backlog.
 */
int			 queue_push_fair(struct queue *, struct queue_item *,
			    int64_t *last);
struct queue_item	*queue_pop(struct queue *);
struct queue_item	*queue_peek(const struct queue *);
void			 queue_remove(struct queue *, struct queue_item *);
size_t			 queue_len(const struct queue *);
int			 queue_contains(const struct queue_item *);

#endif

/*
 * Allocation failure on the decode and enqueue paths, for every k: the
 * k-th allocation fails, the path reports a clean error, and nothing it
 * allocated before is leaked.
 *
 * The seam: check_commis is linked with -Wl,--wrap for malloc, calloc,
 * realloc, reallocarray and free, so every call from commis's own objects
 * (and this test's) comes here first. Disarmed, the wrappers only pass
 * through. Armed, the k-th allocation returns NULL with ENOMEM, and every
 * block handed out is remembered until it is freed, so that a test can
 * ask whether anything allocated in the armed window is still live.
 * Allocations made inside the C library or libevent do not pass through
 * here (they are not linked statically); none of them is on these paths.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "frame.h"
#include "idmap.h"
#include "job.h"
#include "msg.h"
#include "pool.h"
#include "queue.h"
#include "sup.h"
#include "testlib.h"

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__real_reallocarray(void *, size_t, size_t);
void	 __real_free(void *);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);
void	*__wrap_reallocarray(void *, size_t, size_t);
void	 __wrap_free(void *);

#define LIVE_MAX	(1u << 16)	/* blocks tracked while armed */

static struct {
	int		 armed;
	unsigned long	 calls;		/* allocations while armed */
	unsigned long	 fail_at;	/* this one fails; 0: none */
	int		 failed;
	size_t		 nlive;
	int		 overflow;
	void		*live[LIVE_MAX];	/* open addressing, NULL free */
} seam;

static size_t
seam_slot(const void *p)
{
	uintptr_t	v = (uintptr_t)p;

	v ^= v >> 17;
	v *= 0x9e3779b97f4a7c15ULL;
	return (size_t)(v >> 20) & (LIVE_MAX - 1);
}

static void
seam_add(void *p)
{
	size_t	i = seam_slot(p);

	if (seam.nlive * 2 >= LIVE_MAX) {
		seam.overflow = 1;
		return;
	}
	while (seam.live[i] != NULL)
		i = (i + 1) & (LIVE_MAX - 1);
	seam.live[i] = p;
	seam.nlive++;
}

static void
seam_del(void *p)
{
	size_t	i = seam_slot(p), j, home;

	for (; seam.live[i] != NULL; i = (i + 1) & (LIVE_MAX - 1)) {
		if (seam.live[i] != p)
			continue;
		/* Backward shift, as in idmap.c. */
		for (j = (i + 1) & (LIVE_MAX - 1); seam.live[j] != NULL;
		    j = (j + 1) & (LIVE_MAX - 1)) {
			home = seam_slot(seam.live[j]);
			if (((j - home) & (LIVE_MAX - 1)) >=
			    ((j - i) & (LIVE_MAX - 1))) {
				seam.live[i] = seam.live[j];
				i = j;
			}
		}
		seam.live[i] = NULL;
		seam.nlive--;
		return;
	}
}

/* 1 when this allocation is the one to fail. */
static int
seam_fail(void)
{
	if (!seam.armed)
		return 0;
	if (++seam.calls == seam.fail_at) {
		seam.failed = 1;
		errno = ENOMEM;
		return 1;
	}
	return 0;
}

void *
__wrap_malloc(size_t n)
{
	void	*p;

	if (seam_fail())
		return NULL;
	if ((p = __real_malloc(n)) != NULL && seam.armed)
		seam_add(p);
	return p;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	void	*p;

	if (seam_fail())
		return NULL;
	if ((p = __real_calloc(n, size)) != NULL && seam.armed)
		seam_add(p);
	return p;
}

void *
__wrap_realloc(void *old, size_t n)
{
	void	*p;

	if (seam_fail())
		return NULL;
	if ((p = __real_realloc(old, n)) != NULL && seam.armed) {
		if (old != NULL)
			seam_del(old);
		seam_add(p);
	}
	return p;
}

void *
__wrap_reallocarray(void *old, size_t n, size_t size)
{
	void	*p;

	if (seam_fail())
		return NULL;
	if ((p = __real_reallocarray(old, n, size)) != NULL && seam.armed) {
		if (old != NULL)
			seam_del(old);
		seam_add(p);
	}
	return p;
}

void
__wrap_free(void *p)
{
	if (p != NULL && seam.nlive > 0)
		seam_del(p);
	__real_free(p);
}

static void
seam_arm(unsigned long fail_at)
{
	memset(&seam, 0, sizeof seam);
	seam.fail_at = fail_at;
	seam.armed = 1;
}

/* Stops failing; blocks from the window stay tracked until freed. */
static void
seam_disarm(void)
{
	seam.armed = 0;
}

/*
 * A stream of frames: PINGs and SUBMITs with payloads from 0 bytes to
 * 200 KiB, so that the decoder's buffer grows (and is released and
 * taken again) along the way.
 */
static uint8_t *
stream_make(size_t *len, unsigned *nframes)
{
	static const size_t	 sizes[] = { 0, 10, 5000, 70000, 3, 200000,
				    1, 65536, 0, 131072 };
	struct mbuf		 m;
	uint8_t			 hdr[COMMIS_FRAME_HDR_LEN], *p;
	size_t			 i, j;

	mbuf_init(&m);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		frame_hdr_encode(hdr, sizes[i] ? COMMIS_MSG_SUBMIT :
		    COMMIS_MSG_PING, 0, (uint32_t)sizes[i], i + 1);
		mbuf_add(&m, hdr, sizeof hdr);
		for (j = 0; j < sizes[i]; j++)
			mbuf_u8(&m, (uint8_t)(i + j));
	}
	ck_assert_int_eq(m.err, 0);
	ck_assert_ptr_ne(p = malloc(m.len), NULL);
	memcpy(p, m.data, m.len);
	*len = m.len;
	*nframes = (unsigned)(sizeof sizes / sizeof sizes[0]);
	mbuf_free(&m);
	return p;
}

/*
 * Feeds the stream in 4 KiB pieces the way chan.c reads a socket
 * (frames taken after each piece, the buffer released when empty).
 * Returns the frames decoded, -1 when an allocation failed and the
 * decoder said FRAME_ENOMEM, -2 for anything else. No ck_assert here:
 * Check allocates for every one, and it runs while the seam is armed.
 */
static int
stream_decode(const uint8_t *s, size_t len)
{
	struct frame_dec	 d;
	struct frame		 f;
	size_t			 off, n;
	int			 r, got = 0, rc = -2;

	frame_dec_init(&d, 256u << 10);
	for (off = 0; off < len; off += n) {
		n = len - off < 4096 ? len - off : 4096;
		if (frame_dec_feed(&d, s + off, n, -1) == -1) {
			rc = d.err == FRAME_ENOMEM ? -1 : -2;
			goto out;
		}
		while ((r = frame_dec_next(&d, &f)) == 1) {
			if (f.hdr.id != (uint64_t)got + 1)
				goto out;
			got++;
		}
		if (r != 0)
			goto out;
		frame_dec_release(&d);
	}
	rc = got;
out:
	frame_dec_free(&d);
	return rc;
}

START_TEST(test_alloc_decode)
{
	uint8_t		*s;
	size_t		 len;
	unsigned	 nframes, k, failures = 0;
	int		 rc;

	s = stream_make(&len, &nframes);
	/* Unarmed first: the whole stream decodes. */
	ck_assert_int_eq(stream_decode(s, len), (int)nframes);
	for (k = 1;; k++) {
		seam_arm(k);
		rc = stream_decode(s, len);
		seam_disarm();
		ck_assert_msg(!seam.overflow, "too many live blocks");
		ck_assert_msg(seam.nlive == 0, "k=%u: %zu blocks leaked", k,
		    seam.nlive);
		if (!seam.failed) {
			/* Past the last allocation: all came through. */
			ck_assert_int_eq(rc, (int)nframes);
			break;
		}
		ck_assert_int_eq(rc, -1);
		failures++;
	}
	/* Every allocation of the path was made to fail once. */
	ck_assert_uint_eq(failures, k - 1);
	ck_assert_uint_gt(failures, 1);
	free(s);
}
END_TEST

/*
 * The enqueue path as control_submit and pool_enqueue take it: job_new
 * (the job, a large input, the job-id table), the pool's queue and its
 * table of users' last places (fair queueing). n jobs of alternately 1
 * and 100 bytes of input, from 3 users. Returns the jobs queued before an
 * allocation failed (all n when none did; -1 when the job table itself
 * could not be made, -2 when the queue disagrees); on a failure the job
 * being made is dropped as control_submit drops it. Everything is freed.
 * No ck_assert while the seam may be armed (see stream_decode).
 */
static int
enqueue_run(struct event_base *base, unsigned n)
{
	struct supervisor	 sup;
	struct pool		 p;
	struct job_table	*t;
	struct job		*job;
	struct queue_item	*it;
	uint8_t			 data[100];
	uint64_t		 key;
	int64_t			 last;
	unsigned		 i;
	int			 queued = 0;

	memset(&sup, 0, sizeof sup);
	memset(&p, 0, sizeof p);
	memset(data, 'd', sizeof data);
	sup.base = base;
	snprintf(p.cfg.name, sizeof p.cfg.name, "p");
	p.sup = &sup;
	queue_init(&p.queue);
	idmap_init(&p.uid_last);
	if ((t = job_table_new(&sup)) == NULL) {
		queued = -1;
		goto out;
	}
	sup.jobs = t;
	for (i = 0; i < n; i++) {
		if ((job = job_new(t, &p, "echo", 0, 0, 0, 0, 0, data,
		    i % 2 ? sizeof data : 1)) == NULL)
			break;
		job->owner = i % 3;
		key = (uint64_t)job->owner + 1;
		last = (int64_t)(uintptr_t)idmap_get(&p.uid_last, key);
		if (queue_push_fair(&p.queue, &job->qi, &last) == -1) {
			job_discard(t, job);
			break;
		}
		idmap_del(&p.uid_last, key);
		/* pool.c only logs this one: the queue holds the job. */
		idmap_put(&p.uid_last, key, (void *)(uintptr_t)last);
		job->state = JOB_QUEUED;
		queued++;
	}
	if (queue_len(&p.queue) != (size_t)queued)
		queued = -2;
	while ((it = queue_pop(&p.queue)) != NULL)
		job_discard(t, (struct job *)it);
	job_table_free(t);
out:
	queue_free(&p.queue);
	idmap_free(&p.uid_last);
	return queued;
}

START_TEST(test_alloc_enqueue)
{
	enum { N = 300 };
	struct event_base	*base = event_base_new();
	unsigned		 k, failures = 0;
	int			 rc;

	ck_assert_ptr_nonnull(base);
	ck_assert_int_eq(enqueue_run(base, N), N);
	for (k = 1;; k++) {
		seam_arm(k);
		rc = enqueue_run(base, N);
		seam_disarm();
		ck_assert_msg(!seam.overflow, "too many live blocks");
		ck_assert_msg(seam.nlive == 0, "k=%u: %zu blocks leaked", k,
		    seam.nlive);
		if (!seam.failed) {
			ck_assert_int_eq(rc, N);
			break;
		}
		/* All N only when the failure was the fair-queueing table's,
		 * which pool.c only logs: the job is queued all the same. */
		ck_assert_int_ge(rc, -1);
		ck_assert_int_le(rc, N);
		failures++;
	}
	ck_assert_uint_eq(failures, k - 1);
	ck_assert_uint_gt(failures, N);	/* at least one per job */
	event_base_free(base);
}
END_TEST

Suite *
alloc_suite(void)
{
	Suite	*s = suite_create("alloc");
	TCase	*tc = tcase_create("seam");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_alloc_decode);
	tcase_add_test(tc, test_alloc_enqueue);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * The batching paths (docs/benchmarks.md): libcommis corking, commisd's
 * one write per peer per loop iteration, and the process worker's
 * coalesced replies. Whatever is batched, every job is delivered exactly
 * once and the requests of one connection are taken in the order sent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "commis/client.h"
#include "frame.h"
#include "msg.h"
#include "testlib.h"

#define CORK_MAX	(64u << 10) 	/* client_out.c */

/* Bytes waiting on the server's end of a connection, without blocking. */
static size_t
peer_take(int fd, struct frame_dec *d)
{
	size_t	total = 0;
	ssize_t	n;

	while ((n = frame_dec_recv(d, fd, MSG_DONTWAIT)) > 0)
		total += (size_t)n;
	ck_assert_msg(n == -1 && errno == EAGAIN, "recv: %zd %s", n,
	    strerror(errno));
	return total;
}

/* The next SUBMIT in d: its request id and data. */
static uint64_t
peer_submit(struct frame_dec *d, char *data, size_t size)
{
	struct frame	 f;
	struct mreader	 r;
	const uint8_t	*p;
	char		 name[COMMIS_NAME_MAX];
	size_t		 len;

	ck_assert_int_eq(frame_dec_next(d, &f), 1);
	ck_assert_int_eq(f.hdr.type, COMMIS_MSG_SUBMIT);
	mr_init(&r, f.payload, f.hdr.len);
	(void)mr_i32(&r);		/* priority */
	(void)mr_u32(&r);		/* timeout */
	(void)mr_u32(&r);		/* flags */
	(void)mr_u32(&r);		/* delay */
	(void)mr_u32(&r);		/* deadline */
	mr_str(&r, name, sizeof name);	/* pool */
	mr_str(&r, name, sizeof name);	/* handler */
	ck_assert_str_eq(name, "echo");
	p = mr_bytes(&r, &len);
	ck_assert_int_eq(mr_end(&r), 0);
	ck_assert_uint_lt(len, size);
	memcpy(data, p, len);
	data[len] = '\0';
	return f.hdr.id;
}

/*
 * Corking, seen from the server's end of the socket: nothing leaves until
 * a flush, then every frame in order; uncorked frames leave at once; a
 * cork that fills up writes by itself.
 */
START_TEST(test_cork_writes)
{
	struct sockaddr_un	 sa = { .sun_family = AF_UNIX };
	struct frame_dec	 d;
	commis_client		*c;
	char			*dir = test_tmpdir(), data[64], big[4096];
	uint64_t		 id, ids[3];
	int			 lfd, sfd, i;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s/s.sock", dir);
	ck_assert_int_ne(lfd = socket(AF_UNIX, SOCK_STREAM, 0), -1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 1), 0);
	ck_assert_int_eq(commis_connect(sa.sun_path, &c), COMMIS_OK);
	ck_assert_int_ne(sfd = accept(lfd, NULL, NULL), -1);
	frame_dec_init(&d, 1u << 20);

	ck_assert_int_eq(commis_cork(c), COMMIS_OK);
	for (i = 0; i < 3; i++) {
		snprintf(data, sizeof data, "job %d", i);
		ck_assert_int_eq(commis_submit_async(c, "echo", data,
		    strlen(data), NULL, &ids[i]), COMMIS_OK);
	}
	ck_assert_uint_eq(peer_take(sfd, &d), 0);
	ck_assert_int_eq(commis_flush(c), COMMIS_OK);
	ck_assert_uint_gt(peer_take(sfd, &d), 0);
	for (i = 0; i < 3; i++) {
		snprintf(big, sizeof big, "job %d", i);
		ck_assert_uint_eq(peer_submit(&d, data, sizeof data), ids[i]);
		ck_assert_str_eq(data, big);
	}
	ck_assert_int_eq(commis_flush(c), COMMIS_OK);	/* nothing left */
	ck_assert_uint_eq(peer_take(sfd, &d), 0);

	/* Full: the frame that reaches CORK_MAX writes everything. */
	memset(big, 'b', sizeof big);
	for (i = 0; (size_t)(i + 1) * sizeof big < CORK_MAX; i++) {
		ck_assert_int_eq(commis_submit_async(c, "echo", big,
		    sizeof big, NULL, &id), COMMIS_OK);
		ck_assert_uint_eq(peer_take(sfd, &d), 0);
	}
	ck_assert_int_eq(commis_submit_async(c, "echo", big, sizeof big,
	    NULL, &id), COMMIS_OK);
	ck_assert_uint_ge(peer_take(sfd, &d), CORK_MAX);

	/* Uncorked: the flush of what waits, then one write per frame. */
	ck_assert_int_eq(commis_submit_async(c, "echo", "w", 1, NULL, &id),
	    COMMIS_OK);
	ck_assert_uint_eq(peer_take(sfd, &d), 0);
	ck_assert_int_eq(commis_uncork(c), COMMIS_OK);
	ck_assert_uint_gt(peer_take(sfd, &d), 0);
	ck_assert_int_eq(commis_submit_async(c, "echo", "now", 3, NULL, &id),
	    COMMIS_OK);
	ck_assert_uint_gt(peer_take(sfd, &d), 0);

	frame_dec_free(&d);
	commis_close(c);
	close(sfd);
	close(lfd);
	test_rmdir(dir);
	free(dir);
}
END_TEST

/* Submits n corked echo jobs on cl whose data is "conn:i". */
static void
submit_many(commis_client *cl, int conn, unsigned n, uint64_t *ids)
{
	char		data[32];
	unsigned	i;

	ck_assert_int_eq(commis_cork(cl), COMMIS_OK);
	for (i = 0; i < n; i++) {
		snprintf(data, sizeof data, "%d:%u", conn, i);
		ck_assert_int_eq(commis_submit_async(cl, "echo", data,
		    strlen(data), NULL, &ids[i]), COMMIS_OK);
	}
}

/*
 * Collects the n results of one connection. Each request id comes back
 * once, with its own data. order: results come in the order submitted.
 * Job ids are handed out as commisd reads SUBMITs, so rising job ids in
 * request order show it took the connection's requests in order.
 */
static void
collect_many(commis_client *cl, int conn, unsigned n, const uint64_t *ids,
    uint64_t *jobs, int order)
{
	struct commis_result	r;
	unsigned		i, k, got = 0;
	char			want[32];
	char			*seen = calloc(n, 1);

	ck_assert_ptr_nonnull(seen);
	while (got < n) {
		ck_assert_int_eq(commis_wait_result(cl, 30000, &r), COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		ck_assert_uint_ge(r.request_id, ids[0]);
		k = (unsigned)(r.request_id - ids[0]);
		ck_assert_uint_lt(k, n);
		ck_assert_uint_eq(ids[k], r.request_id);
		ck_assert_msg(!seen[k], "request %u delivered twice", k);
		seen[k] = 1;
		if (order)
			ck_assert_uint_eq(k, got);
		snprintf(want, sizeof want, "%d:%u", conn, k);
		ck_assert_uint_eq(r.output_len, strlen(want));
		ck_assert(memcmp(r.output, want, r.output_len) == 0);
		jobs[k] = r.job_id;
		commis_result_free(&r);
		got++;
	}
	for (i = 1; i < n; i++)
		ck_assert_uint_gt(jobs[i], jobs[i - 1]);
	ck_assert_uint_eq(commis_pending(cl), 0);
	free(seen);
}

/* One worker with prefetch: results in exactly the order submitted. */
START_TEST(test_batch_in_order)
{
	enum { N = 20000 };
	struct ctx	 c;
	uint64_t	*ids = calloc(N, sizeof *ids);
	uint64_t	*jobs = calloc(N, sizeof *jobs);

	ck_assert(ids != NULL && jobs != NULL);
	ctx_start(&c, "pools:\n  - name: p\n    workers: 1\n"
	    "    prefetch: 64\n    queue_max: 100000\n");
	wait_ready(c.cl, 1);
	submit_many(c.cl, 0, N, ids);
	collect_many(c.cl, 0, N, ids, jobs, 1);
	ck_assert_int_eq(test_stat(c.cl, "succeeded"), N);
	ck_assert_int_eq(test_stat(c.cl, "retried"), 0);
	ctx_stop(&c);
	free(ids);
	free(jobs);
}
END_TEST

/*
 * Three corked connections at once on two workers with prefetch: each
 * job exactly once, to its own connection, each connection's requests
 * taken in order; the stats agree.
 */
START_TEST(test_batch_exactly_once)
{
	enum { N = 10000, CONNS = 3 };
	struct ctx	 c;
	commis_client	*cl[CONNS];
	uint64_t	*ids[CONNS], *jobs[CONNS];
	int		 i;

	ctx_start(&c, "pools:\n  - name: p\n    workers: 2\n"
	    "    prefetch: 64\n    queue_max: 100000\n");
	wait_ready(c.cl, 2);
	for (i = 0; i < CONNS; i++) {
		ck_assert_int_eq(commis_connect(c.d.sock, &cl[i]), COMMIS_OK);
		ids[i] = calloc(N, sizeof *ids[i]);
		jobs[i] = calloc(N, sizeof *jobs[i]);
		ck_assert(ids[i] != NULL && jobs[i] != NULL);
	}
	/* All three in flight before any result is read. */
	for (i = 0; i < CONNS; i++) {
		submit_many(cl[i], i, N, ids[i]);
		ck_assert_int_eq(commis_flush(cl[i]), COMMIS_OK);
	}
	for (i = 0; i < CONNS; i++)
		collect_many(cl[i], i, N, ids[i], jobs[i], 0);
	ck_assert_int_eq(test_stat(c.cl, "submitted"), CONNS * N);
	ck_assert_int_eq(test_stat(c.cl, "succeeded"), CONNS * N);
	for (i = 0; i < CONNS; i++) {
		commis_close(cl[i]);
		free(ids[i]);
		free(jobs[i]);
	}
	ctx_stop(&c);
}
END_TEST

/*
 * A corked client that writes while commisd has stopped reading it does
 * not deadlock: 256 results of 64 KiB (16 MiB, past commisd's 8 MiB
 * backpressure mark) are made to wait unread, then 4 MiB more of
 * requests go out; the flushes take the replies in while the socket is
 * full, which lets commisd read again.
 */
START_TEST(test_cork_no_deadlock)
{
	enum { BIG = 256, N = 1024, SIZE = 4096 };
	struct commis_result	 r;
	struct ctx		 c;
	commis_client		*watch;
	uint64_t		 id;
	char			*data = malloc(SIZE), yaml[4096];
	unsigned		 i, echoed = 0;

	ck_assert_ptr_nonnull(data);
	memset(data, 'd', SIZE);
	snprintf(yaml, sizeof yaml, "pools:\n  - name: p\n    workers: 2\n"
	    "    prefetch: 16\n    queue_max: 100000\n    modules: [%s]\n",
	    test_build_path("testmod.so"));
	ctx_start(&c, yaml);
	wait_ready(c.cl, 2);
	ck_assert_int_eq(commis_connect(c.d.sock, &watch), COMMIS_OK);
	ck_assert_int_eq(commis_cork(c.cl), COMMIS_OK);
	for (i = 0; i < BIG; i++)
		ck_assert_int_eq(commis_submit_async(c.cl, "test.big", "65536",
		    5, NULL, &id), COMMIS_OK);
	ck_assert_int_eq(commis_flush(c.cl), COMMIS_OK);
	test_wait_stat(watch, "succeeded", BIG);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(commis_submit_async(c.cl, "echo", data, SIZE,
		    NULL, &id), COMMIS_OK);
	for (i = 0; i < BIG + N; i++) {
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r),
		    COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		ck_assert_uint_eq(r.output_len, r.output_len == SIZE ? SIZE :
		    65536);
		echoed += r.output_len == SIZE;
		commis_result_free(&r);
	}
	ck_assert_uint_eq(echoed, N);
	ck_assert_uint_eq(commis_pending(c.cl), 0);
	commis_close(watch);
	ctx_stop(&c);
	free(data);
}
END_TEST

/*
 * What commisd keeps of finished jobs stays bounded: a result the
 * waiting submitter received is not kept; --no-wait results are, within
 * result_max_bytes, which counts each result's bookkeeping as well as its
 * bytes, so a flood of tiny results cannot grow without bound.
 */
START_TEST(test_results_bounded)
{
	enum { N = 2000 };
	struct commis_job_info	 info;
	struct commis_result	 r;
	struct ctx		 c;
	uint64_t		 job, first = 0;
	long long		 kept, bytes;
	unsigned		 i;

	ctx_start(&c, "result_max_bytes: 64K\n"
	    "pools:\n  - name: p\n    workers: 1\n");
	wait_ready(c.cl, 1);
	ck_assert_int_eq(submit(c.cl, "echo", "delivered", NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	job = r.job_id;
	commis_result_free(&r);
	ck_assert_int_eq(commis_status(c.cl, job, &info), COMMIS_ERR_REJECTED);
	ck_assert_int_eq(commis_client_errcode(c.cl), COMMIS_E_NO_JOB);
	ck_assert_int_eq(test_stat(c.cl, "results_kept"), 0);

	for (i = 0; i < N; i++) {
		ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", "k", 1,
		    NULL, &job), COMMIS_OK);
		if (first == 0)
			first = job;
	}
	test_wait_stat(c.cl, "succeeded", N + 1);
	kept = test_stat(c.cl, "results_kept");
	bytes = test_stat(c.cl, "results_bytes");
	ck_assert_int_gt(kept, 0);
	ck_assert_int_lt(kept, N);
	ck_assert_int_le(bytes, 64 * 1024);
	/* The newest is kept, the oldest was dropped first. */
	ck_assert_int_eq(commis_wait(c.cl, job, 0, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.output_len, 1);
	commis_result_free(&r);
	ck_assert_int_eq(commis_status(c.cl, first, &info),
	    COMMIS_ERR_REJECTED);
	ctx_stop(&c);
}
END_TEST

Suite *
batch_suite(void)
{
	Suite	*s = suite_create("batch");
	TCase	*tc;

	tc = tcase_create("cork");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_cork_writes);
	suite_add_tcase(s, tc);

	tc = tcase_create("delivery");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_batch_in_order);
	tcase_add_test(tc, test_batch_exactly_once);
	tcase_add_test(tc, test_cork_no_deadlock);
	tcase_add_test(tc, test_results_bounded);
	suite_add_tcase(s, tc);
	return s;
}

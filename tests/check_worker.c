/*
 * The worker process on its own: a test plays the supervisor on a
 * socketpair, forks worker_main(), and checks READY, JOB -> DONE for
 * success and failure, the result size limit, and soft cancellation
 * (CANCEL frames the handler sees through call->cancelled()).
 */
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "frame.h"
#include "handlers.h"
#include "msg.h"
#include "testlib.h"
#include "worker.h"

struct wt {
	int			 fd;
	pid_t			 pid;
	struct handler_set	*hs;
	struct pool_config	 cfg;
	struct frame_dec	 dec;
};

static void
wt_start(struct wt *t, uint32_t max_payload)
{
	struct worker_args	wa;
	int			sv[2];

	memset(t, 0, sizeof *t);
	snprintf(t->cfg.name, sizeof t->cfg.name, "t");
	t->hs = handlers_new();
	ck_assert_ptr_nonnull(t->hs);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	wa.cfg = &t->cfg;
	wa.handlers = t->hs;
	wa.fd = sv[1];
	wa.parent = getpid();
	wa.max_payload = max_payload;
	t->pid = fork();
	ck_assert_int_ne(t->pid, -1);
	if (t->pid == 0) {
		close(sv[0]);
		worker_main(&wa);
	}
	close(sv[1]);
	t->fd = sv[0];
	frame_dec_init(&t->dec, max_payload + COMMIS_FRAME_OVERHEAD);
}

/* Blocks for the next frame; copies its payload into m. */
static struct frame_hdr
wt_recv(struct wt *t, struct mbuf *m)
{
	struct frame	f;
	int		r;

	while ((r = frame_dec_next(&t->dec, &f)) == 0)
		ck_assert_int_gt(frame_dec_read(&t->dec, t->fd), 0);
	ck_assert_int_eq(r, 1);
	mbuf_reset(m);
	mbuf_add(m, f.payload, f.hdr.len);
	return f.hdr;
}

static void
wt_job(struct wt *t, uint64_t id, const char *handler, const char *input)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_str(&m, handler);
	mbuf_str(&m, input);
	ck_assert_int_eq(frame_send(t->fd, COMMIS_MSG_JOB, 0, id, m.data, m.len,
	    NULL, 0, -1), 0);
	mbuf_free(&m);
}

/* DONE for id: returns ok (0) or not, the error text and the output. */
static int
wt_done(struct wt *t, uint64_t id, char *err, size_t errsz, struct mbuf *out)
{
	struct frame_hdr	 h;
	struct mreader		 r;
	struct mbuf		 m;
	const uint8_t		*p;
	size_t			 n;
	int			 ok;

	mbuf_init(&m);
	/* STARTED comes first, then DONE. */
	h = wt_recv(t, &m);
	ck_assert_int_eq(h.type, COMMIS_MSG_STARTED);
	ck_assert_uint_eq(h.id, id);
	h = wt_recv(t, &m);
	ck_assert_int_eq(h.type, COMMIS_MSG_DONE);
	ck_assert_uint_eq(h.id, id);
	mr_init(&r, m.data, m.len);
	ok = mr_u8(&r);
	mr_str(&r, err, errsz);
	p = mr_bytes(&r, &n);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_reset(out);
	mbuf_add(out, p, n);
	mbuf_free(&m);
	return ok;
}

static int
wt_stop(struct wt *t)
{
	int	status;

	close(t->fd);
	ck_assert_int_eq(waitpid(t->pid, &status, 0), t->pid);
	frame_dec_free(&t->dec);
	handlers_free(t->hs);
	return status;
}

START_TEST(test_worker_jobs)
{
	struct frame_hdr	h;
	struct mbuf		m;
	struct wt		t;
	char			err[COMMIS_TEXT_MAX];
	int			status;

	mbuf_init(&m);
	wt_start(&t, 64);
	h = wt_recv(&t, &m);
	ck_assert_int_eq(h.type, COMMIS_MSG_READY);
	ck_assert_uint_eq(m.len, 4);

	wt_job(&t, 1, "echo", "hi");
	ck_assert_int_eq(wt_done(&t, 1, err, sizeof err, &m), 0);
	ck_assert_uint_eq(m.len, 2);
	ck_assert_mem_eq(m.data, "hi", 2);

	wt_job(&t, 2, "sleep", "x");
	ck_assert_int_eq(wt_done(&t, 2, err, sizeof err, &m), 1);
	ck_assert_ptr_nonnull(strstr(err, "sleep"));

	wt_job(&t, 3, "nope", "");
	ck_assert_int_eq(wt_done(&t, 3, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "no handler 'nope'");

	/* 65 bytes of output against a 64-byte limit. */
	wt_job(&t, 4, "echo", "0123456789012345678901234567890123456789"
	    "0123456789012345678901234");
	ck_assert_int_eq(wt_done(&t, 4, err, sizeof err, &m), 1);
	ck_assert_ptr_nonnull(strstr(err, "max_payload"));
	ck_assert_uint_eq(m.len, 0);

	/* A closed channel: the worker exits 0. */
	status = wt_stop(&t);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_worker_cancel)
{
	struct mbuf	m;
	struct wt	t;
	char		err[COMMIS_TEXT_MAX];
	uint64_t	t0;

	mbuf_init(&m);
	wt_start(&t, 1024);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);

	/* A CANCEL for another job is ignored; one for this job stops it. */
	t0 = test_now_ms();
	wt_job(&t, 7, "sleep", "30000");
	ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_CANCEL, 0, 6, NULL, 0,
	    NULL, 0, -1), 0);
	ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_CANCEL, 0, 7, NULL, 0,
	    NULL, 0, -1), 0);
	ck_assert_int_eq(wt_done(&t, 7, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "cancelled");
	ck_assert_uint_lt(test_now_ms() - t0, 30000);

	/* A stale CANCEL (its job is done) does not touch the next job. */
	ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_CANCEL, 0, 7, NULL, 0,
	    NULL, 0, -1), 0);
	wt_job(&t, 8, "sleep", "20");
	ck_assert_int_eq(wt_done(&t, 8, err, sizeof err, &m), 0);
	ck_assert_int_eq(WEXITSTATUS(wt_stop(&t)), 0);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_worker_bad_frame)
{
	struct mbuf	m;
	struct wt	t;
	int		status;

	mbuf_init(&m);
	wt_start(&t, 1024);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);
	/* A message a worker never gets: it exits with an error. */
	ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_STATS, 0, 1, "\0", 1,
	    NULL, 0, -1), 0);
	status = wt_stop(&t);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
	mbuf_free(&m);
}
END_TEST

Suite *
worker_suite(void)
{
	Suite	*s = suite_create("worker");
	TCase	*tc = tcase_create("worker");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_worker_jobs);
	tcase_add_test(tc, test_worker_cancel);
	tcase_add_test(tc, test_worker_bad_frame);
	suite_add_tcase(s, tc);
	return s;
}

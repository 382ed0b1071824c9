/*
 * libcommis (src/client.c) against a fake commisd written here: each test
 * binds and listens on a Unix socket in its own mkdtemp directory, then
 * forks a child that accepts one connection and plays a script of frames
 * (so the client can connect at once, no sleeps). The script checks what
 * the client sent and reports by exit status only; the test checks what
 * the library made of the replies. Segment tests count the test process's
 * open fds (/proc/self/fd) to show that every fd is closed by its owner.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commis/client.h"
#include "frame.h"
#include "msg.h"
#include "seg.h"
#include "testlib.h"

#define REPLY_MAX	(COMMIS_PAYLOAD_HARD_MAX + COMMIS_FRAME_OVERHEAD)
#define BIG_LEN		(3u << 20)

/* Fails the fake server, which the test sees as a non-zero exit. */
#define SRV_CHECK(e) do {						\
	if (!(e)) {							\
		fprintf(stderr, "fake server: %s:%d: %s\n",		\
		    __FILE__, __LINE__, #e);				\
		_exit(99);						\
	}								\
} while (0)

struct srv {
	int			fd;
	struct frame_dec	dec;
};

struct fake {
	char	*dir;
	char	 path[108];
	pid_t	 pid;
};

/* Next frame from the client: 1, or 0 at EOF. */
static int
srv_recv(struct srv *s, struct frame *f)
{
	ssize_t	n;
	int	r;

	for (;;) {
		r = frame_dec_next(&s->dec, f);
		SRV_CHECK(r != -1);
		if (r == 1)
			return 1;
		n = frame_dec_read(&s->dec, s->fd);
		if (n == 0)
			return 0;
		SRV_CHECK(n > 0 || errno == EINTR);
	}
}

static void
srv_expect(struct srv *s, struct frame *f, uint8_t type)
{
	SRV_CHECK(srv_recv(s, f) == 1);
	SRV_CHECK(f->hdr.type == type);
}

static void
srv_wait_eof(struct srv *s)
{
	struct frame	f;

	SRV_CHECK(srv_recv(s, &f) == 0);
}

/* A SUBMIT as read; data points into the decoder until the next read. */
struct sub {
	uint64_t	 id;
	int32_t		 priority;
	uint32_t	 timeout_ms;
	uint32_t	 flags;
	uint32_t	 delay_ms;
	uint32_t	 deadline_ms;
	char		 pool[COMMIS_NAME_MAX];
	char		 handler[COMMIS_NAME_MAX];
	const uint8_t	*data;
	size_t		 len;
	int		 fd;		/* the segment, or -1 */
};

static void
srv_sub(struct srv *s, struct sub *sb)
{
	struct frame	f;
	struct mreader	mr;

	srv_expect(s, &f, COMMIS_MSG_SUBMIT);
	sb->id = f.hdr.id;
	sb->fd = f.fd;
	mr_init(&mr, f.payload, f.hdr.len);
	sb->priority = mr_i32(&mr);
	sb->timeout_ms = mr_u32(&mr);
	sb->flags = mr_u32(&mr);
	sb->delay_ms = mr_u32(&mr);
	sb->deadline_ms = mr_u32(&mr);
	mr_str(&mr, sb->pool, sizeof sb->pool);
	mr_str(&mr, sb->handler, sizeof sb->handler);
	sb->data = mr_bytes(&mr, &sb->len);
	SRV_CHECK(mr_end(&mr) == 0);
}

/* A SUBMIT that waits for its RESULT (no flags). */
static uint64_t
srv_submit(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	SRV_CHECK(sb.flags == 0 && sb.fd == -1);
	return sb.id;
}

/* A STATUS, CANCEL_JOB or WAIT: its request id, job id and timeout. */
static uint64_t
srv_job_req(struct srv *s, uint8_t type, uint64_t *job, uint32_t *timeout)
{
	struct frame	f;
	struct mreader	mr;

	srv_expect(s, &f, type);
	mr_init(&mr, f.payload, f.hdr.len);
	*job = mr_u64(&mr);
	if (type == COMMIS_MSG_WAIT)
		*timeout = mr_u32(&mr);
	SRV_CHECK(mr_end(&mr) == 0);
	return f.hdr.id;
}

static void
srv_send(struct srv *s, uint8_t type, uint64_t id, const struct mbuf *m)
{
	SRV_CHECK(m == NULL || m->err == 0);
	SRV_CHECK(frame_send(s->fd, type, 0, id, m ? m->data : NULL,
	    m ? m->len : 0, NULL, 0, -1) == 0);
}

/*
 * The figures of protocol v4 that end a RESULT, made from its job id so
 * that a test can tell them apart: queue_us, run_us, cpu_us, maxrss_kb.
 */
#define T_QUEUE(job)	((job) * 10 + 1)
#define T_RUN(job)	((job) * 10 + 2)
#define T_CPU(job)	((job) * 10 + 3)
#define T_RSS(job)	((job) * 10 + 4)

static void
srv_times(struct mbuf *m, uint64_t job)
{
	mbuf_u64(m, T_QUEUE(job));
	mbuf_u64(m, T_RUN(job));
	mbuf_u64(m, T_CPU(job));
	mbuf_u64(m, T_RSS(job));
}

static void
srv_result(struct srv *s, uint64_t id, uint64_t job, int status,
    unsigned attempts, const char *cause, const void *out, size_t len)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u64(&m, job);
	mbuf_u8(&m, (uint8_t)status);
	mbuf_u16(&m, (uint16_t)attempts);
	mbuf_str(&m, cause);
	srv_times(&m, job);
	mbuf_bytes(&m, out, len);
	srv_send(s, COMMIS_MSG_RESULT, id, &m);
	mbuf_free(&m);
}

static void
check_times(const struct commis_result *r)
{
	ck_assert_uint_eq(r->queue_us, T_QUEUE(r->job_id));
	ck_assert_uint_eq(r->run_us, T_RUN(r->job_id));
	ck_assert_uint_eq(r->cpu_us, T_CPU(r->job_id));
	ck_assert_uint_eq(r->maxrss_kb, T_RSS(r->job_id));
}

static void
srv_output(struct srv *s, uint64_t id, const char *out)
{
	srv_result(s, id, id + 100, COMMIS_ST_SUCCEEDED, 1, "", out,
	    strlen(out));
}

static void
srv_text(struct srv *s, uint8_t type, uint64_t id, const char *text)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_bytes(&m, text, strlen(text));
	srv_send(s, type, id, &m);
	mbuf_free(&m);
}

static void
srv_u64(struct srv *s, uint8_t type, uint64_t id, uint64_t v)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u64(&m, v);
	srv_send(s, type, id, &m);
	mbuf_free(&m);
}

static void
srv_job_info(struct srv *s, uint64_t id, uint64_t job, int state, int status,
    unsigned attempts, const char *cause)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u64(&m, job);
	mbuf_u8(&m, (uint8_t)state);
	mbuf_u8(&m, (uint8_t)status);
	mbuf_u16(&m, (uint16_t)attempts);
	mbuf_str(&m, "p1");
	mbuf_str(&m, "echo");
	mbuf_str(&m, cause);
	srv_send(s, COMMIS_MSG_JOB_INFO, id, &m);
	mbuf_free(&m);
}

static void
srv_error(struct srv *s, uint64_t id, uint32_t code, const char *msg)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u32(&m, code);
	mbuf_str(&m, msg);
	srv_send(s, COMMIS_MSG_ERROR, id, &m);
	mbuf_free(&m);
}

static void
fake_start(struct fake *fk, void (*script)(struct srv *))
{
	struct sockaddr_un	sa;
	struct srv		s;
	int			lfd;

	fk->dir = test_tmpdir();
	ck_assert_ptr_nonnull(fk->dir);
	ck_assert_int_lt(snprintf(fk->path, sizeof fk->path, "%s/c.sock",
	    fk->dir), (int)sizeof fk->path);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, fk->path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ne(lfd, -1);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	fk->pid = fork();
	ck_assert_int_ne(fk->pid, -1);
	if (fk->pid == 0) {
		s.fd = accept(lfd, NULL, NULL);
		SRV_CHECK(s.fd != -1);
		close(lfd);
		frame_dec_init(&s.dec, REPLY_MAX);
		script(&s);
		_exit(0);
	}
	close(lfd);
}

/* Waits for the script and checks that it found what it expected. */
static void
fake_finish(struct fake *fk)
{
	int	st;

	ck_assert_int_eq(waitpid(fk->pid, &st, 0), fk->pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "fake server failed (status 0x%x)", st);
	test_rmdir(fk->dir);
	free(fk->dir);
}

static commis_client *
fake_connect(struct fake *fk, void (*script)(struct srv *))
{
	commis_client	*c;

	fake_start(fk, script);
	ck_assert_int_eq(commis_connect(fk->path, &c), COMMIS_OK);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_ge(commis_fd(c), 0);
	return c;
}

static void
check_output(const struct commis_result *r, const char *want)
{
	ck_assert_uint_eq(r->output_len, strlen(want));
	ck_assert_mem_eq(r->output, want, r->output_len);
}

/* --- submit_wait --- */

static void
script_submit_ok(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	SRV_CHECK(sb.id == 1 && sb.priority == -7 && sb.timeout_ms == 1500);
	SRV_CHECK(sb.flags == 0 && sb.delay_ms == 250 &&
	    sb.deadline_ms == 9000);
	SRV_CHECK(strcmp(sb.pool, "p1") == 0);
	SRV_CHECK(strcmp(sb.handler, "echo") == 0);
	SRV_CHECK(sb.len == 5 && memcmp(sb.data, "hello", 5) == 0);
	srv_result(s, sb.id, 42, COMMIS_ST_SUCCEEDED, 1, "", "hello", 5);
	/* Defaults: first pool, no data. */
	srv_sub(s, &sb);
	SRV_CHECK(sb.id == 2 && sb.priority == 0 && sb.timeout_ms == 0);
	SRV_CHECK(sb.flags == 0 && sb.delay_ms == 0 && sb.deadline_ms == 0);
	SRV_CHECK(sb.pool[0] == '\0' && sb.len == 0);
	srv_result(s, sb.id, 43, COMMIS_ST_SUCCEEDED, 1, "", NULL, 0);
	srv_wait_eof(s);
}

START_TEST(test_submit_wait_ok)
{
	struct fake			 fk;
	struct commis_submit_opts	 o = { "p1", -7, 1500, 250, 9000, NULL };
	struct commis_result		 r;
	commis_client			*c = fake_connect(&fk, script_submit_ok);

	ck_assert_int_eq(commis_submit_wait(c, "echo", "hello", 5, &o, &r),
	    COMMIS_OK);
	ck_assert_uint_eq(r.request_id, 1);
	ck_assert_uint_eq(r.job_id, 42);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_int_eq(r.error, 0);
	ck_assert_uint_eq(r.attempts, 1);
	ck_assert_str_eq(r.cause, "");
	check_output(&r, "hello");
	ck_assert_uint_eq(r.queue_us, 421);
	ck_assert_uint_eq(r.run_us, 422);
	ck_assert_uint_eq(r.cpu_us, 423);
	ck_assert_uint_eq(r.maxrss_kb, 424);
	commis_result_free(&r);
	ck_assert_ptr_null(r.output);

	ck_assert_int_eq(commis_submit_wait(c, "echo", NULL, 0, NULL, &r),
	    COMMIS_OK);
	ck_assert_uint_eq(r.request_id, 2);
	ck_assert_ptr_null(r.output);
	ck_assert_uint_eq(r.output_len, 0);
	check_times(&r);
	ck_assert_uint_eq(commis_pending(c), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_failed(struct srv *s)
{
	uint64_t	id = srv_submit(s);

	srv_result(s, id, 7, COMMIS_ST_FAILED, 3, "boom: bad input", "", 0);
	srv_wait_eof(s);
}

START_TEST(test_submit_wait_failed)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_failed);

	ck_assert_int_eq(commis_submit_wait(c, "h", "x", 1, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_int_eq(r.error, 0);
	ck_assert_uint_eq(r.job_id, 7);
	ck_assert_uint_eq(r.attempts, 3);
	ck_assert_str_eq(r.cause, "boom: bad input");
	ck_assert_ptr_null(r.output);
	commis_result_free(&r);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_rejected(struct srv *s)
{
	struct frame	f;
	uint64_t	id = srv_submit(s);

	srv_error(s, id, COMMIS_E_NO_HANDLER, "no handler nope in pool p");
	/* The connection stays usable after a rejection. */
	srv_expect(s, &f, COMMIS_MSG_PING);
	srv_send(s, COMMIS_MSG_PONG, f.hdr.id, NULL);
	srv_expect(s, &f, COMMIS_MSG_STATS);
	srv_error(s, f.hdr.id, COMMIS_E_UNSUPPORTED, "no stats today");
	srv_wait_eof(s);
}

START_TEST(test_submit_rejected)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_rejected);
	char			*text;

	ck_assert_int_eq(commis_submit_wait(c, "nope", "x", 1, NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_NO_HANDLER);
	ck_assert_uint_eq(r.job_id, 0);
	ck_assert_str_eq(r.cause, "no handler nope in pool p");
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "no such handler"));
	commis_result_free(&r);
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);
	ck_assert_int_eq(commis_stats(c, COMMIS_STATS_TEXT, &text),
	    COMMIS_ERR_REJECTED);
	ck_assert_ptr_null(text);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "no stats"));
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* --- asynchronous use --- */

static void
script_out_of_order(struct srv *s)
{
	struct sub	sb;
	char		data[3][2];
	uint64_t	id[3];
	int		i;

	for (i = 0; i < 3; i++) {
		srv_sub(s, &sb);
		SRV_CHECK(sb.len == 1);
		id[i] = sb.id;
		data[i][0] = (char)sb.data[0];
		data[i][1] = '\0';
	}
	SRV_CHECK(id[0] == 1 && id[1] == 2 && id[2] == 3);
	/* Answer 3, 1, 2, with the input echoed so it can be matched. */
	srv_output(s, id[2], data[2]);
	srv_output(s, id[0], data[0]);
	srv_error(s, id[1], COMMIS_E_QUEUE_FULL, "pool p is full");
	srv_wait_eof(s);
}

START_TEST(test_out_of_order)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_out_of_order);
	uint64_t		 id[3];

	ck_assert_int_eq(commis_submit_async(c, "echo", "a", 1, NULL, &id[0]),
	    COMMIS_OK);
	ck_assert_int_eq(commis_submit_async(c, "echo", "b", 1, NULL, &id[1]),
	    COMMIS_OK);
	ck_assert_int_eq(commis_submit_async(c, "echo", "c", 1, NULL, &id[2]),
	    COMMIS_OK);
	ck_assert_uint_eq(id[0], 1);
	ck_assert_uint_eq(id[1], 2);
	ck_assert_uint_eq(id[2], 3);
	ck_assert_uint_eq(commis_pending(c), 3);

	ck_assert_int_eq(commis_wait_result(c, 5000, &r), COMMIS_OK);
	ck_assert_uint_eq(r.request_id, id[2]);
	ck_assert_uint_eq(r.job_id, id[2] + 100);
	check_output(&r, "c");
	check_times(&r);	/* queued results keep them too */
	commis_result_free(&r);
	ck_assert_uint_eq(commis_pending(c), 2);

	ck_assert_int_eq(commis_wait_result(c, -1, &r), COMMIS_OK);
	ck_assert_uint_eq(r.request_id, id[0]);
	check_output(&r, "a");
	commis_result_free(&r);

	/* A rejection is a result too: out->error tells. */
	ck_assert_int_eq(commis_wait_result(c, 5000, &r), COMMIS_OK);
	ck_assert_uint_eq(r.request_id, id[1]);
	ck_assert_int_eq(r.error, COMMIS_E_QUEUE_FULL);
	ck_assert_str_eq(r.cause, "pool p is full");
	ck_assert_uint_eq(commis_pending(c), 0);

	/* Nothing left to wait for: an error, not a hang. */
	ck_assert_int_eq(commis_wait_result(c, -1, &r), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_poll_result(c, &r), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_ping_pending(struct srv *s)
{
	struct frame	f;
	struct mbuf	m;
	uint64_t	id1, id2, ping;

	id1 = srv_submit(s);
	id2 = srv_submit(s);
	srv_expect(s, &f, COMMIS_MSG_PING);
	SRV_CHECK(f.hdr.len == 0);
	ping = f.hdr.id;
	SRV_CHECK(ping == 3);
	srv_output(s, id1, "one");
	srv_send(s, COMMIS_MSG_PONG, ping, NULL);
	srv_expect(s, &f, COMMIS_MSG_STATS);
	SRV_CHECK(f.hdr.len == 1 && f.payload[0] == COMMIS_STATS_JSON);
	/* The stats reply comes after the other result, in one burst. */
	srv_output(s, id2, "two");
	mbuf_init(&m);
	mbuf_bytes(&m, "{\"pools\":[]}", 12);
	srv_send(s, COMMIS_MSG_STATS_REPLY, f.hdr.id, &m);
	mbuf_free(&m);
	srv_wait_eof(s);
}

START_TEST(test_ping_keeps_results)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_ping_pending);
	uint64_t		 id1, id2, rtt = 0;
	char			*text;

	ck_assert_int_eq(commis_submit_async(c, "a", NULL, 0, NULL, &id1), 0);
	ck_assert_int_eq(commis_submit_async(c, "b", NULL, 0, NULL, &id2), 0);
	ck_assert_int_eq(commis_ping(c, &rtt), COMMIS_OK);
	ck_assert_uint_gt(rtt, 0);
	ck_assert_uint_eq(commis_pending(c), 2);
	ck_assert_int_eq(commis_stats(c, COMMIS_STATS_JSON, &text), COMMIS_OK);
	ck_assert_str_eq(text, "{\"pools\":[]}");
	free(text);
	ck_assert_uint_eq(commis_pending(c), 2);

	ck_assert_int_eq(commis_poll_result(c, &r), 1);
	ck_assert_uint_eq(r.request_id, id1);
	check_output(&r, "one");
	commis_result_free(&r);
	ck_assert_int_eq(commis_poll_result(c, &r), 1);
	ck_assert_uint_eq(r.request_id, id2);
	check_output(&r, "two");
	commis_result_free(&r);
	ck_assert_int_eq(commis_poll_result(c, &r), 0);
	ck_assert_uint_eq(commis_pending(c), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_wait_among_async(struct srv *s)
{
	uint64_t	a, b;

	a = srv_submit(s);
	b = srv_submit(s);
	srv_output(s, a, "async");
	srv_output(s, b, "sync");
	srv_wait_eof(s);
}

START_TEST(test_submit_wait_among_async)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_wait_among_async);
	uint64_t		 a;

	ck_assert_int_eq(commis_submit_async(c, "x", "1", 1, NULL, &a), 0);
	ck_assert_int_eq(commis_submit_wait(c, "x", "2", 1, NULL, &r),
	    COMMIS_OK);
	ck_assert_uint_eq(r.request_id, a + 1);
	check_output(&r, "sync");
	commis_result_free(&r);
	ck_assert_uint_eq(commis_pending(c), 1);
	ck_assert_int_eq(commis_poll_result(c, &r), 1);
	ck_assert_uint_eq(r.request_id, a);
	check_output(&r, "async");
	commis_result_free(&r);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* The server answers only once it sees a PING: until then, nothing. */
static void
script_late(struct srv *s)
{
	struct frame	f;
	uint64_t	id = srv_submit(s);

	srv_expect(s, &f, COMMIS_MSG_PING);
	srv_output(s, id, "late");
	srv_send(s, COMMIS_MSG_PONG, f.hdr.id, NULL);
	srv_wait_eof(s);
}

START_TEST(test_poll_does_not_block)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_late);
	uint64_t		 t0;

	ck_assert_int_eq(commis_submit_async(c, "x", NULL, 0, NULL, NULL), 0);
	t0 = test_now_ms();
	ck_assert_int_eq(commis_poll_result(c, &r), 0);
	ck_assert_int_eq(commis_poll_result(c, &r), 0);
	ck_assert_uint_lt(test_now_ms() - t0, 1000);
	ck_assert_int_eq(commis_wait_result(c, 50, &r), COMMIS_ERR_TIMEOUT);
	ck_assert_uint_ge(test_now_ms() - t0, 40);
	ck_assert_uint_eq(commis_pending(c), 1);

	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);
	ck_assert_int_eq(commis_poll_result(c, &r), 1);
	check_output(&r, "late");
	commis_result_free(&r);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* --- jobs by id and operator commands --- */

static void
script_nowait(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	SRV_CHECK(sb.flags == COMMIS_SUBMIT_NOWAIT);
	SRV_CHECK(sb.priority == 3 && sb.delay_ms == 500 &&
	    sb.deadline_ms == 60000);
	SRV_CHECK(strcmp(sb.handler, "echo") == 0);
	SRV_CHECK(sb.len == 2 && memcmp(sb.data, "hi", 2) == 0);
	srv_u64(s, COMMIS_MSG_ACCEPTED, sb.id, 77);
	srv_sub(s, &sb);
	SRV_CHECK(sb.flags == COMMIS_SUBMIT_NOWAIT && sb.delay_ms == 0);
	srv_error(s, sb.id, COMMIS_E_QUEUE_FULL, "pool p1 is full");
	/* A NULL job_id still waits for the answer. */
	srv_sub(s, &sb);
	srv_u64(s, COMMIS_MSG_ACCEPTED, sb.id, 79);
	srv_wait_eof(s);
}

START_TEST(test_submit_nowait)
{
	struct fake			 fk;
	struct commis_submit_opts	 o = { "p1", 3, 0, 500, 60000, NULL };
	commis_client			*c = fake_connect(&fk, script_nowait);
	uint64_t			 job = 1;

	ck_assert_int_eq(commis_submit_nowait(c, "echo", "hi", 2, &o, &job),
	    COMMIS_OK);
	ck_assert_uint_eq(job, 77);
	ck_assert_uint_eq(commis_pending(c), 0);
	ck_assert_int_eq(commis_submit_nowait(c, "echo", "x", 1, NULL, &job),
	    COMMIS_ERR_REJECTED);
	ck_assert_uint_eq(job, 0);
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_QUEUE_FULL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "queue full: pool p1 is full"));
	ck_assert_int_eq(commis_submit_nowait(c, "echo", NULL, 0, NULL, NULL),
	    COMMIS_OK);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_status(struct srv *s)
{
	uint64_t	id, job;

	id = srv_job_req(s, COMMIS_MSG_STATUS, &job, NULL);
	SRV_CHECK(job == 12);
	srv_job_info(s, id, 12, COMMIS_JOB_DONE, COMMIS_ST_CRASHED, 3,
	    "worker died: signal 11");
	id = srv_job_req(s, COMMIS_MSG_STATUS, &job, NULL);
	SRV_CHECK(job == 13);
	srv_job_info(s, id, 13, COMMIS_JOB_DELAYED, 0, 0, "");
	id = srv_job_req(s, COMMIS_MSG_STATUS, &job, NULL);
	SRV_CHECK(job == 999);
	srv_error(s, id, COMMIS_E_NO_JOB, "no job 999");
	srv_wait_eof(s);
}

START_TEST(test_status)
{
	struct fake		 fk;
	struct commis_job_info	 info;
	commis_client		*c = fake_connect(&fk, script_status);

	ck_assert_int_eq(commis_status(c, 12, &info), COMMIS_OK);
	ck_assert_uint_eq(info.job_id, 12);
	ck_assert_int_eq(info.state, COMMIS_JOB_DONE);
	ck_assert_int_eq(info.status, COMMIS_ST_CRASHED);
	ck_assert_uint_eq(info.attempts, 3);
	ck_assert_str_eq(info.pool, "p1");
	ck_assert_str_eq(info.handler, "echo");
	ck_assert_str_eq(info.cause, "worker died: signal 11");

	ck_assert_int_eq(commis_status(c, 13, &info), COMMIS_OK);
	ck_assert_int_eq(info.state, COMMIS_JOB_DELAYED);
	ck_assert_uint_eq(info.attempts, 0);
	ck_assert_str_eq(info.cause, "");

	ck_assert_int_eq(commis_status(c, 999, &info), COMMIS_ERR_REJECTED);
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_NO_JOB);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "no such job: no job 999"));
	ck_assert_uint_eq(info.job_id, 0);
	/* Refused locally: the code is no longer a rejection's. */
	ck_assert_int_eq(commis_status(c, 0, &info), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_client_errcode(c), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* JOB_INFO about another job than asked, or with an unknown state. */
static void
script_status_bad(struct srv *s)
{
	uint64_t	id, job;

	id = srv_job_req(s, COMMIS_MSG_STATUS, &job, NULL);
	srv_job_info(s, id, job + 1, COMMIS_JOB_DONE, 0, 1, "");
	srv_wait_eof(s);
}

static void
script_state_bad(struct srv *s)
{
	uint64_t	id, job;

	id = srv_job_req(s, COMMIS_MSG_STATUS, &job, NULL);
	srv_job_info(s, id, job, COMMIS_JOB_DONE + 1, 0, 1, "");
	srv_wait_eof(s);
}

START_TEST(test_status_malformed)
{
	struct fake		 fk;
	struct commis_job_info	 info;
	commis_client		*c = fake_connect(&fk, script_status_bad);

	ck_assert_int_eq(commis_status(c, 5, &info), COMMIS_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "JOB_INFO"));
	commis_close(c);
	fake_finish(&fk);

	c = fake_connect(&fk, script_state_bad);
	ck_assert_int_eq(commis_status(c, 5, &info), COMMIS_ERR_PROTO);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_wait(struct srv *s)
{
	uint64_t	id, job;
	uint32_t	timeout;

	id = srv_job_req(s, COMMIS_MSG_WAIT, &job, &timeout);
	SRV_CHECK(id == 1 && job == 40 && timeout == 0);
	srv_result(s, id, 40, COMMIS_ST_FAILED, 2, "bad input", "out", 3);
	id = srv_job_req(s, COMMIS_MSG_WAIT, &job, &timeout);
	SRV_CHECK(id == 2 && job == 41 && timeout == 250);
	srv_error(s, id, COMMIS_E_TIMEOUT, "job 41 still running");
	id = srv_job_req(s, COMMIS_MSG_WAIT, &job, &timeout);
	SRV_CHECK(job == 42 && timeout == UINT32_MAX);
	srv_error(s, id, COMMIS_E_NO_JOB, "no job 42");
	srv_wait_eof(s);
}

START_TEST(test_wait)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_wait);

	ck_assert_int_eq(commis_wait(c, 40, 0, &r), COMMIS_OK);
	ck_assert_uint_eq(r.request_id, 1);
	ck_assert_uint_eq(r.job_id, 40);
	ck_assert_int_eq(r.error, 0);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_uint_eq(r.attempts, 2);
	ck_assert_str_eq(r.cause, "bad input");
	check_output(&r, "out");
	check_times(&r);
	commis_result_free(&r);

	/* The wait ran out, not the job. */
	ck_assert_int_eq(commis_wait(c, 41, 250, &r), COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_TIMEOUT);
	ck_assert_uint_eq(r.queue_us + r.run_us + r.cpu_us + r.maxrss_kb, 0);
	ck_assert_str_eq(r.cause, "job 41 still running");
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_TIMEOUT);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "wait timed out"));
	commis_result_free(&r);

	ck_assert_int_eq(commis_wait(c, 42, UINT32_MAX, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_NO_JOB);
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_NO_JOB);
	ck_assert_uint_eq(commis_pending(c), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_cancel(struct srv *s)
{
	uint64_t	id, job;

	id = srv_job_req(s, COMMIS_MSG_CANCEL_JOB, &job, NULL);
	SRV_CHECK(job == 8);
	srv_text(s, COMMIS_MSG_OK, id, "job 8 cancelled");
	id = srv_job_req(s, COMMIS_MSG_CANCEL_JOB, &job, NULL);
	SRV_CHECK(job == 9);
	srv_error(s, id, COMMIS_E_STATE, "job 9 already succeeded");
	/* A RESULT where OK belongs is a protocol error. */
	id = srv_job_req(s, COMMIS_MSG_CANCEL_JOB, &job, NULL);
	srv_output(s, id, "");
	srv_wait_eof(s);
}

START_TEST(test_cancel)
{
	struct fake	 fk;
	commis_client	*c = fake_connect(&fk, script_cancel);

	ck_assert_int_eq(commis_cancel(c, 8), COMMIS_OK);
	ck_assert_int_eq(commis_cancel(c, 9), COMMIS_ERR_REJECTED);
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_STATE);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "not possible in this state: job 9 already succeeded"));
	ck_assert_int_eq(commis_cancel(c, 10), COMMIS_ERR_PROTO);
	ck_assert_int_eq(commis_client_errcode(c), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

#define CONFIG_ERRORS							\
	"/etc/commis.yaml:4:14: workers: expected an integer\n"	\
	"/etc/commis.yaml:7:3: unknown key 'wrokers'"

static void
script_admin(struct srv *s)
{
	struct frame	f;
	struct mreader	mr;
	char		a[3][COMMIS_TEXT_MAX];

	srv_expect(s, &f, COMMIS_MSG_ADMIN);
	mr_init(&mr, f.payload, f.hdr.len);
	SRV_CHECK(mr_u32(&mr) == 3);
	mr_str(&mr, a[0], sizeof a[0]);
	mr_str(&mr, a[1], sizeof a[1]);
	mr_str(&mr, a[2], sizeof a[2]);
	SRV_CHECK(mr_end(&mr) == 0);
	SRV_CHECK(strcmp(a[0], "scale") == 0 && strcmp(a[1], "p1") == 0 &&
	    strcmp(a[2], "4") == 0);
	srv_text(s, COMMIS_MSG_OK, f.hdr.id, "pool p1: 4 workers\n");

	srv_expect(s, &f, COMMIS_MSG_ADMIN);
	mr_init(&mr, f.payload, f.hdr.len);
	SRV_CHECK(mr_u32(&mr) == 1);
	mr_str(&mr, a[0], sizeof a[0]);
	SRV_CHECK(mr_end(&mr) == 0 && strcmp(a[0], "reload") == 0);
	srv_error(s, f.hdr.id, COMMIS_E_CONFIG, CONFIG_ERRORS);

	/* An empty answer is an empty string, and "" is a valid argument. */
	srv_expect(s, &f, COMMIS_MSG_ADMIN);
	mr_init(&mr, f.payload, f.hdr.len);
	SRV_CHECK(mr_u32(&mr) == 2);
	mr_str(&mr, a[0], sizeof a[0]);
	mr_str(&mr, a[1], sizeof a[1]);
	SRV_CHECK(mr_end(&mr) == 0 && a[1][0] == '\0');
	srv_text(s, COMMIS_MSG_OK, f.hdr.id, "");
	srv_wait_eof(s);
}

START_TEST(test_admin)
{
	static const char *const scale[] = { "scale", "p1", "4" };
	static const char *const reload[] = { "reload" };
	static const char *const empty[] = { "dead", "" };
	static const char *const bad[] = { "retry", NULL };
	static const char *const noname[] = { "" };
	struct fake		 fk;
	commis_client		*c = fake_connect(&fk, script_admin);
	char			*text = (char *)&fk;

	ck_assert_int_eq(commis_admin(c, 3, scale, &text), COMMIS_OK);
	ck_assert_str_eq(text, "pool p1: 4 workers\n");
	free(text);

	ck_assert_int_eq(commis_admin(c, 1, reload, &text),
	    COMMIS_ERR_REJECTED);
	ck_assert_ptr_null(text);
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_CONFIG);
	ck_assert_str_eq(commis_client_error(c),
	    "rejected: configuration rejected: " CONFIG_ERRORS);

	/* Refused before anything is sent. */
	ck_assert_int_eq(commis_admin(c, 0, reload, &text), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_admin(c, 2, bad, &text), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_admin(c, 1, noname, &text), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_admin(c, 1, NULL, &text), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_admin(c, 1, reload, NULL), COMMIS_ERR_INVAL);

	ck_assert_int_eq(commis_admin(c, 2, empty, &text), COMMIS_OK);
	ck_assert_str_eq(text, "");
	free(text);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/*
 * Blocking calls of every kind while async submits are pending: their
 * replies come after, between and before RESULTs of the async ones, and a
 * WAIT's RESULT must not be taken for an async one (or the reverse).
 */
static void
script_mixed(struct srv *s)
{
	struct frame	f;
	uint64_t	a, b, id, job;
	uint32_t	timeout;

	a = srv_submit(s);
	b = srv_submit(s);
	id = srv_job_req(s, COMMIS_MSG_STATUS, &job, NULL);
	srv_output(s, a, "async a");
	srv_job_info(s, id, job, COMMIS_JOB_RUNNING, 0, 1, "");
	id = srv_job_req(s, COMMIS_MSG_WAIT, &job, &timeout);
	srv_result(s, id, job, COMMIS_ST_SUCCEEDED, 1, "", "waited", 6);
	srv_output(s, b, "async b");
	srv_expect(s, &f, COMMIS_MSG_ADMIN);
	srv_text(s, COMMIS_MSG_OK, f.hdr.id, "purged 0 jobs");
	srv_wait_eof(s);
}

START_TEST(test_mixed_out_of_order)
{
	static const char *const purge[] = { "purge" };
	struct fake		 fk;
	struct commis_job_info	 info;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_mixed);
	uint64_t		 a, b;
	char			*text;

	ck_assert_int_eq(commis_submit_async(c, "x", "1", 1, NULL, &a), 0);
	ck_assert_int_eq(commis_submit_async(c, "x", "2", 1, NULL, &b), 0);
	ck_assert_int_eq(commis_status(c, 500, &info), COMMIS_OK);
	ck_assert_int_eq(info.state, COMMIS_JOB_RUNNING);
	ck_assert_uint_eq(commis_pending(c), 2);

	ck_assert_int_eq(commis_wait(c, 500, 0, &r), COMMIS_OK);
	ck_assert_uint_eq(r.job_id, 500);
	check_output(&r, "waited");
	commis_result_free(&r);
	/* The ADMIN reply comes after async b's RESULT: b stays queued. */
	ck_assert_int_eq(commis_admin(c, 1, purge, &text), COMMIS_OK);
	ck_assert_str_eq(text, "purged 0 jobs");
	free(text);
	ck_assert_uint_eq(commis_pending(c), 2);

	ck_assert_int_eq(commis_poll_result(c, &r), 1);
	ck_assert_uint_eq(r.request_id, a);
	check_output(&r, "async a");
	commis_result_free(&r);
	ck_assert_int_eq(commis_poll_result(c, &r), 1);
	ck_assert_uint_eq(r.request_id, b);
	check_output(&r, "async b");
	commis_result_free(&r);
	ck_assert_int_eq(commis_poll_result(c, &r), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* An ACCEPTED nobody asked for (the async submit wanted a RESULT). */
static void
script_stray_accepted(struct srv *s)
{
	uint64_t	id = srv_submit(s);

	srv_u64(s, COMMIS_MSG_ACCEPTED, id, 3);
	srv_wait_eof(s);
}

static void
script_accepted_zero(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	srv_u64(s, COMMIS_MSG_ACCEPTED, sb.id, 0);
	srv_wait_eof(s);
}

START_TEST(test_accepted_malformed)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_stray_accepted);
	uint64_t		 job;

	ck_assert_int_eq(commis_submit_async(c, "x", NULL, 0, NULL, NULL), 0);
	ck_assert_int_eq(commis_wait_result(c, 5000, &r), COMMIS_ERR_PROTO);
	commis_close(c);
	fake_finish(&fk);

	c = fake_connect(&fk, script_accepted_zero);
	ck_assert_int_eq(commis_submit_nowait(c, "x", NULL, 0, NULL, &job),
	    COMMIS_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "ACCEPTED"));
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* --- a peer that misbehaves --- */

static void
script_garbage(struct srv *s)
{
	static const char	junk[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

	(void)srv_submit(s);
	SRV_CHECK(send(s->fd, junk, sizeof junk - 1, MSG_NOSIGNAL) ==
	    (ssize_t)(sizeof junk - 1));
	srv_wait_eof(s);
}

START_TEST(test_garbage)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_garbage);

	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "bad magic"));
	/* Sticky: the stream cannot be trusted any more. */
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_ERR_PROTO);
	ck_assert_int_eq(commis_poll_result(c, &r), COMMIS_ERR_PROTO);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_bad_payload(struct srv *s)
{
	struct mbuf	m;
	uint64_t	id = srv_submit(s);

	mbuf_init(&m);
	mbuf_u64(&m, 1);
	mbuf_u8(&m, COMMIS_ST_SUCCEEDED);
	mbuf_u16(&m, 1);
	mbuf_str(&m, "");
	srv_times(&m, 1);
	mbuf_bytes(&m, "x", 1);
	mbuf_u8(&m, 0);		/* one byte too many */
	srv_send(s, COMMIS_MSG_RESULT, id, &m);
	mbuf_free(&m);
	srv_wait_eof(s);
}

/* A version 3 RESULT: without the four u64 figures of version 4. */
static void
script_v3_result(struct srv *s)
{
	struct mbuf	m;
	uint64_t	id = srv_submit(s);

	mbuf_init(&m);
	mbuf_u64(&m, 1);
	mbuf_u8(&m, COMMIS_ST_SUCCEEDED);
	mbuf_u16(&m, 1);
	mbuf_str(&m, "");
	mbuf_bytes(&m, "x", 1);
	mbuf_u64(&m, 5);	/* three of the four */
	mbuf_u64(&m, 6);
	mbuf_u64(&m, 7);
	srv_send(s, COMMIS_MSG_RESULT, id, &m);
	mbuf_free(&m);
	srv_wait_eof(s);
}

static void
script_bad_status(struct srv *s)
{
	uint64_t	id = srv_submit(s);

	srv_result(s, id, 1, COMMIS_ST_LAST + 1, 1, "", "", 0);
	srv_wait_eof(s);
}

START_TEST(test_bad_payload)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_bad_payload);

	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	ck_assert_ptr_null(r.output);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "malformed"));
	commis_close(c);
	fake_finish(&fk);

	c = fake_connect(&fk, script_bad_status);
	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	commis_close(c);
	fake_finish(&fk);

	/* Short: the figures are not left half-filled. */
	c = fake_connect(&fk, script_v3_result);
	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "malformed"));
	ck_assert_uint_eq(r.queue_us + r.run_us + r.cpu_us + r.maxrss_kb, 0);
	ck_assert_ptr_null(r.output);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* Replies to ids never used, and a PONG where a RESULT belongs. */
static void
script_unknown_id(struct srv *s)
{
	uint64_t	id = srv_submit(s);

	srv_output(s, id + 41, "stray");
	srv_wait_eof(s);
}

static void
script_wrong_type(struct srv *s)
{
	uint64_t	id = srv_submit(s);

	srv_send(s, COMMIS_MSG_PONG, id, NULL);
	srv_wait_eof(s);
}

START_TEST(test_unexpected_reply)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_unknown_id);

	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	commis_close(c);
	fake_finish(&fk);

	c = fake_connect(&fk, script_wrong_type);
	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "type"));
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_close(struct srv *s)
{
	(void)srv_submit(s);
	close(s->fd);
}

START_TEST(test_server_closes)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_close);

	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_IO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "closed"));
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_ERR_IO);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_hang_up(struct srv *s)
{
	close(s->fd);
}

START_TEST(test_send_to_closed)
{
	struct fake	 fk;
	commis_client	*c = fake_connect(&fk, script_hang_up);

	/* Once the peer is gone, a send fails with EPIPE, not SIGPIPE. */
	fake_finish(&fk);
	ck_assert_int_eq(commis_submit_async(c, "x", "y", 1, NULL, NULL),
	    COMMIS_ERR_IO);
	ck_assert_uint_eq(commis_pending(c), 0);
	commis_close(c);
}
END_TEST

static void
script_version(struct srv *s)
{
	(void)srv_submit(s);
	srv_error(s, 0, COMMIS_E_VERSION, "protocol version 1 expected");
	close(s->fd);
}

START_TEST(test_connection_error)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_version);

	ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
	    COMMIS_ERR_PROTO);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "version mismatch: protocol version 1 expected"));
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* --- large payloads cross many reads and writes --- */

static void
script_big(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	SRV_CHECK(sb.len == BIG_LEN);
	srv_result(s, sb.id, 1, COMMIS_ST_SUCCEEDED, 1, "", sb.data, sb.len);
	srv_wait_eof(s);
}

START_TEST(test_big_roundtrip)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_big);
	uint8_t			*in;
	size_t			 i;

	in = malloc(BIG_LEN);
	ck_assert_ptr_nonnull(in);
	for (i = 0; i < BIG_LEN; i++)
		in[i] = (uint8_t)(i * 7 + (i >> 12));
	ck_assert_int_eq(commis_submit_wait(c, "echo", in, BIG_LEN, NULL, &r),
	    COMMIS_OK);
	ck_assert_uint_eq(r.output_len, BIG_LEN);
	ck_assert_int_eq(memcmp(r.output, in, BIG_LEN), 0);
	commis_result_free(&r);
	free(in);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* --- local checks --- */

START_TEST(test_connect_missing)
{
	commis_client	*c = (commis_client *)&c;
	char		 longp[200];

	errno = 0;
	ck_assert_int_eq(commis_connect("/nonexistent-commis/none.sock", &c),
	    COMMIS_ERR_CONNECT);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(c);

	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	longp[sizeof longp - 1] = '\0';
	ck_assert_int_eq(commis_connect(longp, &c), COMMIS_ERR_INVAL);

	unsetenv("COMMIS_SOCKET");
	ck_assert_int_eq(commis_connect(NULL, &c), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_connect("", &c), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_connect(NULL, NULL), COMMIS_ERR_INVAL);
}
END_TEST

static void
script_ping(struct srv *s)
{
	struct frame	f;

	srv_expect(s, &f, COMMIS_MSG_PING);
	srv_send(s, COMMIS_MSG_PONG, f.hdr.id, NULL);
	srv_wait_eof(s);
}

START_TEST(test_connect_env)
{
	struct fake	 fk;
	commis_client	*c;

	fake_start(&fk, script_ping);
	ck_assert_int_eq(setenv("COMMIS_SOCKET", fk.path, 1), 0);
	ck_assert_int_eq(commis_connect(NULL, &c), COMMIS_OK);
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

START_TEST(test_invalid_args)
{
	struct fake			 fk;
	struct commis_submit_opts	 o = { .pool = NULL };
	struct commis_result		 r;
	commis_client			*c = fake_connect(&fk, script_ping);
	char				 name[COMMIS_NAME_MAX + 1], *text;
	static const uint8_t		 one = 1;

	memset(name, 'h', sizeof name);
	name[COMMIS_NAME_MAX] = '\0';
	ck_assert_int_eq(commis_submit_wait(c, name, "x", 1, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "handler"));
	ck_assert_int_eq(commis_submit_async(c, name, "x", 1, NULL, NULL),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_wait(c, "", "x", 1, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_wait(c, NULL, "x", 1, NULL, &r),
	    COMMIS_ERR_INVAL);
	o.pool = name;
	ck_assert_int_eq(commis_submit_wait(c, "echo", "x", 1, &o, &r),
	    COMMIS_ERR_INVAL);
	/* Refused before a byte is read from the buffer. */
	ck_assert_int_eq(commis_submit_wait(c, "echo", &one,
	    (size_t)COMMIS_PAYLOAD_HARD_MAX + 1, NULL, &r), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_wait(c, "echo", NULL, 3, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_stats(c, 9, &text), COMMIS_ERR_INVAL);
	ck_assert_ptr_null(text);
	/* Events: not subscribed yet, and the arguments checked. */
	text = (char *)"x";
	ck_assert_int_eq(commis_next_event(c, 0, &text), COMMIS_ERR_INVAL);
	ck_assert_ptr_null(text);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "subscribed"));
	ck_assert_int_eq(commis_next_event(c, 0, NULL), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_next_event(NULL, 0, &text), COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_events(NULL), COMMIS_ERR_INVAL);
	/* The segment calls check the same way before sending. */
	ck_assert_int_eq(commis_submit_copy(c, name, "x", 1, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_copy(c, "echo", NULL, 1, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_copy(NULL, "echo", "x", 1, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_fd(c, "echo", -1, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_fd_async(c, "echo", -1, NULL, NULL),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_inplace(c, "echo", NULL, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_uint_eq(commis_pending(c), 0);
	/* Nothing was sent: the server's first frame is this PING. */
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* Results still queued at close are freed (ASan checks). */
static void
script_two_results(struct srv *s)
{
	uint64_t	a = srv_submit(s);
	uint64_t	b = srv_submit(s);
	struct frame	f;

	srv_output(s, a, "first");
	srv_output(s, b, "second");
	srv_expect(s, &f, COMMIS_MSG_PING);
	srv_send(s, COMMIS_MSG_PONG, f.hdr.id, NULL);
	srv_wait_eof(s);
}

START_TEST(test_close_with_queued)
{
	struct fake	 fk;
	commis_client	*c = fake_connect(&fk, script_two_results);

	ck_assert_int_eq(commis_submit_async(c, "x", NULL, 0, NULL, NULL), 0);
	ck_assert_int_eq(commis_submit_async(c, "x", NULL, 0, NULL, NULL), 0);
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);
	ck_assert_uint_eq(commis_pending(c), 2);
	commis_close(c);
	commis_close(NULL);
	fake_finish(&fk);
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(commis_status_name(COMMIS_ST_SUCCEEDED), "succeeded");
	ck_assert_str_eq(commis_status_name(COMMIS_ST_TIMEDOUT), "timedout");
	ck_assert_str_eq(commis_status_name(COMMIS_ST_EXPIRED), "expired");
	ck_assert_str_eq(commis_status_name(-1), "unknown");
	ck_assert_str_eq(commis_status_name(COMMIS_ST_LAST + 1), "unknown");
	ck_assert_str_eq(commis_err_name(COMMIS_E_PROTO), "protocol error");
	ck_assert_str_eq(commis_err_name(COMMIS_E_NO_HANDLER),
	    "no such handler");
	ck_assert_str_eq(commis_err_name(COMMIS_E_POOL_DOWN), "pool down");
	ck_assert_str_eq(commis_err_name(COMMIS_E_NO_JOB), "no such job");
	ck_assert_str_eq(commis_err_name(COMMIS_E_TIMEOUT), "wait timed out");
	ck_assert_str_eq(commis_err_name(COMMIS_E_BAD_ARGS), "bad arguments");
	ck_assert_str_eq(commis_err_name(COMMIS_E_CONFIG),
	    "configuration rejected");
	ck_assert_str_eq(commis_err_name(COMMIS_E_STATE),
	    "not possible in this state");
	ck_assert_str_eq(commis_err_name(COMMIS_E_SEGMENT), "segment refused");
	ck_assert_str_eq(commis_err_name(0), "unknown error");
	ck_assert_str_eq(commis_err_name(COMMIS_E_JOURNAL),
	    "journal write failed");
	ck_assert_str_eq(commis_err_name(COMMIS_E_JOURNAL + 1),
	    "unknown error");
	ck_assert_str_eq(commis_strerror(COMMIS_OK), "success");
	ck_assert_str_eq(commis_strerror(COMMIS_ERR_INVAL),
	    "invalid argument");
	ck_assert_str_eq(commis_strerror(-100), "unknown error");
	ck_assert_str_eq(commis_client_error(NULL), "no client");
	ck_assert_int_eq(commis_client_errcode(NULL), 0);
	ck_assert_int_eq(commis_fd(NULL), -1);
	ck_assert_uint_eq(commis_pending(NULL), 0);
	commis_result_free(NULL);
}
END_TEST

/* --- segments --- */

#define SEG_LEN		(1u << 20)

static uint8_t
seg_byte(size_t i)
{
	return (uint8_t)(i * 31 + (i >> 11) + 5);
}

/* Open fds of this process (the directory's own fd included). */
static int
count_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	struct dirent	*e;
	int		 n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

static void
fill_pattern(uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		p[i] = seg_byte(i);
}

static int
is_pattern(const uint8_t *p, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (p[i] != seg_byte(i))
			return 0;
	}
	return 1;
}

/* A memfd of len pattern bytes, with the given seals added (0: none). */
static int
make_memfd(size_t len, int seals)
{
	void	*map = NULL;
	int	 fd;

	if ((fd = seg_create("test", len, &map)) == -1)
		return -1;
	fill_pattern(map, len);
	seg_unmap(map, len);
	if (seals != 0 && fcntl(fd, F_ADD_SEALS, seals) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Server side: the segment of a SUBMIT has exactly these seals and holds
 * len pattern bytes. */
static void
srv_check_seg(int fd, int seals, size_t len)
{
	struct stat	 st;
	void		*p;

	SRV_CHECK(fd >= 0);
	SRV_CHECK(fcntl(fd, F_GET_SEALS) == seals);
	SRV_CHECK(fstat(fd, &st) == 0 && (size_t)st.st_size == len);
	if (len == 0)
		return;
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	SRV_CHECK(p != MAP_FAILED);
	SRV_CHECK(is_pattern(p, len));
	munmap(p, len);
}

/* A RESULT whose output is fd (and inline bytes, to test refusal). */
static void
srv_result_fd(struct srv *s, uint64_t id, int fd, const char *inline_out)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_u64(&m, id + 100);
	mbuf_u8(&m, COMMIS_ST_SUCCEEDED);
	mbuf_u16(&m, 1);
	mbuf_str(&m, "");
	srv_times(&m, id + 100);
	mbuf_str(&m, inline_out);
	SRV_CHECK(m.err == 0);
	SRV_CHECK(frame_send(s->fd, COMMIS_MSG_RESULT, 0, id, m.data, m.len,
	    NULL, 0, fd) == 0);
	mbuf_free(&m);
	close(fd);
}

static void
srv_sealed_result(struct srv *s, uint64_t id, size_t len)
{
	int	fd = make_memfd(len, COMMIS_SEALS_INPUT);

	SRV_CHECK(fd != -1);
	srv_result_fd(s, id, fd, "");
}

static void
script_result_fd(struct srv *s)
{
	srv_sealed_result(s, srv_submit(s), SEG_LEN);
	srv_wait_eof(s);
}

START_TEST(test_result_segment)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c;
	int			 base;

	c = fake_connect(&fk, script_result_fd);
	base = count_fds();
	ck_assert_int_eq(commis_submit_wait(c, "echo", "x", 1, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_int_eq(r.output_mapped, 1);
	ck_assert_int_ge(r.output_fd, 0);
	ck_assert_uint_eq(r.output_len, SEG_LEN);
	ck_assert(is_pattern(r.output, r.output_len));
	check_times(&r);
	ck_assert_int_eq(fcntl(r.output_fd, F_GET_SEALS), COMMIS_SEALS_INPUT);
	ck_assert_int_eq(count_fds(), base + 1);
	commis_result_free(&r);
	ck_assert_int_eq(count_fds(), base);
	ck_assert_ptr_null(r.output);
	ck_assert_uint_eq(r.output_len, 0);
	ck_assert_int_eq(r.output_fd, -1);
	ck_assert_int_eq(r.output_mapped, 0);
	/* A second free is harmless. */
	commis_result_free(&r);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* Which bad segment script_bad_seg sends (set before the fork). */
static int	bad_seg_kind;

static void
script_bad_seg(struct srv *s)
{
	uint64_t	id = srv_submit(s);
	int		fd = -1, pfd[2];

	switch (bad_seg_kind) {
	case 0:		/* sealing allowed, but no seal at all */
		fd = make_memfd(4096, 0);
		break;
	case 1:		/* in-place seals only: still writable */
		fd = make_memfd(4096, COMMIS_SEALS_INPLACE);
		break;
	case 2:		/* not a memfd */
		SRV_CHECK(pipe(pfd) == 0);
		close(pfd[1]);
		fd = pfd[0];
		break;
	case 3:		/* a good segment, and inline bytes too */
		fd = make_memfd(4096, COMMIS_SEALS_INPUT);
		break;
	}
	SRV_CHECK(fd != -1);
	srv_result_fd(s, id, fd, bad_seg_kind == 3 ? "extra" : "");
	srv_wait_eof(s);
}

START_TEST(test_result_segment_bad)
{
	static const char *const	 why[] = { "not sealed against",
	    "not sealed against: write, seal", "not a sealable memfd",
	    "segment and 5 bytes" };
	struct fake			 fk;
	struct commis_result		 r;
	commis_client			*c;
	int				 base;

	for (bad_seg_kind = 0; bad_seg_kind < 4; bad_seg_kind++) {
		c = fake_connect(&fk, script_bad_seg);
		base = count_fds();
		ck_assert_int_eq(commis_submit_wait(c, "x", NULL, 0, NULL, &r),
		    COMMIS_ERR_PROTO);
		ck_assert_msg(strstr(commis_client_error(c),
		    why[bad_seg_kind]) != NULL, "case %d: %s", bad_seg_kind,
		    commis_client_error(c));
		ck_assert_ptr_null(r.output);
		ck_assert_int_eq(r.output_fd, -1);
		/* The fd was closed, not leaked. */
		ck_assert_int_eq(count_fds(), base);
		commis_result_free(&r);
		commis_close(c);
		fake_finish(&fk);
	}
}
END_TEST

/* A result queued out of order keeps its segment until collected; one
 * never collected is closed by commis_close. */
static void
script_queued_segs(struct srv *s)
{
	uint64_t	a = srv_submit(s);
	uint64_t	b = srv_submit(s);
	uint64_t	w = srv_submit(s);
	struct frame	f;

	srv_sealed_result(s, a, SEG_LEN);
	srv_sealed_result(s, b, 3 * 4096);
	srv_sealed_result(s, w, 4096);
	srv_expect(s, &f, COMMIS_MSG_PING);
	srv_send(s, COMMIS_MSG_PONG, f.hdr.id, NULL);
	srv_wait_eof(s);
}

START_TEST(test_queued_segments)
{
	struct fake		 fk;
	struct commis_result	 r, q;
	commis_client		*c;
	int			 base;

	base = count_fds();
	c = fake_connect(&fk, script_queued_segs);
	ck_assert_int_eq(commis_submit_async(c, "a", NULL, 0, NULL, NULL), 0);
	ck_assert_int_eq(commis_submit_async(c, "b", NULL, 0, NULL, NULL), 0);
	ck_assert_int_eq(commis_submit_wait(c, "w", NULL, 0, NULL, &r),
	    COMMIS_OK);
	ck_assert_uint_eq(r.output_len, 4096);
	ck_assert(is_pattern(r.output, r.output_len));
	/* socket + the two queued segments + this one */
	ck_assert_int_eq(count_fds(), base + 4);
	commis_result_free(&r);
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);

	ck_assert_int_eq(commis_wait_result(c, 5000, &q), COMMIS_OK);
	ck_assert_uint_eq(q.request_id, 1);
	ck_assert_int_eq(q.output_mapped, 1);
	ck_assert_uint_eq(q.output_len, SEG_LEN);
	ck_assert(is_pattern(q.output, q.output_len));
	commis_result_free(&q);
	ck_assert_int_eq(count_fds(), base + 2);
	/* Request 2's result is never collected. */
	ck_assert_uint_eq(commis_pending(c), 1);
	commis_close(c);
	ck_assert_int_eq(count_fds(), base);
	fake_finish(&fk);
}
END_TEST

static void
script_copy(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	SRV_CHECK(strcmp(sb.handler, "sha256") == 0);
	SRV_CHECK(sb.len == 0 && sb.flags == 0);
	srv_check_seg(sb.fd, COMMIS_SEALS_INPUT, SEG_LEN);
	close(sb.fd);
	srv_output(s, sb.id, "copied");
	/* An empty input still travels as a segment. */
	srv_sub(s, &sb);
	SRV_CHECK(sb.len == 0);
	srv_check_seg(sb.fd, COMMIS_SEALS_INPUT, 0);
	close(sb.fd);
	srv_output(s, sb.id, "empty");
	srv_wait_eof(s);
}

START_TEST(test_submit_copy)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_copy);
	uint8_t			*in;
	int			 base = count_fds();

	in = malloc(SEG_LEN);
	ck_assert_ptr_nonnull(in);
	fill_pattern(in, SEG_LEN);
	ck_assert_int_eq(commis_submit_copy(c, "sha256", in, SEG_LEN, NULL,
	    &r), COMMIS_OK);
	check_output(&r, "copied");
	ck_assert_int_eq(r.output_fd, -1);
	ck_assert_int_eq(r.output_mapped, 0);
	commis_result_free(&r);
	/* The library's own segment fd is gone once sent. */
	ck_assert_int_eq(count_fds(), base);
	ck_assert_int_eq(commis_submit_copy(c, "sha256", NULL, 0, NULL, &r),
	    COMMIS_OK);
	check_output(&r, "empty");
	commis_result_free(&r);
	ck_assert_int_eq(count_fds(), base);
	free(in);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_submit_fd(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	SRV_CHECK(sb.len == 0 && sb.flags == 0);
	srv_check_seg(sb.fd, COMMIS_SEALS_INPUT, SEG_LEN);
	close(sb.fd);
	srv_output(s, sb.id, "one");
	/* The async form, with a segment that was sealed already. */
	srv_sub(s, &sb);
	srv_check_seg(sb.fd, COMMIS_SEALS_INPUT, 4096);
	close(sb.fd);
	srv_output(s, sb.id, "two");
	srv_wait_eof(s);
}

START_TEST(test_submit_fd)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_submit_fd);
	uint64_t		 id;
	int			 fd, fd2;

	fd = make_memfd(SEG_LEN, 0);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), 0);
	ck_assert_int_eq(commis_submit_fd(c, "echo", fd, NULL, &r), COMMIS_OK);
	check_output(&r, "one");
	commis_result_free(&r);
	/* The library sealed it, and the caller still owns it. */
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), COMMIS_SEALS_INPUT);
	ck_assert_int_eq(close(fd), 0);

	fd2 = make_memfd(4096, COMMIS_SEALS_INPUT);
	ck_assert_int_ne(fd2, -1);
	ck_assert_int_eq(commis_submit_fd_async(c, "echo", fd2, NULL, &id),
	    COMMIS_OK);
	ck_assert_uint_eq(commis_pending(c), 1);
	ck_assert_int_eq(commis_wait_result(c, 5000, &r), COMMIS_OK);
	ck_assert_uint_eq(r.request_id, id);
	check_output(&r, "two");
	commis_result_free(&r);
	ck_assert_int_eq(close(fd2), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* The refused calls send nothing: the first frame is the good SUBMIT. */
static void
script_submit_fd_once(struct srv *s)
{
	struct sub	sb;

	srv_sub(s, &sb);
	srv_check_seg(sb.fd, COMMIS_SEALS_INPUT, SEG_LEN);
	close(sb.fd);
	srv_output(s, sb.id, "ok");
	srv_wait_eof(s);
}

START_TEST(test_submit_fd_refused)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_submit_fd_once);
	uint8_t			*map;
	int			 fd, nofd, pfd[2];

	fd = make_memfd(SEG_LEN, 0);
	ck_assert_int_ne(fd, -1);
	map = mmap(NULL, SEG_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	ck_assert_int_eq(commis_submit_fd(c, "echo", fd, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c),
	    "mapped writable"));
	ck_assert_int_eq(r.output_fd, -1);
	ck_assert_int_eq(commis_submit_fd_async(c, "echo", fd, NULL, NULL),
	    COMMIS_ERR_INVAL);
	ck_assert_uint_eq(commis_pending(c), 0);
	/* Nothing was sealed: the caller may still write. */
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), 0);
	map[0] = seg_byte(0);

	/* Not a memfd; a memfd that does not allow sealing; no fd. */
	ck_assert_int_eq(pipe(pfd), 0);
	ck_assert_int_eq(commis_submit_fd(c, "echo", pfd[0], NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "not a memfd"));
	close(pfd[0]);
	close(pfd[1]);
	nofd = memfd_create("nosealing", MFD_CLOEXEC);
	ck_assert_int_ne(nofd, -1);
	ck_assert_int_eq(commis_submit_fd(c, "echo", nofd, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "F_SEAL_SEAL"));
	close(nofd);
	ck_assert_int_eq(commis_submit_fd(c, "echo", -1, NULL, &r),
	    COMMIS_ERR_INVAL);

	/* Once unmapped, the same fd goes. */
	ck_assert_int_eq(munmap(map, SEG_LEN), 0);
	ck_assert_int_eq(commis_submit_fd(c, "echo", fd, NULL, &r), COMMIS_OK);
	check_output(&r, "ok");
	commis_result_free(&r);
	close(fd);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

START_TEST(test_segpool)
{
	commis_segpool		*p;
	struct commis_seg	*a, *b, *big, *e, *n;
	uint8_t			*adata;
	int			 base = count_fds(), afd;

	p = commis_segpool_new(3 * SEG_LEN);
	ck_assert_ptr_nonnull(p);
	a = commis_seg_get(p, SEG_LEN);
	ck_assert_ptr_nonnull(a);
	ck_assert_uint_eq(a->size, SEG_LEN);
	/* Size sealed, contents writable. */
	ck_assert_int_eq(fcntl(a->fd, F_GET_SEALS), COMMIS_SEALS_INPLACE);
	fill_pattern(a->data, a->size);
	afd = a->fd;
	adata = a->data;
	commis_seg_put(p, a);
	ck_assert_int_eq(count_fds(), base + 1);

	/* The same size comes back from the pool, contents and all. */
	b = commis_seg_get(p, SEG_LEN);
	ck_assert_ptr_eq(b, a);
	ck_assert_int_eq(b->fd, afd);
	ck_assert_ptr_eq(b->data, adata);
	ck_assert(is_pattern(b->data, b->size));
	ck_assert_int_eq(count_fds(), base + 1);

	/* Another size is a new segment. */
	big = commis_seg_get(p, 2 * SEG_LEN);
	ck_assert_ptr_nonnull(big);
	ck_assert_ptr_ne(big, b);
	ck_assert_int_ne(big->fd, b->fd);
	ck_assert_int_eq(count_fds(), base + 2);
	commis_seg_put(p, b);
	commis_seg_put(p, big);
	/* 3 MiB idle: at the bound, both kept. */
	ck_assert_int_eq(count_fds(), base + 2);

	/* 1.5 MiB more: the oldest (1 MiB, then 2 MiB) go. */
	e = commis_seg_get(p, SEG_LEN + SEG_LEN / 2);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(count_fds(), base + 3);
	commis_seg_put(p, e);
	ck_assert_int_eq(count_fds(), base + 1);
	n = commis_seg_get(p, SEG_LEN);
	ck_assert_ptr_nonnull(n);
	ck_assert_int_eq(count_fds(), base + 2);	/* not from the pool */
	commis_seg_put(p, n);

	/* Larger than the whole pool: freed at once, the rest kept. */
	e = commis_seg_get(p, 4 * SEG_LEN);
	ck_assert_ptr_nonnull(e);
	commis_seg_put(p, e);
	ck_assert_int_eq(count_fds(), base + 2);

	/* No pool: a plain segment, freed by put. */
	e = commis_seg_get(NULL, 4096);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(count_fds(), base + 3);
	commis_seg_put(NULL, e);
	ck_assert_int_eq(count_fds(), base + 2);

	errno = 0;
	ck_assert_ptr_null(commis_seg_get(p, 0));
	ck_assert_int_eq(errno, EINVAL);
	commis_seg_put(p, NULL);
	commis_segpool_free(p);
	commis_segpool_free(NULL);
	ck_assert_int_eq(count_fds(), base);
}
END_TEST

/* A fake in-place handler: upper-cases the segment through its own map. */
static void
script_inplace(struct srv *s)
{
	struct sub	 sb;
	struct stat	 st;
	uint8_t		*p;
	size_t		 i;

	srv_sub(s, &sb);
	SRV_CHECK(sb.flags == COMMIS_SUBMIT_INPLACE && sb.len == 0);
	SRV_CHECK(strcmp(sb.handler, "upper") == 0);
	SRV_CHECK(sb.fd >= 0);
	SRV_CHECK(fcntl(sb.fd, F_GET_SEALS) == COMMIS_SEALS_INPLACE);
	SRV_CHECK(fstat(sb.fd, &st) == 0 && st.st_size == 4096);
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, sb.fd, 0);
	SRV_CHECK(p != MAP_FAILED);
	for (i = 0; i < 4096; i++) {
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] = (uint8_t)(p[i] - 'a' + 'A');
	}
	munmap(p, 4096);
	close(sb.fd);
	srv_result(s, sb.id, 7, COMMIS_ST_SUCCEEDED, 1, "", NULL, 0);
	srv_wait_eof(s);
}

START_TEST(test_submit_inplace)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_inplace);
	commis_segpool		*p = commis_segpool_new(1u << 20);
	struct commis_seg	*seg, fake;
	int			 base = count_fds(), fd;

	ck_assert_ptr_nonnull(p);
	seg = commis_seg_get(p, 4096);
	ck_assert_ptr_nonnull(seg);
	memset(seg->data, 0, seg->size);
	memcpy(seg->data, "hello, in place", 15);

	/* Refused without a word to the server: no segment, or one whose
	 * contents are sealed. */
	ck_assert_int_eq(commis_submit_inplace(c, "upper", NULL, NULL, &r),
	    COMMIS_ERR_INVAL);
	fd = make_memfd(4096, COMMIS_SEALS_INPUT);
	ck_assert_int_ne(fd, -1);
	fake.fd = fd;
	fake.data = NULL;
	fake.size = 4096;
	ck_assert_int_eq(commis_submit_inplace(c, "upper", &fake, NULL, &r),
	    COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "in place"));
	close(fd);

	ck_assert_int_eq(commis_submit_inplace(c, "upper", seg, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_ptr_null(r.output);
	ck_assert_uint_eq(r.output_len, 0);
	ck_assert_int_eq(r.output_fd, -1);
	ck_assert_mem_eq(seg->data, "HELLO, IN PLACE", 15);
	/* Still only size-sealed: reusable. */
	ck_assert_int_eq(fcntl(seg->fd, F_GET_SEALS), COMMIS_SEALS_INPLACE);
	commis_result_free(&r);
	commis_seg_put(p, seg);
	ck_assert_int_eq(count_fds(), base + 1);
	commis_segpool_free(p);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* --- events --- */

static const char *const ev_json[] = {
	"{\"type\":\"accepted\",\"job\":1,\"pool\":\"p\"}",
	"{\"type\":\"started\",\"job\":1,\"pid\":77}",
	"{\"type\":\"finished\",\"job\":1,\"status\":\"succeeded\"}",
};

/* EVENTS (empty), its OK, then the events under its request id. */
static uint64_t
srv_events(struct srv *s)
{
	struct frame	f;

	srv_expect(s, &f, COMMIS_MSG_EVENTS);
	SRV_CHECK(f.hdr.len == 0 && f.fd == -1);
	srv_text(s, COMMIS_MSG_OK, f.hdr.id, "subscribed");
	return f.hdr.id;
}

static void
script_events(struct srv *s)
{
	uint64_t	id = srv_events(s);
	size_t		i;

	for (i = 0; i < 3; i++)
		srv_text(s, COMMIS_MSG_EVENT, id, ev_json[i]);
	/* Nothing more until the client hangs up; nothing else from it. */
	srv_wait_eof(s);
}

START_TEST(test_events)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_events);
	char			*json, *text;
	uint64_t		 t0;
	size_t			 i;

	ck_assert_int_eq(commis_events(c), COMMIS_OK);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(commis_next_event(c, 5000, &json), COMMIS_OK);
		ck_assert_ptr_nonnull(json);
		ck_assert_str_eq(json, ev_json[i]);
		free(json);
	}
	/* The time runs out: 0, and no event. */
	t0 = test_now_ms();
	json = (char *)"x";
	ck_assert_int_eq(commis_next_event(c, 100, &json), COMMIS_OK);
	ck_assert_ptr_null(json);
	ck_assert_uint_ge(test_now_ms() - t0, 90);
	ck_assert_int_eq(commis_next_event(c, 0, &json), COMMIS_OK);
	ck_assert_ptr_null(json);
	/* The stream takes no requests, and holds no results. */
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "event stream"));
	ck_assert_int_eq(commis_stats(c, COMMIS_STATS_JSON, &text),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_submit_async(c, "x", NULL, 0, NULL, NULL),
	    COMMIS_ERR_INVAL);
	ck_assert_int_eq(commis_poll_result(c, &r), 0);
	ck_assert_int_eq(commis_events(c), COMMIS_ERR_INVAL);
	ck_assert_uint_eq(commis_pending(c), 0);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

static void
script_events_refused(struct srv *s)
{
	struct frame	f;

	srv_expect(s, &f, COMMIS_MSG_EVENTS);
	srv_error(s, f.hdr.id, COMMIS_E_DENIED, "events need the read role");
	/* The connection stays a normal one. */
	srv_expect(s, &f, COMMIS_MSG_PING);
	srv_send(s, COMMIS_MSG_PONG, f.hdr.id, NULL);
	srv_wait_eof(s);
}

START_TEST(test_events_refused)
{
	struct fake	 fk;
	commis_client	*c = fake_connect(&fk, script_events_refused);
	char		*json;

	ck_assert_int_eq(commis_events(c), COMMIS_ERR_REJECTED);
	ck_assert_int_eq(commis_client_errcode(c), COMMIS_E_DENIED);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "read role"));
	ck_assert_int_eq(commis_next_event(c, 0, &json), COMMIS_ERR_INVAL);
	ck_assert_ptr_null(json);
	ck_assert_int_eq(commis_ping(c, NULL), COMMIS_OK);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* An async result outstanding: refused until it is collected. */
static void
script_events_pending(struct srv *s)
{
	uint64_t	id = srv_submit(s);

	srv_output(s, id, "r");
	id = srv_events(s);
	srv_text(s, COMMIS_MSG_EVENT, id, ev_json[0]);
	srv_wait_eof(s);
}

START_TEST(test_events_pending)
{
	struct fake		 fk;
	struct commis_result	 r;
	commis_client		*c = fake_connect(&fk, script_events_pending);
	char			*json;

	ck_assert_int_eq(commis_submit_async(c, "echo", NULL, 0, NULL, NULL),
	    COMMIS_OK);
	ck_assert_int_eq(commis_events(c), COMMIS_ERR_INVAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c), "pending"));
	ck_assert_int_eq(commis_wait_result(c, 5000, &r), COMMIS_OK);
	check_output(&r, "r");
	commis_result_free(&r);
	ck_assert_int_eq(commis_events(c), COMMIS_OK);
	ck_assert_int_eq(commis_next_event(c, -1, &json), COMMIS_OK);
	ck_assert_str_eq(json, ev_json[0]);
	free(json);
	commis_close(c);
	fake_finish(&fk);
}
END_TEST

/* Which way script_events_end ends the stream (set before the fork). */
static int	ev_end_kind;

static void
script_events_end(struct srv *s)
{
	struct mbuf	m;
	uint64_t	id = srv_events(s);

	srv_text(s, COMMIS_MSG_EVENT, id, ev_json[0]);
	switch (ev_end_kind) {
	case 0:			/* commisd stops */
		close(s->fd);
		return;
	case 1:			/* an ERROR on the subscription */
		srv_error(s, id, COMMIS_E_SHUTDOWN, "shutting down");
		break;
	case 2:			/* a NUL inside the JSON */
		mbuf_init(&m);
		mbuf_bytes(&m, "{\"type\":\0\"x\"}", 13);
		srv_send(s, COMMIS_MSG_EVENT, id, &m);
		mbuf_free(&m);
		break;
	case 3:			/* bytes after the json field */
		mbuf_init(&m);
		mbuf_str(&m, "{}");
		mbuf_u8(&m, 0);
		srv_send(s, COMMIS_MSG_EVENT, id, &m);
		mbuf_free(&m);
		break;
	}
	srv_wait_eof(s);
}

START_TEST(test_events_end)
{
	static const int	 want[] = { COMMIS_ERR_IO, COMMIS_ERR_REJECTED,
	    COMMIS_ERR_PROTO, COMMIS_ERR_PROTO };
	struct fake		 fk;
	commis_client		*c;
	char			*json;

	for (ev_end_kind = 0; ev_end_kind < 4; ev_end_kind++) {
		c = fake_connect(&fk, script_events_end);
		ck_assert_int_eq(commis_events(c), COMMIS_OK);
		ck_assert_int_eq(commis_next_event(c, 5000, &json), COMMIS_OK);
		ck_assert_str_eq(json, ev_json[0]);
		free(json);
		ck_assert_int_eq(commis_next_event(c, 5000, &json),
		    want[ev_end_kind]);
		ck_assert_ptr_null(json);
		if (ev_end_kind == 1)
			ck_assert_int_eq(commis_client_errcode(c),
			    COMMIS_E_SHUTDOWN);
		/* Sticky: the stream is over. */
		ck_assert_int_eq(commis_next_event(c, 0, &json),
		    want[ev_end_kind]);
		commis_close(c);
		fake_finish(&fk);
	}
}
END_TEST

Suite *
client_suite(void)
{
	Suite	*s = suite_create("client");
	TCase	*tc;

	tc = tcase_create("replies");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_submit_wait_ok);
	tcase_add_test(tc, test_submit_wait_failed);
	tcase_add_test(tc, test_submit_rejected);
	tcase_add_test(tc, test_out_of_order);
	tcase_add_test(tc, test_ping_keeps_results);
	tcase_add_test(tc, test_submit_wait_among_async);
	tcase_add_test(tc, test_poll_does_not_block);
	tcase_add_test(tc, test_big_roundtrip);
	tcase_add_test(tc, test_close_with_queued);
	suite_add_tcase(s, tc);

	tc = tcase_create("jobs");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_submit_nowait);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_status_malformed);
	tcase_add_test(tc, test_wait);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_admin);
	tcase_add_test(tc, test_mixed_out_of_order);
	tcase_add_test(tc, test_accepted_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_garbage);
	tcase_add_test(tc, test_bad_payload);
	tcase_add_test(tc, test_unexpected_reply);
	tcase_add_test(tc, test_server_closes);
	tcase_add_test(tc, test_send_to_closed);
	tcase_add_test(tc, test_connection_error);
	suite_add_tcase(s, tc);

	tc = tcase_create("segments");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_result_segment);
	tcase_add_test(tc, test_result_segment_bad);
	tcase_add_test(tc, test_queued_segments);
	tcase_add_test(tc, test_submit_copy);
	tcase_add_test(tc, test_submit_fd);
	tcase_add_test(tc, test_submit_fd_refused);
	tcase_add_test(tc, test_submit_inplace);
	tcase_add_test(tc, test_segpool);
	suite_add_tcase(s, tc);

	tc = tcase_create("events");
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_events);
	tcase_add_test(tc, test_events_refused);
	tcase_add_test(tc, test_events_pending);
	tcase_add_test(tc, test_events_end);
	suite_add_tcase(s, tc);

	tc = tcase_create("local");
	tcase_add_test(tc, test_connect_missing);
	tcase_add_test(tc, test_connect_env);
	tcase_add_test(tc, test_invalid_args);
	tcase_add_test(tc, test_names);
	suite_add_tcase(s, tc);
	return s;
}

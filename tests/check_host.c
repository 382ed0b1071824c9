/*
 * The thread host on its own: a test plays the supervisor on a
 * socketpair, forks host_main() with a crash-note page shared before the
 * fork, and checks READY, jobs running at once on threads, every job
 * answered under its own id, REVOKE of a queued job, CANCEL of queued and
 * running ones, segments, the refusal of handlers not flagged thread-safe,
 * and that a faulting job kills the host by its signal with its own id,
 * not a neighbour's, in the crash note. Orders of frames are asserted, not
 * wall times.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "frame.h"
#include "handlers.h"
#include "msg.h"
#include "seg.h"
#include "testlib.h"
#include "worker.h"

struct ht {
	int			 fd;
	pid_t			 pid;
	struct handler_set	*hs;
	struct pool_config	 cfg;
	struct frame_dec	 dec;
	volatile uint64_t	*note;
	uint64_t		 noted;		/* *note after the host */
};

/* A job's answer, as the test saw it. */
struct hdone {
	int		ok;		/* 0: succeeded */
	char		err[COMMIS_TEXT_MAX];
	struct mbuf	out;
	int		fd;		/* the output segment, or -1 */
};

/* The handler set and the crash note; handlers may be loaded after. */
static void
ht_init(struct ht *t)
{
	void	*p;

	memset(t, 0, sizeof *t);
	t->fd = -1;
	snprintf(t->cfg.name, sizeof t->cfg.name, "t");
	t->hs = handlers_new();
	ck_assert_ptr_nonnull(t->hs);
	p = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	t->note = p;
}

static void
ht_fork(struct ht *t, unsigned threads, uint32_t max_payload,
    uint32_t threshold, uint64_t max_segment)
{
	struct worker_args	wa;
	struct rlimit		rl = { 0, 0 };
	int			sv[2];

	memset(&wa, 0, sizeof wa);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	wa.cfg = &t->cfg;
	wa.handlers = t->hs;
	wa.fd = sv[1];
	wa.parent = getpid();
	wa.max_payload = max_payload;
	wa.segment_threshold = threshold;
	wa.max_segment = max_segment;
	wa.threads = threads;
	wa.crash_note = t->note;
	t->pid = fork();
	ck_assert_int_ne(t->pid, -1);
	if (t->pid == 0) {
		close(sv[0]);
		/* The fault tests kill it: no core files. */
		setrlimit(RLIMIT_CORE, &rl);
		host_main(&wa);
	}
	close(sv[1]);
	t->fd = sv[0];
	frame_dec_init(&t->dec, max_payload + COMMIS_FRAME_OVERHEAD);
}

/* Blocks for the next frame; copies its payload into m, its fd to *fd. */
static struct frame_hdr
ht_recv_fd(struct ht *t, struct mbuf *m, int *fd)
{
	return test_recv_frame(&t->dec, t->fd, m, fd);
}

static struct frame_hdr
ht_recv(struct ht *t, struct mbuf *m)
{
	struct frame_hdr	h;
	int			fd;

	h = ht_recv_fd(t, m, &fd);
	ck_assert_int_eq(fd, -1);
	return h;
}

/* A host of n threads with segment limits, READY read and checked. */
static void
ht_start_seg(struct ht *t, unsigned n, uint32_t max_payload,
    uint32_t threshold, uint64_t max_segment)
{
	struct frame_hdr	h;
	struct mreader		r;
	struct mbuf		m;

	if (t->hs == NULL)
		ht_init(t);
	ht_fork(t, n, max_payload, threshold, max_segment);
	mbuf_init(&m);
	h = ht_recv(t, &m);
	ck_assert_int_eq(h.type, COMMIS_MSG_READY);
	mr_init(&r, m.data, m.len);
	ck_assert_uint_eq(mr_u32(&r), (uint32_t)t->pid);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_free(&m);
}

static void
ht_start(struct ht *t, unsigned n)
{
	ht_start_seg(t, n, 4096, 4096, 4096);
}

static void
ht_job_seg(struct ht *t, uint64_t id, const char *handler, const void *input,
    size_t len, int fd)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_str(&m, handler);
	mbuf_u32(&m, 0);
	mbuf_bytes(&m, input, len);
	ck_assert_int_eq(m.err, 0);
	ck_assert_int_eq(frame_send(t->fd, COMMIS_MSG_JOB, 0, id, m.data, m.len,
	    NULL, 0, fd), 0);
	mbuf_free(&m);
}

static void
ht_job(struct ht *t, uint64_t id, const char *handler, const char *input)
{
	ht_job_seg(t, id, handler, input, strlen(input), -1);
}

/* An empty frame to the host: REVOKE or CANCEL. */
static void
ht_ctl(struct ht *t, uint8_t type, uint64_t id)
{
	ck_assert_int_eq(frame_send(t->fd, type, 0, id, NULL, 0, NULL, 0, -1),
	    0);
}

/* A DONE payload (in m) and its fd into d. */
static void
ht_parse_done(const struct mbuf *m, int fd, struct hdone *d)
{
	struct mreader	 r;
	const uint8_t	*p;
	size_t		 n;

	mr_init(&r, m->data, m->len);
	d->ok = mr_u8(&r);
	mr_str(&r, d->err, sizeof d->err);
	(void)mr_u64(&r);	/* cpu_us */
	ck_assert_uint_gt(mr_u64(&r), 0);	/* maxrss_kb */
	p = mr_bytes(&r, &n);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_reset(&d->out);
	mbuf_add(&d->out, p, n);
	d->fd = fd;
	ck_assert(fd == -1 || n == 0);
}

/* The next frame must be `type` for `id`. */
static void
ht_expect(struct ht *t, uint8_t type, uint64_t id)
{
	struct frame_hdr	h;
	struct mbuf		m;

	mbuf_init(&m);
	h = ht_recv(t, &m);
	ck_assert_int_eq(h.type, type);
	ck_assert_uint_eq(h.id, id);
	mbuf_free(&m);
}

/* The next frame must be DONE for id; returns its ok byte. */
static int
ht_done(struct ht *t, uint64_t id, struct hdone *d)
{
	struct frame_hdr	h;
	struct mbuf		m;
	int			fd;

	mbuf_init(&m);
	h = ht_recv_fd(t, &m, &fd);
	ck_assert_int_eq(h.type, COMMIS_MSG_DONE);
	ck_assert_uint_eq(h.id, id);
	ht_parse_done(&m, fd, d);
	mbuf_free(&m);
	return d->ok;
}

static int
ht_stop(struct ht *t)
{
	int	status;

	close(t->fd);
	ck_assert_int_eq(waitpid(t->pid, &status, 0), t->pid);
	frame_dec_free(&t->dec);
	handlers_free(t->hs);
	t->noted = *t->note;
	munmap((void *)t->note, (size_t)sysconf(_SC_PAGESIZE));
	return status;
}

START_TEST(test_host_ready)
{
	struct ht	t;
	int		status;

	ht_init(&t);
	ht_start(&t, 3);
	/* A closed channel: the host exits 0. */
	status = ht_stop(&t);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
END_TEST

START_TEST(test_host_bad_frame)
{
	struct ht	t;
	int		status;

	ht_init(&t);
	ht_start(&t, 2);
	/* A message a host never gets: it exits with an error. */
	ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_STATS, 0, 1, "\0", 1,
	    NULL, 0, -1), 0);
	status = ht_stop(&t);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}
END_TEST

/* Two sleeps on two threads: both start before either ends. */
START_TEST(test_host_concurrent)
{
	struct frame_hdr	h;
	struct hdone		d;
	struct mbuf		m;
	struct ht		t;
	int			i, seen;

	mbuf_init(&m);
	mbuf_init(&d.out);
	ht_init(&t);
	ht_start(&t, 2);
	ht_job(&t, 1, "sleep", "300");
	ht_job(&t, 2, "sleep", "300");
	for (seen = 0, i = 0; i < 2; i++) {
		h = ht_recv(&t, &m);
		ck_assert_int_eq(h.type, COMMIS_MSG_STARTED);
		ck_assert(h.id == 1 || h.id == 2);
		seen |= 1 << h.id;
	}
	ck_assert_int_eq(seen, 6);
	for (seen = 0, i = 0; i < 2; i++) {
		h = ht_recv(&t, &m);
		ck_assert_int_eq(h.type, COMMIS_MSG_DONE);
		ck_assert(h.id == 1 || h.id == 2);
		seen |= 1 << h.id;
		ht_parse_done(&m, -1, &d);
		ck_assert_msg(d.ok == 0, "%s", d.err);
	}
	ck_assert_int_eq(seen, 6);
	ck_assert_int_eq(WEXITSTATUS(ht_stop(&t)), 0);
	mbuf_free(&d.out);
	mbuf_free(&m);
}
END_TEST

#define MANY	64

/* Every job answered once, under its own id, with its own output. */
START_TEST(test_host_many)
{
	struct frame_hdr	h;
	struct hdone		d;
	struct mbuf		m;
	struct ht		t;
	char			want[32];
	int			started[MANY + 1] = { 0 };
	int			done[MANY + 1] = { 0 };
	int			i;

	mbuf_init(&m);
	mbuf_init(&d.out);
	ht_init(&t);
	ht_start(&t, 4);
	for (i = 1; i <= MANY; i++) {
		snprintf(want, sizeof want, "job %d", i);
		ht_job(&t, (uint64_t)i, "echo", want);
	}
	for (i = 0; i < 2 * MANY; i++) {
		h = ht_recv(&t, &m);
		ck_assert(h.id >= 1 && h.id <= MANY);
		if (h.type == COMMIS_MSG_STARTED) {
			ck_assert_int_eq(started[h.id]++, 0);
			continue;
		}
		ck_assert_int_eq(h.type, COMMIS_MSG_DONE);
		ck_assert_int_eq(started[h.id], 1);
		ck_assert_int_eq(done[h.id]++, 0);
		ht_parse_done(&m, -1, &d);
		ck_assert_int_eq(d.ok, 0);
		snprintf(want, sizeof want, "job %d", (int)h.id);
		ck_assert_uint_eq(d.out.len, strlen(want));
		ck_assert_mem_eq(d.out.data, want, d.out.len);
	}
	ck_assert_int_eq(WEXITSTATUS(ht_stop(&t)), 0);
	mbuf_free(&d.out);
	mbuf_free(&m);
}
END_TEST

/*
 * One thread, busy with a sleep: the echo queued behind it is revoked and
 * never runs; a REVOKE of the running sleep is too late and unanswered.
 */
START_TEST(test_host_revoke)
{
	struct hdone	d;
	struct ht	t;

	mbuf_init(&d.out);
	ht_init(&t);
	ht_start(&t, 1);
	ht_job(&t, 1, "sleep", "300");
	ht_expect(&t, COMMIS_MSG_STARTED, 1);
	ht_job(&t, 2, "echo", "x");
	ht_ctl(&t, COMMIS_MSG_REVOKE, 2);
	ht_ctl(&t, COMMIS_MSG_REVOKE, 1);
	ht_expect(&t, COMMIS_MSG_REVOKED, 2);
	ck_assert_int_eq(ht_done(&t, 1, &d), 0);

	/* Still serving, and nothing of job 2 comes. */
	ht_job(&t, 3, "echo", "y");
	ht_expect(&t, COMMIS_MSG_STARTED, 3);
	ck_assert_int_eq(ht_done(&t, 3, &d), 0);
	ck_assert_mem_eq(d.out.data, "y", 1);
	ck_assert_int_eq(WEXITSTATUS(ht_stop(&t)), 0);
	mbuf_free(&d.out);
}
END_TEST

/* A running job sees its CANCEL; a queued one starts cancelled. */
START_TEST(test_host_cancel)
{
	struct hdone	d;
	struct ht	t;

	mbuf_init(&d.out);
	ht_init(&t);
	ht_start(&t, 1);
	ht_job(&t, 1, "sleep", "30000");
	ht_job(&t, 2, "sleep", "30000");
	ht_ctl(&t, COMMIS_MSG_CANCEL, 2);
	ht_ctl(&t, COMMIS_MSG_CANCEL, 9);	/* unknown: ignored */
	ht_ctl(&t, COMMIS_MSG_CANCEL, 1);
	ht_expect(&t, COMMIS_MSG_STARTED, 1);
	ck_assert_int_eq(ht_done(&t, 1, &d), 1);
	ck_assert_str_eq(d.err, "cancelled");
	ht_expect(&t, COMMIS_MSG_STARTED, 2);
	ck_assert_int_eq(ht_done(&t, 2, &d), 1);
	ck_assert_str_eq(d.err, "cancelled");

	/* A stale CANCEL (its job is done) does not touch the next job. */
	ht_ctl(&t, COMMIS_MSG_CANCEL, 1);
	ht_job(&t, 3, "sleep", "20");
	ht_expect(&t, COMMIS_MSG_STARTED, 3);
	ck_assert_int_eq(ht_done(&t, 3, &d), 0);
	ck_assert_int_eq(WEXITSTATUS(ht_stop(&t)), 0);
	mbuf_free(&d.out);
}
END_TEST

/*
 * A fault on one thread while another runs a long sleep: the host dies by
 * the fault's signal, no DONE comes for either job, and the crash note
 * names the faulting job, not the sleep.
 */
static void
crash_case(const char *fault, int sig)
{
	struct frame	f;
	struct ht	t;
	ssize_t		n;
	int		status;

	ht_init(&t);
	ht_start(&t, 2);
	ht_job(&t, 1, "sleep", "5000");
	ht_expect(&t, COMMIS_MSG_STARTED, 1);
	ht_job(&t, 2, "fault", fault);
	ht_expect(&t, COMMIS_MSG_STARTED, 2);
	do {
		ck_assert_int_eq(frame_dec_next(&t.dec, &f), 0);
	} while ((n = frame_dec_read(&t.dec, t.fd)) > 0);
	ck_assert_msg(n == 0 || errno == ECONNRESET, "read: %s",
	    strerror(errno));
	status = ht_stop(&t);
	ck_assert_msg(WIFSIGNALED(status), "status %#x", status);
	ck_assert_int_eq(WTERMSIG(status), sig);
	ck_assert_uint_eq(t.noted, 2);
}

START_TEST(test_host_segv)
{
	crash_case("segv", SIGSEGV);
}
END_TEST

START_TEST(test_host_abort)
{
	crash_case("abort", SIGABRT);
}
END_TEST

/* A segment of len bytes holding data, sealed for input. */
static int
mkseg(const void *data, size_t len)
{
	void	*map;
	int	 fd;

	fd = seg_create("check-host", len, &map);
	ck_assert_int_ge(fd, 0);
	if (len > 0)
		memcpy(map, data, len);
	seg_unmap(map, len);
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), 0);
	return fd;
}

START_TEST(test_host_segment)
{
	struct stat	 st1, st2;
	struct hdone	 d;
	struct ht	 t;
	uint8_t		*data, *p;
	size_t		 n = 100000, i;
	int		 fd;

	mbuf_init(&d.out);
	data = malloc(n);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < n; i++)
		data[i] = (uint8_t)(i * 13 + (i >> 12));
	ht_init(&t);
	ht_start_seg(&t, 2, 4096, 1024, 1 << 20);

	/* echo passes the segment back: the very same file. */
	fd = mkseg(data, n);
	ht_job_seg(&t, 1, "echo", NULL, 0, fd);
	ht_expect(&t, COMMIS_MSG_STARTED, 1);
	ck_assert_int_eq(ht_done(&t, 1, &d), 0);
	ck_assert_int_ge(d.fd, 0);
	ck_assert_int_eq(fstat(fd, &st1), 0);
	ck_assert_int_eq(fstat(d.fd, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	ck_assert_uint_eq(st1.st_dev, st2.st_dev);
	close(d.fd);
	close(fd);

	/* Inline output above the threshold: a new sealed segment. */
	ht_job_seg(&t, 2, "echo", data, 2000, -1);
	ht_expect(&t, COMMIS_MSG_STARTED, 2);
	ck_assert_int_eq(ht_done(&t, 2, &d), 0);
	ck_assert_int_ge(d.fd, 0);
	ck_assert_int_eq(fcntl(d.fd, F_GET_SEALS), COMMIS_SEALS_INPUT);
	ck_assert_int_eq(fstat(d.fd, &st1), 0);
	ck_assert_int_eq(st1.st_size, 2000);
	p = seg_map(d.fd, 2000, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, data, 2000);
	seg_unmap(p, 2000);
	close(d.fd);

	ck_assert_int_eq(WEXITSTATUS(ht_stop(&t)), 0);
	free(data);
	mbuf_free(&d.out);
}
END_TEST

/* A module handler without COMMIS_HANDLER_THREAD_SAFE is refused. */
START_TEST(test_host_not_thread_safe)
{
	struct hdone	 d;
	struct ht	 t;
	char		*cause = NULL;

	mbuf_init(&d.out);
	ht_init(&t);
	ck_assert_msg(handlers_load(t.hs, test_build_path("testmod.so"),
	    &cause) == 0, "%s", cause);
	ht_start(&t, 2);
	ht_job(&t, 1, "test.hog", "0");
	ht_expect(&t, COMMIS_MSG_STARTED, 1);
	ck_assert_int_eq(ht_done(&t, 1, &d), 1);
	ck_assert_str_eq(d.err, "handler 'test.hog' is not thread-safe");

	/* The module's thread-safe handlers run. */
	ht_job(&t, 2, "test.upper", "abc");
	ht_expect(&t, COMMIS_MSG_STARTED, 2);
	ck_assert_int_eq(ht_done(&t, 2, &d), 0);
	ck_assert_uint_eq(d.out.len, 3);
	ck_assert_mem_eq(d.out.data, "ABC", 3);
	ck_assert_int_eq(WEXITSTATUS(ht_stop(&t)), 0);
	mbuf_free(&d.out);
}
END_TEST

Suite *
host_suite(void)
{
	Suite	*s = suite_create("host");
	TCase	*tc = tcase_create("host");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_host_ready);
	tcase_add_test(tc, test_host_bad_frame);
	tcase_add_test(tc, test_host_concurrent);
	tcase_add_test(tc, test_host_many);
	tcase_add_test(tc, test_host_revoke);
	tcase_add_test(tc, test_host_cancel);
	tcase_add_test(tc, test_host_segv);
	tcase_add_test(tc, test_host_abort);
	tcase_add_test(tc, test_host_segment);
	tcase_add_test(tc, test_host_not_thread_safe);
	suite_add_tcase(s, tc);
	return s;
}

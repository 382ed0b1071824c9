/*
 * The worker process on its own: a test plays the supervisor on a
 * socketpair, forks worker_main(), and checks READY, JOB -> DONE for
 * success and failure, the result size limit, soft cancellation (CANCEL
 * frames the handler sees through call->cancelled()), and segments: input
 * segments checked before they are mapped, passed back without a copy,
 * transformed in place, large outputs returned as new segments, and no fd
 * left behind in the worker whatever the job's fate.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "frame.h"
#include "handlers.h"
#include "msg.h"
#include "seg.h"
#include "testlib.h"
#include "worker.h"

struct wt {
	int			 fd;
	pid_t			 pid;
	struct handler_set	*hs;
	struct pool_config	 cfg;
	struct frame_dec	 dec;
};

/* A worker with segment limits: outputs above threshold as segments. */
static void
wt_start_seg(struct wt *t, uint32_t max_payload, uint32_t threshold,
    uint64_t max_segment)
{
	struct worker_args	wa;
	int			sv[2];

	memset(t, 0, sizeof *t);
	memset(&wa, 0, sizeof wa);
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
	wa.segment_threshold = threshold;
	wa.max_segment = max_segment;
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

/* Without segments in play: every output inline. */
static void
wt_start(struct wt *t, uint32_t max_payload)
{
	wt_start_seg(t, max_payload, max_payload, max_payload);
}

/* Blocks for the next frame; copies its payload into m, its fd to *fd. */
static struct frame_hdr
wt_recv_fd(struct wt *t, struct mbuf *m, int *fd)
{
	return test_recv_frame(&t->dec, t->fd, m, fd);
}

/* The same for a frame that must come without an fd. */
static struct frame_hdr
wt_recv(struct wt *t, struct mbuf *m)
{
	struct frame_hdr	h;
	int			fd;

	h = wt_recv_fd(t, m, &fd);
	ck_assert_int_eq(fd, -1);
	return h;
}

/* JOB: str handler, u32 flags, bytes input, with fd (or -1) as segment. */
static void
wt_job_seg(struct wt *t, uint64_t id, const char *handler, uint32_t flags,
    const void *input, size_t len, int fd)
{
	struct mbuf	m;

	mbuf_init(&m);
	mbuf_str(&m, handler);
	mbuf_u32(&m, flags);
	mbuf_bytes(&m, input, len);
	ck_assert_int_eq(m.err, 0);
	ck_assert_int_eq(frame_send(t->fd, COMMIS_MSG_JOB, 0, id, m.data, m.len,
	    NULL, 0, fd), 0);
	mbuf_free(&m);
}

static void
wt_job(struct wt *t, uint64_t id, const char *handler, const char *input)
{
	wt_job_seg(t, id, handler, 0, input, strlen(input), -1);
}

/*
 * DONE for id: returns ok (0) or not, the error text and the output, and
 * in *fd the segment that came with it (or -1).
 */
static int
wt_done_fd(struct wt *t, uint64_t id, char *err, size_t errsz,
    struct mbuf *out, int *fd)
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
	h = wt_recv_fd(t, &m, fd);
	ck_assert_int_eq(h.type, COMMIS_MSG_DONE);
	ck_assert_uint_eq(h.id, id);
	ck_assert_int_eq(!!(h.flags & COMMIS_FLAG_FD), *fd != -1);
	mr_init(&r, m.data, m.len);
	ok = mr_u8(&r);
	mr_str(&r, err, errsz);
	(void)mr_u64(&r);	/* cpu_us */
	ck_assert_uint_gt(mr_u64(&r), 0);	/* maxrss_kb */
	p = mr_bytes(&r, &n);
	ck_assert_int_eq(mr_end(&r), 0);
	mbuf_reset(out);
	mbuf_add(out, p, n);
	mbuf_free(&m);
	/* The output is either inline or a segment. */
	ck_assert(*fd == -1 || n == 0);
	return ok;
}

static int
wt_done(struct wt *t, uint64_t id, char *err, size_t errsz, struct mbuf *out)
{
	int	fd, ok;

	ok = wt_done_fd(t, id, err, errsz, out, &fd);
	ck_assert_int_eq(fd, -1);
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

/* A segment of len bytes holding data, with these seals. */
static int
mkseg(const void *data, size_t len, enum seg_kind kind)
{
	void	*map;
	int	 fd;

	fd = seg_create("check-worker", len, &map);
	ck_assert_int_ge(fd, 0);
	if (len > 0)
		memcpy(map, data, len);
	seg_unmap(map, len);
	ck_assert_int_eq(seg_seal(fd, kind), 0);
	return fd;
}

/* A pattern that differs from byte to byte and from page to page. */
static uint8_t *
pattern(size_t len)
{
	uint8_t	*p;
	size_t	 i;

	p = malloc(len);
	ck_assert_ptr_nonnull(p);
	for (i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 13 + (i >> 12));
	return p;
}

static void
sha256_hex(const void *p, size_t len, char *hex)
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen, i;

	ck_assert_int_eq(EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL),
	    1);
	for (i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A segment that came back: sealed for input, of len bytes equal to want. */
static void
check_result_seg(int fd, const void *want, size_t len, uint64_t max)
{
	uint64_t	 size;
	uint8_t		*p;
	char		 why[256];

	ck_assert_msg(seg_check(fd, SEG_INPUT, max, &size, why,
	    sizeof why) == 0, "result segment: %s", why);
	ck_assert_uint_eq(size, len);
	p = seg_map(fd, (size_t)size, 0);
	ck_assert_ptr_nonnull(p);
	ck_assert_mem_eq(p, want, len);
	seg_unmap(p, (size_t)size);
}

START_TEST(test_worker_seg_input)
{
	struct stat	 st1, st2;
	struct mbuf	 m;
	struct wt	 t;
	uint8_t		*data;
	size_t		 n = 300000;
	char		 err[COMMIS_TEXT_MAX], hex[2 * EVP_MAX_MD_SIZE + 1];
	int		 fd, rfd;

	mbuf_init(&m);
	wt_start_seg(&t, 4096, 1024, 1 << 20);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);
	data = pattern(n);

	/* sha256 reads the mapping: the digest of the segment's bytes. */
	fd = mkseg(data, n, SEG_INPUT);
	wt_job_seg(&t, 1, "sha256", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 1, err, sizeof err, &m), 0);
	sha256_hex(data, n, hex);
	ck_assert_uint_eq(m.len, 64);
	ck_assert_mem_eq(m.data, hex, 64);

	/* echo passes the segment back: the very same file, no copy. */
	wt_job_seg(&t, 2, "echo", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done_fd(&t, 2, err, sizeof err, &m, &rfd), 0);
	ck_assert_int_ge(rfd, 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(fstat(fd, &st1), 0);
	ck_assert_int_eq(fstat(rfd, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	ck_assert_uint_eq(st1.st_dev, st2.st_dev);
	ck_assert_int_ne(fcntl(rfd, F_GETFD) & FD_CLOEXEC, 0);
	check_result_seg(rfd, data, n, n);
	close(rfd);
	close(fd);

	/* A small result of a segment input comes back inline. */
	fd = mkseg("abc", 3, SEG_INPUT);
	wt_job_seg(&t, 3, "xor", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 3, err, sizeof err, &m), 0);
	ck_assert_uint_eq(m.len, 3);
	ck_assert_mem_eq(m.data, "\x3b\x38\x39", 3);
	close(fd);

	/* An empty segment is a valid, empty input. */
	fd = mkseg(NULL, 0, SEG_INPUT);
	wt_job_seg(&t, 4, "sha256", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 4, err, sizeof err, &m), 0);
	ck_assert_mem_eq(m.data, "e3b0c44298fc1c149afbf4c8996fb924", 32);
	close(fd);

	ck_assert_int_eq(WEXITSTATUS(wt_stop(&t)), 0);
	free(data);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_worker_seg_inplace)
{
	struct mbuf	 m;
	struct wt	 t;
	uint8_t		*mine, *data;
	size_t		 n = 200000, i;
	char		 err[COMMIS_TEXT_MAX];
	int		 fd, rfd;

	mbuf_init(&m);
	wt_start_seg(&t, 4096, 1024, 1 << 20);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);
	data = pattern(n);

	/* The client keeps its writable mapping: in-place needs no F_SEAL_WRITE. */
	fd = seg_create("check-worker", n, (void **)&mine);
	ck_assert_int_ge(fd, 0);
	memcpy(mine, data, n);
	ck_assert_int_eq(seg_seal(fd, SEG_INPLACE), 0);
	wt_job_seg(&t, 1, "xor", COMMIS_SUBMIT_INPLACE, NULL, 0, fd);
	ck_assert_int_eq(wt_done_fd(&t, 1, err, sizeof err, &m, &rfd), 0);
	ck_assert_int_eq(rfd, -1);
	ck_assert_uint_eq(m.len, 0);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(mine[i], data[i] ^ 0x5a);

	/* Twice: the bytes are back. */
	wt_job_seg(&t, 2, "xor", COMMIS_SUBMIT_INPLACE, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 2, err, sizeof err, &m), 0);
	ck_assert_mem_eq(mine, data, n);

	/* Only handlers flagged COMMIS_HANDLER_INPLACE get in-place jobs. */
	wt_job_seg(&t, 3, "echo", COMMIS_SUBMIT_INPLACE, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 3, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "handler 'echo' does not work in place");
	ck_assert_mem_eq(mine, data, n);

	/* In place without a segment is malformed, but only for this job. */
	wt_job_seg(&t, 4, "xor", COMMIS_SUBMIT_INPLACE, "ab", 2, -1);
	ck_assert_int_eq(wt_done(&t, 4, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "bad segment: an in-place job without a segment");

	/* A read-only input segment is refused for in-place... */
	close(fd);
	seg_unmap(mine, n);
	fd = mkseg(data, 100, SEG_INPUT);
	wt_job_seg(&t, 5, "xor", COMMIS_SUBMIT_INPLACE, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 5, err, sizeof err, &m), 1);
	ck_assert_msg(strncmp(err, "bad segment: mmap: ", 19) == 0, "%s", err);
	close(fd);

	/* ...and an in-place one for input: it is not sealed for it. */
	fd = mkseg(data, 100, SEG_INPLACE);
	wt_job_seg(&t, 6, "sha256", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 6, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "bad segment: segment is not sealed against: "
	    "write, seal");
	close(fd);

	ck_assert_int_eq(WEXITSTATUS(wt_stop(&t)), 0);
	free(data);
	mbuf_free(&m);
}
END_TEST

START_TEST(test_worker_seg_output)
{
	struct mbuf	 m;
	struct wt	 t;
	uint8_t		*data;
	char		 err[COMMIS_TEXT_MAX];
	int		 fd;

	mbuf_init(&m);
	wt_start_seg(&t, 65536, 1024, 8192);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);
	data = pattern(10000);

	/* At the threshold: inline. */
	wt_job_seg(&t, 1, "echo", 0, data, 1024, -1);
	ck_assert_int_eq(wt_done(&t, 1, err, sizeof err, &m), 0);
	ck_assert_uint_eq(m.len, 1024);
	ck_assert_mem_eq(m.data, data, 1024);

	/* Above it: a new segment, sealed for input, holding the bytes. */
	wt_job_seg(&t, 2, "echo", 0, data, 4096, -1);
	ck_assert_int_eq(wt_done_fd(&t, 2, err, sizeof err, &m, &fd), 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_eq(m.len, 0);
	ck_assert_int_eq(fcntl(fd, F_GET_SEALS), COMMIS_SEALS_INPUT);
	check_result_seg(fd, data, 4096, 8192);
	close(fd);

	/* Above max_segment: the job's error. */
	wt_job_seg(&t, 3, "echo", 0, data, 10000, -1);
	ck_assert_int_eq(wt_done(&t, 3, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "result larger than max_segment (8192 bytes)");

	ck_assert_int_eq(WEXITSTATUS(wt_stop(&t)), 0);
	free(data);
	mbuf_free(&m);
}
END_TEST

/* Every bad segment is the job's error; the worker carries on. */
START_TEST(test_worker_seg_bad)
{
	struct mbuf	 m;
	struct wt	 t;
	void		*map;
	char		 err[COMMIS_TEXT_MAX];
	int		 fd, p[2];

	mbuf_init(&m);
	wt_start_seg(&t, 4096, 1024, 8192);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);

	/* Unsealed: the sender could still shrink it under our mapping. */
	fd = seg_create("check-worker", 100, &map);
	ck_assert_int_ge(fd, 0);
	seg_unmap(map, 100);
	wt_job_seg(&t, 1, "sha256", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 1, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "bad segment: segment is not sealed against: "
	    "shrink, grow, write, seal");
	close(fd);

	/* Too large. */
	fd = seg_create("check-worker", 8193, &map);
	ck_assert_int_ge(fd, 0);
	seg_unmap(map, 8193);
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), 0);
	wt_job_seg(&t, 2, "echo", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(&t, 2, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "bad segment: segment of 8193 bytes is above "
	    "the limit (8192)");
	close(fd);

	/* Not a memfd at all. */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	wt_job_seg(&t, 3, "sha256", 0, NULL, 0, p[0]);
	ck_assert_int_eq(wt_done(&t, 3, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "bad segment: not a sealable memfd");
	close(p[0]);
	close(p[1]);

	/* A segment and inline bytes at once. */
	fd = mkseg("x", 1, SEG_INPUT);
	wt_job_seg(&t, 4, "echo", 0, "y", 1, fd);
	ck_assert_int_eq(wt_done(&t, 4, err, sizeof err, &m), 1);
	ck_assert_str_eq(err, "bad segment: inline input along with a "
	    "segment");
	close(fd);

	/* Still serving. */
	wt_job(&t, 5, "echo", "ok");
	ck_assert_int_eq(wt_done(&t, 5, err, sizeof err, &m), 0);
	ck_assert_mem_eq(m.data, "ok", 2);
	ck_assert_int_eq(WEXITSTATUS(wt_stop(&t)), 0);
	mbuf_free(&m);
}
END_TEST

/* Open fds of a process, from /proc/pid/fd. */
static int
count_fds(pid_t pid)
{
	struct dirent	*de;
	char		 path[64];
	DIR		*d;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* Segments mapped in a process, from /proc/pid/maps. */
static int
count_seg_maps(pid_t pid)
{
	char	 path[64], line[4096];
	FILE	*f;
	int	 n = 0;

	snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
	f = fopen(path, "re");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof line, f) != NULL) {
		if (strstr(line, "/memfd:") != NULL)
			n++;
	}
	fclose(f);
	return n;
}

/* One round of every segment outcome; returns the next job id. */
static uint64_t
fd_round(struct wt *t, uint64_t id, const uint8_t *data, struct mbuf *m)
{
	char	err[COMMIS_TEXT_MAX];
	int	fd, rfd;

	fd = mkseg(data, 5000, SEG_INPUT);
	wt_job_seg(t, id, "sha256", 0, NULL, 0, fd);	/* success */
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 0);
	wt_job_seg(t, id, "echo", 0, NULL, 0, fd);	/* passed back */
	ck_assert_int_eq(wt_done_fd(t, id++, err, sizeof err, m, &rfd), 0);
	ck_assert_int_ge(rfd, 0);
	close(rfd);
	wt_job_seg(t, id, "xor", 0, NULL, 0, fd);	/* new segment */
	ck_assert_int_eq(wt_done_fd(t, id++, err, sizeof err, m, &rfd), 0);
	ck_assert_int_ge(rfd, 0);
	close(rfd);
	wt_job_seg(t, id, "fault", 0, NULL, 0, fd);	/* handler fails */
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 1);
	wt_job_seg(t, id, "nope", 0, NULL, 0, fd);	/* no handler */
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 1);
	wt_job_seg(t, id, "echo", COMMIS_SUBMIT_INPLACE, NULL, 0, fd);
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 1);
	close(fd);

	fd = mkseg(data, 5000, SEG_INPLACE);		/* bad seals */
	wt_job_seg(t, id, "sha256", 0, NULL, 0, fd);
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 1);
	wt_job_seg(t, id, "xor", COMMIS_SUBMIT_INPLACE, NULL, 0, fd);
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 0);
	wt_job_seg(t, id, "echo", 0, "y", 1, fd);	/* malformed */
	ck_assert_int_eq(wt_done(t, id++, err, sizeof err, m), 1);
	close(fd);
	return id;
}

/*
 * No fd or mapping stays behind in the worker, whatever happened to the
 * job: many rounds of every outcome, plus segment jobs revoked before
 * they started, leave its fd count where it was and no segment mapped.
 */
START_TEST(test_worker_seg_fds)
{
	struct frame_hdr	 h;
	struct mbuf		 m;
	struct wt		 t;
	uint8_t			*data;
	uint64_t		 id = 1;
	char			 err[COMMIS_TEXT_MAX];
	int			 before, mine, i, fd, rfd, revoked, started;

	mbuf_init(&m);
	mine = count_fds(getpid());
	wt_start_seg(&t, 4096, 1024, 1 << 20);
	ck_assert_int_eq(wt_recv(&t, &m).type, COMMIS_MSG_READY);
	before = count_fds(t.pid);
	data = pattern(5000);
	for (i = 0; i < 25; i++)		/* 225 segment jobs */
		id = fd_round(&t, id, data, &m);

	/*
	 * A queued segment job revoked behind one that runs until we cancel
	 * it, so the segment job cannot start first whatever the timing.
	 */
	for (i = 0; i < 5; i++) {
		wt_job(&t, id, "sleep", "600000");
		fd = mkseg(data, 100, SEG_INPUT);
		wt_job_seg(&t, id + 1, "sha256", 0, NULL, 0, fd);
		close(fd);
		ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_REVOKE, 0, id + 1,
		    NULL, 0, NULL, 0, -1), 0);
		for (revoked = started = 0; !revoked || !started;) {
			h = wt_recv_fd(&t, &m, &rfd);
			ck_assert_int_eq(rfd, -1);
			if (h.type == COMMIS_MSG_REVOKED) {
				ck_assert_uint_eq(h.id, id + 1);
				revoked = 1;
			} else {
				ck_assert_int_eq(h.type, COMMIS_MSG_STARTED);
				ck_assert_uint_eq(h.id, id);
				started = 1;
			}
		}
		ck_assert_int_eq(frame_send(t.fd, COMMIS_MSG_CANCEL, 0, id,
		    NULL, 0, NULL, 0, -1), 0);
		h = wt_recv_fd(&t, &m, &rfd);
		ck_assert_int_eq(rfd, -1);
		ck_assert_int_eq(h.type, COMMIS_MSG_DONE);
		ck_assert_uint_eq(h.id, id);
		id += 2;
	}
	/* A last job makes sure everything before it was handled. */
	wt_job(&t, id, "echo", "x");
	ck_assert_int_eq(wt_done(&t, id, err, sizeof err, &m), 0);
	ck_assert_int_eq(count_fds(t.pid), before);
	ck_assert_int_eq(count_seg_maps(t.pid), 0);
	ck_assert_int_eq(WEXITSTATUS(wt_stop(&t)), 0);
	ck_assert_int_eq(count_fds(getpid()), mine);
	free(data);
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
	tcase_add_test(tc, test_worker_seg_input);
	tcase_add_test(tc, test_worker_seg_inplace);
	tcase_add_test(tc, test_worker_seg_output);
	tcase_add_test(tc, test_worker_seg_bad);
	tcase_add_test(tc, test_worker_seg_fds);
	suite_add_tcase(s, tc);
	return s;
}

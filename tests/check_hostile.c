/*
 * Hostile peers (issue 9): a real commisd fed frames with hostile length
 * prefixes, types and versions on raw sockets, and held to its fd count
 * over many connections and worker restarts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "commis/client.h"
#include "frame.h"
#include "testlib.h"

#define HOSTILE_MAXP	1024u	/* max_payload in these configs */

static int
hraw_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	return fd;
}

static void
hwrite(int fd, const void *p, size_t n)
{
	const uint8_t	*b = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, b, n);
		if (w == -1 && errno == EINTR)
			continue;
		ck_assert_int_gt(w, 0);
		b += w;
		n -= (size_t)w;
	}
}

static void
send_hdr(int fd, uint8_t type, uint32_t len, uint64_t id)
{
	uint8_t	hdr[COMMIS_FRAME_HDR_LEN];

	frame_hdr_encode(hdr, type, 0, len, id);
	hwrite(fd, hdr, sizeof hdr);
}

/*
 * Reads the next frame (10 s deadline). Returns its type, with *id and
 * *code (the ERROR code, else 0), or 0 at EOF.
 */
static int
read_frame(int fd, uint64_t *id, uint32_t *code)
{
	struct frame_dec	 d;
	struct frame		 f;
	struct pollfd		 pfd = { .fd = fd, .events = POLLIN };
	uint64_t		 end = test_now_ms() + 10000;
	ssize_t			 n;
	int			 r, type = 0;

	frame_dec_init(&d, 1 << 20);
	*code = 0;
	for (;;) {
		r = frame_dec_next(&d, &f);
		ck_assert_int_ge(r, 0);
		if (r == 1) {
			type = f.hdr.type;
			*id = f.hdr.id;
			if (type == COMMIS_MSG_ERROR && f.hdr.len >= 4)
				*code = (uint32_t)f.payload[0] |
				    (uint32_t)f.payload[1] << 8 |
				    (uint32_t)f.payload[2] << 16 |
				    (uint32_t)f.payload[3] << 24;
			break;
		}
		ck_assert_uint_lt(test_now_ms(), end);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = frame_dec_read(&d, fd);
		if (n == 0)
			break;
		if (n == -1 && errno == ECONNRESET)
			break;
		ck_assert_int_gt(n, 0);
	}
	/* One frame per call: the tests only ever expect one at a time,
	 * so nothing may be left buffered behind it. */
	ck_assert_uint_eq(d.len - d.off, 0);
	frame_dec_free(&d);
	return type;
}

static void
expect_error(int fd, uint64_t id, uint32_t want)
{
	uint64_t	got = 0;
	uint32_t	code;

	ck_assert_int_eq(read_frame(fd, &got, &code), COMMIS_MSG_ERROR);
	ck_assert_uint_eq(code, want);
	ck_assert_uint_eq(got, id);
}

static void
expect_eof(int fd)
{
	uint64_t	id;
	uint32_t	code;

	ck_assert_int_eq(read_frame(fd, &id, &code), 0);
}

static void
expect_pong(int fd, uint64_t id)
{
	uint64_t	got = 0;
	uint32_t	code;

	send_hdr(fd, COMMIS_MSG_PING, 0, id);
	ck_assert_int_eq(read_frame(fd, &got, &code), COMMIS_MSG_PONG);
	ck_assert_uint_eq(got, id);
}

/* A fresh connection through libcommis still gets a PONG. */
static void
fresh_ping(const char *sock)
{
	commis_client	*cl = NULL;
	uint64_t	 rtt;

	ck_assert_int_eq(commis_connect(sock, &cl), COMMIS_OK);
	ck_assert_int_eq(commis_ping(cl, &rtt), COMMIS_OK);
	commis_close(cl);
}

static long
vmrss_kb(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	ck_assert_int_gt(kb, 0);
	return kb;
}

static int
fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*dir;
	struct dirent	*e;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
	dir = opendir(path);
	ck_assert_ptr_nonnull(dir);
	while ((e = readdir(dir)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

struct fd_arg {
	pid_t	pid;
	int	want;
};

static int
fds_at(void *arg)
{
	struct fd_arg	*a = arg;

	return fd_count(a->pid) == a->want;
}

/* The fd count once it has not changed for 200 ms (a connection just
 * closed by a client may not be closed by commisd yet). */
static int
stable_fds(pid_t pid)
{
	uint64_t	end = test_now_ms() + 10000;
	int		n = fd_count(pid), same = 0, m;

	while (same < 20) {
		ck_assert_uint_lt(test_now_ms(), end);
		usleep(10000);
		m = fd_count(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

static void
alive(struct ctx *c)
{
	ck_assert_int_eq(kill(c->d.pid, 0), 0);
	fresh_ping(c->d.sock);
}

START_TEST(test_hostile_lengths)
{
	static uint8_t	 junk[HOSTILE_MAXP + COMMIS_FRAME_OVERHEAD + 1];
	uint8_t		 hdr[COMMIS_FRAME_HDR_LEN];
	struct ctx	 c;
	long		 rss0, rss1;
	uint32_t	 big[] = { 0x80000000u, 0xffffffffu };
	size_t		 i;
	int		 fd;

	ctx_start(&c, "max_payload: 1024\n"
	    POOL_YAML(""));
	rss0 = vmrss_kb(c.d.pid);

	/* Length 0: a valid PING. */
	fd = hraw_connect(c.d.sock);
	expect_pong(fd, 1);
	close(fd);
	alive(&c);

	/* Header-1 (23) bytes on a PING: a PING with a payload is a
	 * protocol error; ERROR, then the connection is closed. */
	fd = hraw_connect(c.d.sock);
	send_hdr(fd, COMMIS_MSG_PING, COMMIS_FRAME_HDR_LEN - 1, 2);
	hwrite(fd, junk, COMMIS_FRAME_HDR_LEN - 1);
	expect_error(fd, 2, COMMIS_E_PROTO);
	expect_eof(fd);
	close(fd);
	alive(&c);

	/* max+1 on a SUBMIT: TOOBIG for that id, the payload is skipped,
	 * and the connection goes on. */
	fd = hraw_connect(c.d.sock);
	send_hdr(fd, COMMIS_MSG_SUBMIT, sizeof junk, 3);
	expect_error(fd, 3, COMMIS_E_TOOBIG);
	hwrite(fd, junk, sizeof junk);
	expect_pong(fd, 4);
	close(fd);
	alive(&c);

	/* 2^31 and 2^32-1: TOOBIG from the header alone (nothing is
	 * allocated for the claim); the peer then leaves mid-skip. */
	for (i = 0; i < sizeof big / sizeof big[0]; i++) {
		fd = hraw_connect(c.d.sock);
		send_hdr(fd, COMMIS_MSG_SUBMIT, big[i], 5 + i);
		expect_error(fd, 5 + i, COMMIS_E_TOOBIG);
		hwrite(fd, junk, sizeof junk);	/* part of the skip */
		close(fd);
		alive(&c);
	}
	/* The same on a PING, a type checked only after the length. */
	fd = hraw_connect(c.d.sock);
	send_hdr(fd, COMMIS_MSG_PING, 0xffffffffu, 7);
	expect_error(fd, 7, COMMIS_E_TOOBIG);
	close(fd);
	alive(&c);

	/* An unknown type: UNSUPPORTED, the connection stays. */
	fd = hraw_connect(c.d.sock);
	send_hdr(fd, 99, 0, 8);
	expect_error(fd, 8, COMMIS_E_UNSUPPORTED);
	expect_pong(fd, 9);
	close(fd);
	alive(&c);

	/* A bad version: VERSION, then EOF. */
	fd = hraw_connect(c.d.sock);
	frame_hdr_encode(hdr, COMMIS_MSG_PING, 0, 0, 10);
	hdr[4] = COMMIS_PROTO_VERSION + 1;
	hwrite(fd, hdr, sizeof hdr);
	expect_error(fd, 0, COMMIS_E_VERSION);
	expect_eof(fd);
	close(fd);
	alive(&c);

	/* A truncated header, then EOF (write side shut, then closed). */
	fd = hraw_connect(c.d.sock);
	frame_hdr_encode(hdr, COMMIS_MSG_PING, 0, 0, 11);
	hwrite(fd, hdr, 10);
	ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
	expect_eof(fd);
	close(fd);
	fd = hraw_connect(c.d.sock);
	hwrite(fd, hdr, 10);
	close(fd);
	alive(&c);

	/* None of the length claims was allocated. */
	rss1 = vmrss_kb(c.d.pid);
	ck_assert_int_lt(rss1, rss0 + 16 * 1024);
	/* The header-1 PING and the bad version dropped their peers. */
	ck_assert_int_ge(test_stat(c.cl, "dropped"), 2);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_many_connections_fds)
{
	enum { BATCH = 100, TOTAL = 10000 };
	commis_client	*cls[BATCH];
	struct ctx	 c;
	struct fd_arg	 a;
	uint64_t	 rtt;
	int		 i, j, base;

	ctx_start(&c, POOL_YAML(""));
	wait_ready(c.cl, 2);
	fresh_ping(c.d.sock);	/* any lazily opened fd is open now */
	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);
	a.pid = c.d.pid;
	a.want = base = stable_fds(c.d.pid);
	for (i = 0; i < TOTAL; i += BATCH) {
		for (j = 0; j < BATCH; j++)
			ck_assert_int_eq(commis_connect(c.d.sock, &cls[j]),
			    COMMIS_OK);
		for (j = 0; j < BATCH; j++) {
			ck_assert_int_eq(commis_ping(cls[j], &rtt), COMMIS_OK);
			commis_close(cls[j]);
		}
	}
	if (!test_poll(fds_at, &a, 10000))
		ck_abort_msg("commisd fds %d after %d connections, "
		    "baseline %d", fd_count(c.d.pid), TOTAL, base);
	ctx_stop(&c);
}
END_TEST

struct repl_arg {
	commis_client	*cl;
	long		 old;
};

/* Two idle workers, neither of them the killed one. */
static int
replaced(void *arg)
{
	struct repl_arg	*r = arg;
	struct wstat	 ws;
	int		 i, idle = 0;

	wstats(r->cl, &ws);
	for (i = 0; i < ws.n; i++) {
		if (ws.pid[i] == r->old || ws.pid[i] <= 0)
			return 0;
		if (strcmp(ws.state[i], "idle") == 0)
			idle++;
	}
	return ws.n == 2 && idle == 2;
}

START_TEST(test_worker_restarts_fds)
{
	enum { RESTARTS = 10000 };
	struct ctx	 c;
	struct wstat	 ws;
	struct repl_arg	 r;
	struct fd_arg	 a;
	int		 i, base;

	ctx_start(&c, POOL_YAML(
	    "    spawn_rate: 10000\n    restart_intensity: 100000\n"
	    "    restart_period_ms: 1000\n"));
	wait_ready(c.cl, 2);
	a.pid = c.d.pid;
	a.want = base = stable_fds(c.d.pid);
	r.cl = c.cl;
	for (i = 0; i < RESTARTS; i++) {
		wstats(c.cl, &ws);
		ck_assert_int_eq(ws.n, 2);
		r.old = ws.pid[i % 2];
		ck_assert_int_gt(r.old, 0);
		ck_assert_int_eq(kill((pid_t)r.old, SIGKILL), 0);
		if (!test_poll(replaced, &r, 10000))
			ck_abort_msg("worker %ld not replaced (restart %d)",
			    r.old, i);
	}
	ck_assert_int_ge(test_stat(c.cl, "restarts"), RESTARTS);
	if (!test_poll(fds_at, &a, 10000))
		ck_abort_msg("commisd fds %d after %d restarts, baseline %d",
		    fd_count(c.d.pid), RESTARTS, base);
	ctx_stop(&c);
}
END_TEST

/*
 * Workers that break the protocol from inside (tests/modules/evilmod.c):
 * garbage, a DONE for a job they do not have, a frame with two fds, and
 * DONEs for their own job with an unsealed, an oversized, and a segment
 * plus inline bytes. Each time commisd kills that worker and starts
 * another, the job is tried again (and then succeeds: the handler
 * behaves on its second attempt), and commisd stays up, its fds back at
 * their baseline.
 */
START_TEST(test_hostile_workers)
{
	static const char *const modes[] = { "garbage", "foreign", "fds",
	    "unsealed", "bigseg", "mixed" };
	struct commis_result	 r;
	struct ctx		 c;
	struct wstat		 ws;
	struct fd_arg		 a;
	char			 yaml[4096], in[600], idf[256], tmp[264];
	char			 num[32];
	uint64_t		 id;
	long			 pid;
	size_t			 i;
	int			 fd;

	snprintf(yaml, sizeof yaml, "max_segment: 1M\npools:\n"
	    "  - name: p\n    workers: 1\n    max_attempts: 3\n"
	    "    modules: [%s]\n", test_build_path("evilmod.so"));
	ctx_start(&c, yaml);
	wait_ready(c.cl, 1);
	a.pid = c.d.pid;
	a.want = stable_fds(c.d.pid);
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		wstats(c.cl, &ws);
		pid = ws.pid[0];
		snprintf(idf, sizeof idf, "%s/id-%s", c.d.dir, modes[i]);
		snprintf(in, sizeof in, "%s,%s/mark-%s,%s", modes[i], c.d.dir,
		    modes[i], idf);
		ck_assert_int_eq(commis_submit_nowait(c.cl, "test.evil", in,
		    strlen(in), NULL, &id), COMMIS_OK);
		/* Its own id, for the modes that answer for their job. */
		snprintf(tmp, sizeof tmp, "%s.tmp", idf);
		snprintf(num, sizeof num, "%llu", (unsigned long long)id);
		ck_assert_int_ne(fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC,
		    0600), -1);
		ck_assert_int_eq(write(fd, num, strlen(num)),
		    (ssize_t)strlen(num));
		close(fd);
		ck_assert_int_eq(rename(tmp, idf), 0);

		ck_assert_int_eq(commis_wait(c.cl, id, 30000, &r), COMMIS_OK);
		ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "%s: status %d "
		    "cause %s", modes[i], r.status, r.cause);
		ck_assert_msg(r.attempts == 2, "%s: %u attempts", modes[i],
		    r.attempts);
		ck_assert_uint_eq(r.output_len, 2);
		ck_assert(memcmp(r.output, "ok", 2) == 0);
		commis_result_free(&r);
		wstats(c.cl, &ws);
		ck_assert_int_eq(ws.n, 1);
		ck_assert_msg(ws.pid[0] != pid, "%s: worker %ld not replaced",
		    modes[i], pid);
		ck_assert_int_eq(test_stat(c.cl, "restarts"), (long long)i + 1);
	}
	if (!test_poll(fds_at, &a, 10000))
		ck_abort_msg("commisd fds %d, baseline %d", fd_count(c.d.pid),
		    a.want);
	ctx_stop(&c);
}
END_TEST

Suite *
hostile_suite(void)
{
	Suite	*s = suite_create("hostile");
	TCase	*tc = tcase_create("peers");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hostile_lengths);
	tcase_add_test(tc, test_many_connections_fds);
	tcase_add_test(tc, test_hostile_workers);
	suite_add_tcase(s, tc);

	/* 10,000 forks and reaps: ~20 s here, more under sanitizers. */
	tc = tcase_create("restarts");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_worker_restarts_fds);
	suite_add_tcase(s, tc);
	return s;
}

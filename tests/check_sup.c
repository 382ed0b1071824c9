/*
 * Integration tests: a real commisd (started by testlib on a socket bound
 * before the fork) driven through libcommis and raw sockets. Each test has
 * its own temporary directory and daemon.
 */
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commis/client.h"
#include "frame.h"
#include "msg.h"
#include "testlib.h"


START_TEST(test_submit_echo)
{
	struct commis_result	r;
	struct ctx		c;

	ctx_start(&c, POOL_YAML(""));
	ck_assert_int_eq(submit(c.cl, "echo", "hello", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.output_len, 5);
	ck_assert_mem_eq(r.output, "hello", 5);
	ck_assert_uint_ne(r.job_id, 0);
	ck_assert_uint_eq(r.attempts, 1);
	commis_result_free(&r);

	ck_assert_int_eq(submit(c.cl, "sha256", "abc", "p", &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.output_len, 64);
	ck_assert_mem_eq(r.output, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad", 64);
	commis_result_free(&r);

	/* Empty input and empty output are fine too. */
	ck_assert_int_eq(submit(c.cl, "echo", "", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.output_len, 0);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_rejections)
{
	struct commis_result	r;
	struct ctx		c;
	char			*big;

	ctx_start(&c, "max_payload: 1024\n" POOL_YAML(""));
	ck_assert_int_eq(submit(c.cl, "nope", "x", NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_NO_HANDLER);
	ck_assert_ptr_nonnull(strstr(r.cause, "nope"));
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "echo", "x", "nopool", &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_NO_POOL);
	commis_result_free(&r);

	/* Above max_payload (and above the frame limit): refused, and the
	 * connection stays usable. */
	big = malloc(64 * 1024 + 1);
	memset(big, 'a', 64 * 1024);
	big[64 * 1024] = '\0';
	ck_assert_int_eq(submit(c.cl, "echo", big, NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_TOOBIG);
	commis_result_free(&r);
	big[2000] = '\0';	/* within the frame limit, above max_payload */
	ck_assert_int_eq(submit(c.cl, "echo", big, NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_TOOBIG);
	commis_result_free(&r);
	free(big);
	ck_assert_int_eq(submit(c.cl, "echo", "ok", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_many_concurrent)
{
	enum { N = 500 };
	struct commis_result	 r;
	struct ctx		 c;
	uint64_t		 ids[N];
	char			 buf[32];
	int			 i, seen[N] = { 0 };

	ctx_start(&c, POOL_YAML(""));
	for (i = 0; i < N; i++) {
		snprintf(buf, sizeof buf, "job-%d", i);
		ck_assert_int_eq(commis_submit_async(c.cl, "echo", buf,
		    strlen(buf), NULL, &ids[i]), COMMIS_OK);
	}
	ck_assert_uint_eq(commis_pending(c.cl), N);
	for (i = 0; i < N; i++) {
		int	j, k;

		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r),
		    COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		for (j = 0; j < N && ids[j] != r.request_id; j++)
			;
		ck_assert_int_lt(j, N);
		ck_assert_int_eq(seen[j], 0);
		seen[j] = 1;
		k = snprintf(buf, sizeof buf, "job-%d", j);
		ck_assert_uint_eq(r.output_len, (size_t)k);
		ck_assert_mem_eq(r.output, buf, (size_t)k);
		commis_result_free(&r);
	}
	ck_assert_uint_eq(commis_pending(c.cl), 0);
	ctx_stop(&c);
}
END_TEST

struct busy_arg {
	commis_client	*cl;
	long		 pid;
};

static int
worker_busy(void *arg)
{
	struct busy_arg	*a = arg;
	struct wstat	 ws;
	int		 i;

	wstats(a->cl, &ws);
	for (i = 0; i < ws.n; i++) {
		if (ws.running[i]) {
			a->pid = ws.pid[i];
			return 1;
		}
	}
	return 0;
}

START_TEST(test_sigkill_worker_midjob)
{
	struct commis_result	 r;
	struct busy_arg		 ba;
	struct wstat		 before, after;
	struct ctx		 c;
	commis_client		*cl2;
	uint64_t		 id;
	int			 i;

	ctx_start(&c, POOL_YAML("    max_attempts: 3\n"));
	ck_assert_int_eq(commis_connect(c.d.sock, &cl2), COMMIS_OK);
	wait_ready(cl2, 2);
	wstats(cl2, &before);
	ck_assert_int_eq(commis_submit_async(c.cl, "sleep", "300", 3, NULL,
	    &id), COMMIS_OK);
	ba.cl = cl2;
	ck_assert(test_poll(worker_busy, &ba, 10000));
	ck_assert_int_eq(kill((pid_t)ba.pid, SIGKILL), 0);

	ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.attempts, 2);
	commis_result_free(&r);

	/* The slot is refilled with a new process. */
	wait_ready(cl2, 2);
	wstats(cl2, &after);
	ck_assert_int_eq(after.n, 2);
	for (i = 0; i < after.n; i++)
		ck_assert_int_ne(after.pid[i], ba.pid);
	commis_close(cl2);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_segv_exhausts_attempts)
{
	struct commis_result	r;
	struct ctx		c;
	uint64_t		rtt;

	ctx_start(&c, POOL_YAML("    max_attempts: 3\n"));
	ck_assert_int_eq(submit(c.cl, "fault", "segv", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_CRASHED);
	ck_assert_uint_eq(r.attempts, 3);
	ck_assert_msg(strstr(r.cause, "SIGSEGV") != NULL, "cause: %s", r.cause);
	commis_result_free(&r);
	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);

	ck_assert_int_eq(submit(c.cl, "fault", "exit:7", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_CRASHED);
	ck_assert_msg(strstr(r.cause, "exit code 7") != NULL, "cause: %s",
	    r.cause);
	commis_result_free(&r);

	/* A handler error is the job's answer, not a crash: no retry. */
	ck_assert_int_eq(submit(c.cl, "spin", "abc", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_uint_eq(r.attempts, 1);
	ck_assert_ptr_nonnull(strstr(r.cause, "abc"));
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "echo", "alive", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_timeout)
{
	struct commis_submit_opts	o = { .timeout_ms = 100 };
	struct commis_result		r;
	struct ctx			c;

	ctx_start(&c, POOL_YAML("    max_attempts: 2\n    timeout_ms: 200\n"
	    "    kill_grace_ms: 100\n"));
	/* The pool default. */
	ck_assert_int_eq(submit(c.cl, "sleep", "10000", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_TIMEDOUT);
	ck_assert_uint_eq(r.attempts, 2);
	ck_assert_str_eq(r.cause, "timeout after 200 ms");
	commis_result_free(&r);
	/* A per-job override, on a handler that ignores SIGTERM: the grace
	 * period ends in SIGKILL. */
	ck_assert_int_eq(commis_submit_wait(c.cl, "fault", "hang", 4, &o, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_TIMEDOUT);
	ck_assert_str_eq(r.cause, "timeout after 100 ms");
	commis_result_free(&r);
	/* Quick jobs are not affected. */
	ck_assert_int_eq(submit(c.cl, "sleep", "1", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_queue_full_and_priority)
{
	struct commis_submit_opts	 lo = { .priority = 0 };
	struct commis_submit_opts	 hi = { .priority = 5 };
	struct commis_result		 r;
	struct ctx			 c;
	uint64_t			 busy, a, b, order[2];
	int				 i;

	ctx_start(&c, "pools:\n  - name: p\n    workers: 1\n"
	    "    queue_max: 2\n");
	wait_ready(c.cl, 1);
	ck_assert_int_eq(commis_submit_async(c.cl, "sleep", "300", 3, NULL,
	    &busy), COMMIS_OK);
	{
		struct busy_arg ba = { c.cl, 0 };

		ck_assert(test_poll(worker_busy, &ba, 10000));
	}
	ck_assert_int_eq(commis_submit_async(c.cl, "echo", "lo", 2, &lo, &a),
	    COMMIS_OK);
	ck_assert_int_eq(commis_submit_async(c.cl, "echo", "hi", 2, &hi, &b),
	    COMMIS_OK);
	/* The queue holds 2: a third is refused at once. */
	ck_assert_int_eq(submit(c.cl, "echo", "x", NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_QUEUE_FULL);
	commis_result_free(&r);

	ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
	ck_assert_uint_eq(r.request_id, busy);
	commis_result_free(&r);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		order[i] = r.request_id;
		commis_result_free(&r);
	}
	ck_assert_uint_eq(order[0], b);		/* higher priority first */
	ck_assert_uint_eq(order[1], a);
	ctx_stop(&c);
}
END_TEST

static int
raw_connect(const char *path)
{
	struct sockaddr_un	sun;
	int			fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	return fd;
}

/* Reads frames until EOF; returns the type of the first (or -1). */
static int
read_until_eof(int fd, uint32_t *code)
{
	struct frame_dec	d;
	struct frame		f;
	int			type = -1, r;
	ssize_t			n;

	frame_dec_init(&d, 65536);
	for (;;) {
		while ((r = frame_dec_next(&d, &f)) == 1) {
			if (type == -1) {
				type = f.hdr.type;
				if (f.hdr.len >= 4)
					*code = (uint32_t)f.payload[0] | (uint32_t)f.payload[1] << 8 |
					    (uint32_t)f.payload[2] << 16 |
					    (uint32_t)f.payload[3] << 24;
			}
		}
		ck_assert_int_eq(r, 0);
		n = frame_dec_read(&d, fd);
		if (n == 0)
			break;
		ck_assert_int_gt(n, 0);
	}
	frame_dec_free(&d);
	return type;
}

START_TEST(test_garbage_and_version)
{
	static const char	 junk[] = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
	uint8_t			 hdr[COMMIS_FRAME_HDR_LEN];
	struct commis_result	 r;
	struct ctx		 c;
	uint32_t		 code = 0;
	uint64_t		 rtt;
	int			 fd;

	ctx_start(&c, POOL_YAML(""));
	fd = raw_connect(c.d.sock);
	ck_assert_int_eq(write(fd, junk, sizeof junk - 1), sizeof junk - 1);
	ck_assert_int_eq(read_until_eof(fd, &code), COMMIS_MSG_ERROR);
	ck_assert_uint_eq(code, COMMIS_E_PROTO);
	close(fd);

	/* A future version: an ERROR naming the mismatch, then close. */
	fd = raw_connect(c.d.sock);
	frame_hdr_encode(hdr, COMMIS_MSG_PING, 0, 0, 9);
	hdr[4] = COMMIS_PROTO_VERSION + 1;
	ck_assert_int_eq(write(fd, hdr, sizeof hdr), sizeof hdr);
	ck_assert_int_eq(read_until_eof(fd, &code), COMMIS_MSG_ERROR);
	ck_assert_uint_eq(code, COMMIS_E_VERSION);
	close(fd);

	/* A malformed SUBMIT payload drops only that connection. */
	fd = raw_connect(c.d.sock);
	frame_hdr_encode(hdr, COMMIS_MSG_SUBMIT, 0, 3, 1);
	ck_assert_int_eq(write(fd, hdr, sizeof hdr), sizeof hdr);
	ck_assert_int_eq(write(fd, "abc", 3), 3);
	ck_assert_int_eq(read_until_eof(fd, &code), COMMIS_MSG_ERROR);
	ck_assert_uint_eq(code, COMMIS_E_PROTO);
	close(fd);

	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);
	ck_assert_int_eq(submit(c.cl, "echo", "fine", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

struct cancelled_arg {
	commis_client	*cl;
};

static int
three_cancelled(void *arg)
{
	struct cancelled_arg	*a = arg;
	char			*json, *p;
	int			 n;

	ck_assert_int_eq(commis_stats(a->cl, COMMIS_STATS_JSON, &json),
	    COMMIS_OK);
	p = strstr(json, "\"cancelled\":");
	ck_assert_ptr_nonnull(p);
	n = atoi(p + strlen("\"cancelled\":"));
	free(json);
	return n == 3;
}

START_TEST(test_client_vanishes)
{
	struct cancelled_arg	 ca;
	struct commis_result	 r;
	struct ctx		 c;
	commis_client		*gone;
	uint64_t		 id;
	int			 i;

	ctx_start(&c, "pools:\n  - name: p\n    workers: 1\n");
	wait_ready(c.cl, 1);
	ck_assert_int_eq(commis_connect(c.d.sock, &gone), COMMIS_OK);
	ck_assert_int_eq(commis_submit_async(gone, "sleep", "200", 3, NULL,
	    &id), COMMIS_OK);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(commis_submit_async(gone, "echo", "x", 1, NULL,
		    &id), COMMIS_OK);
	{
		struct busy_arg ba = { c.cl, 0 };

		ck_assert(test_poll(worker_busy, &ba, 10000));
	}
	commis_close(gone);
	/* Its three queued jobs are cancelled; the running one finishes. */
	ca.cl = c.cl;
	ck_assert(test_poll(three_cancelled, &ca, 10000));
	wait_ready(c.cl, 1);
	ck_assert_int_eq(submit(c.cl, "echo", "next", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

static int
no_workers(void *arg)
{
	return test_stat(arg, "workers") == 0;
}

START_TEST(test_startup_failures)
{
	struct commis_result	 r;
	struct ctx		 c;
	char			 yaml[512];

	/* init() fails: exit 2, the slot is not respawned, the pool is down
	 * and says so, and the daemon still answers. */
	snprintf(yaml, sizeof yaml, "pools:\n  - name: p\n    workers: 2\n"
	    "    modules: [%s]\n", test_build_path("testmod.so"));
	setenv("COMMIS_TESTMOD_FAIL_INIT", "1", 1);
	ctx_start(&c, yaml);
	unsetenv("COMMIS_TESTMOD_FAIL_INIT");
	/* Queued before the last slot failed: it ends failed; after: it
	 * is refused. Either way it is told why. */
	if (submit(c.cl, "echo", "x", NULL, &r) == COMMIS_OK) {
		ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
		ck_assert_ptr_nonnull(strstr(r.cause, "pool down"));
	} else
		ck_assert_int_eq(r.error, COMMIS_E_POOL_DOWN);
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "echo", "x", NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_POOL_DOWN);
	commis_result_free(&r);
	/* Every worker that was forked exits, and none is forked again. */
	ck_assert(test_poll(no_workers, c.cl, 10000));
	ck_assert_int_le(test_stat(c.cl, "restarts"), 2);
	ctx_stop(&c);
}
END_TEST

static int
restarts_at_least(void *arg)
{
	struct cancelled_arg	*a = arg;
	char			*json, *p;
	int			 n;

	ck_assert_int_eq(commis_stats(a->cl, COMMIS_STATS_JSON, &json),
	    COMMIS_OK);
	p = strstr(json, "\"restarts\":");
	n = atoi(p + strlen("\"restarts\":"));
	free(json);
	return n >= 6;
}

START_TEST(test_startup_crash_backoff)
{
	struct cancelled_arg	 ca;
	struct ctx		 c;
	char			 yaml[512], *json, *p;
	uint64_t		 t0, rtt;
	int			 n;

	/* init() aborts: the slot restarts with a doubling delay (10, 20,
	 * 40, 80, 160 ms before the 6th start), so six failed starts take at
	 * least 310 ms: the daemon cannot be fork-bombing. */
	snprintf(yaml, sizeof yaml, "pools:\n  - name: p\n    workers: 1\n"
	    "    restart_delay_ms: 10\n    restart_delay_max_ms: 1000\n"
	    "    modules: [%s]\n", test_build_path("testmod.so"));
	setenv("COMMIS_TESTMOD_CRASH_INIT", "1", 1);
	t0 = test_now_ms();
	ctx_start(&c, yaml);
	unsetenv("COMMIS_TESTMOD_CRASH_INIT");
	ca.cl = c.cl;
	ck_assert(test_poll(restarts_at_least, &ca, 20000));
	ck_assert_uint_ge(test_now_ms() - t0, 310);
	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);
	ck_assert_int_eq(commis_stats(c.cl, COMMIS_STATS_JSON, &json),
	    COMMIS_OK);
	p = strstr(json, "\"restarts\":");
	n = atoi(p + strlen("\"restarts\":"));
	free(json);
	ck_assert_int_le(n, 8);
	ctx_stop(&c);
}
END_TEST

struct gone_arg {
	long	pids[16];
	int	n;
};

static int
pids_gone(void *arg)
{
	struct gone_arg	*g = arg;
	int		 i;

	for (i = 0; i < g->n; i++) {
		if (kill((pid_t)g->pids[i], 0) == 0 || errno != ESRCH)
			return 0;
	}
	return 1;
}

START_TEST(test_sigterm_clean_exit)
{
	struct testd		 d;
	commis_client		*cl;
	struct wstat		 ws;
	struct gone_arg		 g;
	int			 status, i;
	pid_t			 pid;

	/* commisd binds the socket itself here, so it must remove it. */
	testd_start_bound(&d, POOL_YAML(""));
	ck_assert_int_eq(commis_connect(d.sock, &cl), COMMIS_OK);
	wait_ready(cl, 2);
	wstats(cl, &ws);
	commis_close(cl);
	ck_assert_int_eq(ws.n, 2);
	pid = d.pid;
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(access(d.sock, F_OK), -1);
	g.n = ws.n;
	for (i = 0; i < ws.n; i++)
		g.pids[i] = ws.pid[i];
	ck_assert(test_poll(pids_gone, &g, 1000));
	d.pid = 0;
	testd_stop(&d);
}
END_TEST

/* Field n (1-based) of /proc/pid/stat, after the "(comm)". */
static long
proc_stat_field(long pid, int n)
{
	char	 path[64], buf[1024], *p;
	FILE	*f;
	int	 i;
	long	 v = -1;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
	fclose(f);
	p = strrchr(buf, ')');
	ck_assert_ptr_nonnull(p);
	p += 2;				/* field 3 starts here */
	for (i = 3; i < n && p != NULL; i++) {
		p = strchr(p, ' ');
		if (p != NULL)
			p++;
	}
	ck_assert_ptr_nonnull(p);
	v = strtol(p, NULL, 10);
	return v;
}

START_TEST(test_worker_process_setup)
{
	struct ctx	 c;
	struct wstat	 ws;
	struct dirent	*de;
	char		 path[64];
	DIR		*dir;
	int		 i, nfd;

	ctx_start(&c, POOL_YAML("    nice: 7\n"));
	wait_ready(c.cl, 2);
	wstats(c.cl, &ws);
	ck_assert_int_eq(ws.n, 2);
	for (i = 0; i < ws.n; i++) {
		/* Lower CPU priority than the supervisor: nice (field 19)
		 * raised by 7, policy (field 41) SCHED_BATCH. */
		ck_assert_int_eq(proc_stat_field(ws.pid[i], 19),
		    proc_stat_field(c.d.pid, 19) + 7);
		ck_assert_int_eq(proc_stat_field(ws.pid[i], 41), SCHED_BATCH);
		/* Its own process group (field 5). */
		ck_assert_int_eq(proc_stat_field(ws.pid[i], 5), ws.pid[i]);
		/* Only stdin, stdout, stderr and its channel. */
		snprintf(path, sizeof path, "/proc/%ld/fd", ws.pid[i]);
		dir = opendir(path);
		ck_assert_ptr_nonnull(dir);
		nfd = 0;
		while ((de = readdir(dir)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			ck_assert_int_le(atoi(de->d_name), 3);
			nfd++;
		}
		closedir(dir);
		ck_assert_int_le(nfd, 4);
	}
	ctx_stop(&c);
}
END_TEST

START_TEST(test_workers_die_with_supervisor)
{
	struct ctx	 c;
	struct wstat	 ws;
	struct gone_arg	 g;
	int		 i, status;

	ctx_start(&c, POOL_YAML(""));
	wait_ready(c.cl, 2);
	wstats(c.cl, &ws);
	commis_close(c.cl);
	ck_assert_int_eq(kill(c.d.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(c.d.pid, &status, 0), c.d.pid);
	c.d.pid = 0;
	/* PR_SET_PDEATHSIG: the orphans are killed (and reaped by init). */
	g.n = ws.n;
	for (i = 0; i < ws.n; i++)
		g.pids[i] = ws.pid[i];
	ck_assert(test_poll(pids_gone, &g, 10000));
	testd_stop(&c.d);
}
END_TEST

static int
child_exited(void *arg)
{
	struct testd	*d = arg;
	int		 status;

	return waitpid(d->pid, &status, WNOHANG) == d->pid;
}

START_TEST(test_socket_stale_and_live)
{
	struct sockaddr_un	 sun;
	struct testd		 d, d2;
	struct stat		 sb;
	char			*dir;
	int			 fd;

	/* A stale socket file (nobody listening) is replaced. */
	dir = test_tmpdir();
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s/commis.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sun, sizeof sun), 0);
	close(fd);
	testd_start_bound_in(&d, dir, POOL_YAML(""));
	ck_assert_int_eq(stat(d.sock, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0660);
	ck_assert(S_ISSOCK(sb.st_mode));

	/* A live one is refused: a second commisd on the same path exits
	 * with an error and leaves the first one's socket alone. */
	testd_start_bound_in(&d2, dir, POOL_YAML(""));
	ck_assert(test_poll(child_exited, &d2, 10000));
	d2.pid = 0;
	ck_assert_int_eq(access(d.sock, F_OK), 0);
	{
		commis_client	*cl;
		uint64_t	 rtt;

		ck_assert_int_eq(commis_connect(d.sock, &cl), COMMIS_OK);
		ck_assert_int_eq(commis_ping(cl, &rtt), COMMIS_OK);
		commis_close(cl);
	}
	free(d2.dir);
	d2.dir = NULL;
	testd_stop(&d);
	free(dir);
}
END_TEST

/*
 * A client that asks without reading the answers: once 8 MiB of replies
 * wait for it, commisd stops reading its requests instead of buffering
 * without bound. The replies here are WAITs on one kept 64 KiB result, so
 * they pile up at commisd's own speed, whatever the workers' speed. When
 * the client reads again, every request is answered.
 */
static int
throttled(void *arg)
{
	return test_stat(arg, "throttled") > 0;
}

static void
wait_throttled(commis_client *cl)
{
	ck_assert_msg(test_poll(throttled, cl, 20000), "commisd never paused "
	    "a client that does not read its replies");
}

START_TEST(test_output_backpressure)
{
	enum { N = 2000, SZ = 64 * 1024 };
	struct frame_dec	 d;
	struct commis_result	 r;
	struct mbuf		 m;
	struct ctx		 c;
	struct pollfd		 pfd;
	struct frame		 f;
	char			*data;
	uint64_t		 id;
	size_t			 off = 0;
	int			 fd, i, got = 0, n;
	long long		 pending;

	ctx_start(&c, POOL_YAML(""));
	data = malloc(SZ);
	memset(data, 'z', SZ);
	ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", data, SZ, NULL,
	    &id), COMMIS_OK);
	ck_assert_int_eq(commis_wait(c.cl, id, 0, &r), COMMIS_OK);
	ck_assert_uint_eq(r.output_len, SZ);
	commis_result_free(&r);
	mbuf_init(&m);
	for (i = 0; i < N; i++) {
		uint8_t	hdr[COMMIS_FRAME_HDR_LEN];

		frame_hdr_encode(hdr, COMMIS_MSG_WAIT, 0, 12, (uint64_t)i + 1);
		mbuf_add(&m, hdr, sizeof hdr);
		mbuf_u64(&m, id);
		mbuf_u32(&m, 0);
	}
	ck_assert_int_eq(m.err, 0);
	fd = raw_connect(c.d.sock);
	while (off < m.len) {
		n = (int)send(fd, m.data + off, m.len - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	/* commisd pauses that connection; what waits for it stays bounded
	 * by the 8 MiB mark plus one reply. */
	wait_throttled(c.cl);
	pending = test_stat(c.cl, "output_bytes");
	ck_assert_int_le(pending, (8 << 20) + SZ + 64);
	frame_dec_init(&d, 1 << 20);
	while (got < N) {
		pfd.fd = fd;
		pfd.events = POLLIN | (off < m.len ? POLLOUT : 0);
		ck_assert_int_gt(poll(&pfd, 1, 30000), 0);
		if ((pfd.revents & POLLOUT) && off < m.len) {
			n = (int)send(fd, m.data + off, m.len - off,
			    MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n > 0)
				off += (size_t)n;
		}
		if (pfd.revents & POLLIN) {
			ck_assert_int_gt(frame_dec_read(&d, fd), 0);
			while ((n = frame_dec_next(&d, &f)) == 1) {
				ck_assert_int_eq(f.hdr.type, COMMIS_MSG_RESULT);
				got++;
			}
			ck_assert_int_eq(n, 0);
		}
	}
	ck_assert_int_eq(test_stat(c.cl, "throttled"), 0);
	frame_dec_free(&d);
	close(fd);
	mbuf_free(&m);
	free(data);
	ctx_stop(&c);
}
END_TEST

/*
 * The stats JSON schema of docs/operations.md: every documented key is
 * there, and the whole is well-formed (balanced outside strings).
 */
START_TEST(test_stats_schema)
{
	static const char *const keys[] = {
		"version", "pid", "uptime_ms", "connections", "dropped",
		"refused",
		"denied", "slow_clients", "throttled", "output_bytes", "jobs",
		"segments", "results_kept", "results_bytes", "dead", "reloads",
		"stopping", "pools", "name", "isolation", "mode", "state",
		"generation", "size", "workers", "active", "available",
		"starting", "queued", "delayed", "queue_max", "submitted",
		"rejected", "succeeded", "failed", "timedout", "crashed",
		"cancelled", "expired", "retried", "rebalanced", "restarts",
		"recycled", "blast_events", "blast_requeued",
		"restarts_by_cause", "crash", "exit", "timeout", "max_rss",
		"other", "startup", "latency", "latency_1m", "queue", "run",
		"e2e", "p50", "p90", "p99", "max", "count", "worker_list", "id",
		"retire", "age_ms", "jobs_done", "threads", "running",
		"prefetched", "rss_kb", "cpu_ms", "job", "job_age_ms",
	};
	struct commis_result	 r;
	struct ctx		 c;
	char			*json, pat[64];
	const char		*p;
	size_t			 i;
	int			 depth = 0, in_str = 0;

	ctx_start(&c, POOL_YAML(""));
	ck_assert_int_eq(submit(c.cl, "echo", "x", NULL, &r), COMMIS_OK);
	commis_result_free(&r);
	wait_ready(c.cl, 2);
	ck_assert_int_eq(commis_stats(c.cl, COMMIS_STATS_JSON, &json),
	    COMMIS_OK);
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		snprintf(pat, sizeof pat, "\"%s\":", keys[i]);
		ck_assert_msg(strstr(json, pat) != NULL, "no %s", pat);
	}
	for (p = json; *p != '\0'; p++) {
		if (in_str) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '"')
			in_str = 1;
		else if (*p == '{' || *p == '[')
			depth++;
		else if (*p == '}' || *p == ']')
			ck_assert_int_ge(--depth, 0);
	}
	ck_assert_int_eq(depth, 0);
	ck_assert_int_eq(in_str, 0);
	/* The finished job is in the histograms. */
	ck_assert_int_ge(test_json_num(strstr(json, "\"e2e\":"), "count"), 1);
	free(json);
	ctx_stop(&c);
}
END_TEST

Suite *
sup_suite(void)
{
	Suite	*s = suite_create("sup");
	TCase	*tc = tcase_create("integration");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_submit_echo);
	tcase_add_test(tc, test_rejections);
	tcase_add_test(tc, test_many_concurrent);
	tcase_add_test(tc, test_sigkill_worker_midjob);
	tcase_add_test(tc, test_segv_exhausts_attempts);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_queue_full_and_priority);
	tcase_add_test(tc, test_garbage_and_version);
	tcase_add_test(tc, test_client_vanishes);
	tcase_add_test(tc, test_startup_failures);
	tcase_add_test(tc, test_startup_crash_backoff);
	tcase_add_test(tc, test_sigterm_clean_exit);
	tcase_add_test(tc, test_worker_process_setup);
	tcase_add_test(tc, test_workers_die_with_supervisor);
	tcase_add_test(tc, test_socket_stale_and_live);
	tcase_add_test(tc, test_output_backpressure);
	tcase_add_test(tc, test_stats_schema);
	suite_add_tcase(s, tc);
	return s;
}

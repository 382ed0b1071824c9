/*
 * Durable pools and idempotency keys (docs/durability.md) against a real
 * commisd: SIGKILL in the middle of a load, then recovery; a torn tail;
 * a full disk; the fsync policies; keys in plain and durable pools.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commis/client.h"
#include "testlib.h"

#define DUR_JOBS	20000
#define DUR_KILL_AT	10000	/* acknowledged jobs before the SIGKILL */

static void
dur_yaml(char *buf, size_t size, const char *dir, int workers,
    const char *extra)
{
	snprintf(buf, size, "state_dir: %s/state\npools:\n  - name: p\n"
	    "    workers: %d\n    durable: true\n    prefetch: 8\n"
	    "    max_attempts: 5\n    queue_max: 100000\n"
	    "    modules: [%s]\n%s", dir, workers,
	    test_build_path("testmod.so"), extra);
}

static void
dur_kill(struct testd *d)
{
	int	status;

	ck_assert_int_eq(kill(d->pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(d->pid, &status, 0), d->pid);
	d->pid = 0;
	/* The directory stays, for the next commisd. */
	free(d->dir);
	d->dir = NULL;
}

/* Marks in the test.mark log: how many lines each token has. */
static unsigned *
dur_marks(const char *path, unsigned n)
{
	unsigned	*count = calloc(n, sizeof *count), t;
	char		 line[128];
	long		 pid;
	FILE		*f;

	ck_assert_ptr_nonnull(count);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	while (fgets(line, sizeof line, f) != NULL) {
		ck_assert_int_eq(sscanf(line, "T%u %ld", &t, &pid), 2);
		ck_assert_uint_lt(t, n);
		count[t]++;
	}
	fclose(f);
	return count;
}

/*
 * 20,000 --no-wait jobs go in pipelined; once 10,000 are acknowledged,
 * commisd gets SIGKILL with jobs queued and running. A new commisd on
 * the same state_dir recovers the journal: every acknowledged job ends
 * exactly once, succeeded (its one RESULT through WAIT), and ran at
 * least once; a job ran twice only if it may have been running at the
 * crash.
 */
START_TEST(test_durable_kill_recover)
{
	struct commis_result	 r;
	struct testd		 d;
	commis_client		*c;
	char			*dir = test_tmpdir(), yaml[1024], log[512];
	char			 tok[32];
	uint64_t		*job = calloc(DUR_JOBS, sizeof *job), rid;
	uint64_t		 first, t0, ready_ms;
	long long		 recovered;
	unsigned		*marks, sent = 0, acked = 0, i, dup = 0;

	ck_assert_ptr_nonnull(job);
	snprintf(log, sizeof log, "%s/marks", dir);
	setenv("COMMIS_CHAOS_LOG", log, 1);
	dur_yaml(yaml, sizeof yaml, dir, 2, "");
	testd_start_bound_in(&d, dir, yaml);
	ck_assert_int_eq(commis_connect(d.sock, &c), COMMIS_OK);
	ck_assert_int_eq(commis_cork(c), COMMIS_OK);
	first = 0;
	while (acked < DUR_KILL_AT) {
		for (i = 0; i < 512 && sent < DUR_JOBS; i++, sent++) {
			/* 1 ms each: many wait in the queue at the kill. */
			snprintf(tok, sizeof tok, "T%05u,1", sent);
			ck_assert_int_eq(commis_submit_nowait_async(c,
			    "test.mark", tok, strlen(tok), NULL, &rid),
			    COMMIS_OK);
			if (first == 0)
				first = rid;
		}
		while (commis_pending(c) > 0) {
			ck_assert_int_eq(commis_wait_result(c, 30000, &r),
			    COMMIS_OK);
			ck_assert_int_eq(r.status, COMMIS_ST_ACCEPTED);
			ck_assert_uint_gt(r.job_id, 0);
			job[r.request_id - first] = r.job_id;
			acked++;
			commis_result_free(&r);
		}
	}
	dur_kill(&d);
	commis_close(c);

	/* The same state_dir, a new commisd. */
	t0 = test_now_ms();
	testd_start_bound_in(&d, dir, yaml);
	ck_assert_int_eq(commis_connect(d.sock, &c), COMMIS_OK);
	ck_assert_int_gt(recovered = test_stat(c, "recovered"), 0);
	ready_ms = test_now_ms() - t0;	/* its first answer: recovered */
	for (i = 0; i < acked; i++) {
		ck_assert_uint_gt(job[i], 0);
		ck_assert_int_eq(commis_wait(c, job[i], 60000, &r), COMMIS_OK);
		ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "job %llu: %s "
		    "(%s)", (unsigned long long)job[i],
		    commis_status_name(r.status), r.cause);
		commis_result_free(&r);
	}
	ck_assert_int_eq(test_stat(c, "queued"), 0);
	marks = dur_marks(log, DUR_JOBS);
	for (i = 0; i < acked; i++) {
		ck_assert_msg(marks[i] >= 1, "token %u acknowledged, never ran",
		    i);
		dup += marks[i] - 1;
	}
	/* Reruns: jobs whose DONE had not reached the journal. */
	ck_assert_uint_lt(dup, acked / 2);
	fprintf(stderr, "durable: %u sent, %u acknowledged before SIGKILL; "
	    "restart to first answer %llu ms, %lld jobs queued again; all %u "
	    "ended succeeded; %u ran twice\n", sent, acked,
	    (unsigned long long)ready_ms, recovered, acked, dup);
	free(marks);
	free(job);
	commis_close(c);
	ck_assert_int_eq(testd_stop(&d) & 0x7f, 0);
	unsetenv("COMMIS_CHAOS_LOG");
	free(dir);
}
END_TEST

/* A torn tail (garbage after the last whole record, as a crash in a
 * write leaves) is cut at start, logged and counted; the rest recovers. */
START_TEST(test_durable_torn_tail)
{
	struct commis_result	 r;
	struct testd		 d;
	commis_client		*c;
	char			*dir = test_tmpdir(), yaml[1024], path[512];
	uint64_t		 id[5], busy[2];
	int			 fd, i;

	dur_yaml(yaml, sizeof yaml, dir, 2, "");
	testd_start_bound_in(&d, dir, yaml);
	ck_assert_int_eq(commis_connect(d.sock, &c), COMMIS_OK);
	/* Both workers busy, so that the echo jobs stay queued. */
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(commis_submit_nowait(c, "sleep", "600000", 6,
		    NULL, &busy[i]), COMMIS_OK);
	test_wait_stat(c, "active", 2);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(commis_submit_nowait(c, "echo", "kept", 4,
		    NULL, &id[i]), COMMIS_OK);
	dur_kill(&d);
	commis_close(c);
	snprintf(path, sizeof path, "%s/state/p.journal", dir);
	ck_assert_int_ne(fd = open(path, O_WRONLY | O_APPEND), -1);
	ck_assert_int_eq(write(fd, "\x20\x00\x00\x00garbage, torn", 17), 17);
	close(fd);

	testd_start_bound_in(&d, dir, yaml);
	ck_assert_int_eq(commis_connect(d.sock, &c), COMMIS_OK);
	ck_assert_int_eq(test_stat(c, "cut_bytes"), 17);
	/* The sleeps run again (they were running at the crash); once
	 * they are cancelled, the echo jobs behind them run. */
	test_wait_stat(c, "active", 2);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(commis_cancel(c, busy[i]), COMMIS_OK);
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(commis_wait(c, id[i], 30000, &r), COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		ck_assert_uint_eq(r.output_len, 4);
		commis_result_free(&r);
	}
	commis_close(c);
	ck_assert_int_eq(testd_stop(&d) & 0x7f, 0);
	free(dir);
}
END_TEST

/*
 * A full disk: commisd's RLIMIT_FSIZE (EFBIG, as ENOSPC would) stops the
 * journal. New jobs get COMMIS_E_JOURNAL, commisd stays up, jobs already
 * accepted finish, and once there is room again jobs are accepted.
 */
START_TEST(test_durable_disk_full)
{
	struct commis_result	 r;
	struct rlimit		 rl, old;
	struct ctx		 c;
	char			*dir = test_tmpdir(), yaml[1024];
	char			 data[2048];
	uint64_t		 id, ok[1000], rtt;
	unsigned		 nok = 0, i;
	int			 rc = COMMIS_OK;

	memset(data, 'f', sizeof data);
	dur_yaml(yaml, sizeof yaml, dir, 1, "");
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	rl = old;
	rl.rlim_cur = 64 << 10;		/* inherited by commisd */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	testd_start_bound_in(&c.d, dir, yaml);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	ck_assert_int_eq(commis_connect(c.d.sock, &c.cl), COMMIS_OK);
	for (i = 0; i < 1000 && rc == COMMIS_OK; i++) {
		rc = commis_submit_nowait(c.cl, "echo", data, sizeof data,
		    NULL, &id);
		if (rc == COMMIS_OK)
			ok[nok++] = id;
	}
	ck_assert_int_eq(rc, COMMIS_ERR_REJECTED);
	ck_assert_int_eq(commis_client_errcode(c.cl), COMMIS_E_JOURNAL);
	ck_assert_ptr_nonnull(strstr(commis_client_error(c.cl),
	    "journal write failed"));
	ck_assert_uint_gt(nok, 0);
	ck_assert_int_eq(commis_ping(c.cl, &rtt), COMMIS_OK);
	ck_assert_int_gt(test_stat(c.cl, "errors"), 0);
	for (i = 0; i < nok; i++) {
		ck_assert_int_eq(commis_wait(c.cl, ok[i], 30000, &r),
		    COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		commis_result_free(&r);
	}
	/* Room again (commisd's own limit raised from outside). */
	ck_assert_int_eq(prlimit(c.d.pid, RLIMIT_FSIZE, &old, NULL), 0);
	ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", "x", 1, NULL,
	    &id), COMMIS_OK);
	ck_assert_int_eq(commis_wait(c.cl, id, 30000, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
	free(dir);
}
END_TEST

/* The two other fsync policies accept and run jobs; interval syncs on
 * its timer, never does not sync at all. */
START_TEST(test_durable_fsync_policies)
{
	struct commis_result	 r;
	struct ctx		 c;
	char			*dir = test_tmpdir(), yaml[1024];
	int			 pol;

	for (pol = 0; pol < 2; pol++) {
		dur_yaml(yaml, sizeof yaml, dir, 2, pol == 0 ?
		    "    fsync: interval\n    fsync_interval_ms: 20\n" :
		    "    fsync: never\n");
		testd_start_bound_in(&c.d, dir, yaml);
		ck_assert_int_eq(commis_connect(c.d.sock, &c.cl), COMMIS_OK);
		ck_assert_int_eq(submit(c.cl, "echo", "p", NULL, &r),
		    COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		commis_result_free(&r);
		ck_assert_int_gt(test_stat(c.cl, "commits"), 0);
		if (pol == 0)
			test_wait_stat(c.cl, "syncs", 1);
		else	/* the rewrite at start syncs; commits do not */
			ck_assert_int_eq(test_stat(c.cl, "syncs"), 0);
		commis_close(c.cl);
		ck_assert_int_eq(testd_stop(&c.d) & 0x7f, 0);	/* rm -r */
		ck_assert_int_eq(mkdir(dir, 0700), 0);
	}
	free(dir);
}
END_TEST

/*
 * Online compaction keeps the journal bounded: 3000 jobs pass through a
 * pool whose journal is rewritten past 4 KiB (and twice its last
 * rewrite); with no kept results nothing stays live, so the file ends
 * small while far more was written, and a restart finds nothing to redo.
 */
START_TEST(test_durable_compaction)
{
	enum { N = 3000 };
	struct commis_result	 r;
	struct ctx		 c;
	char			*dir = test_tmpdir(), yaml[1024];
	char			 data[100];
	uint64_t		 rid;
	unsigned		 i;

	memset(data, 'c', sizeof data);
	snprintf(yaml, sizeof yaml, "result_ttl_ms: 0\njournal_compact: 4K\n"
	    "state_dir: %s/state\npools:\n  - name: p\n    workers: 2\n"
	    "    durable: true\n    queue_max: 100000\n", dir);
	testd_start_bound_in(&c.d, dir, yaml);
	ck_assert_int_eq(commis_connect(c.d.sock, &c.cl), COMMIS_OK);
	ck_assert_int_eq(commis_cork(c.cl), COMMIS_OK);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(commis_submit_async(c.cl, "echo", data,
		    sizeof data, NULL, &rid), COMMIS_OK);
	for (i = 0; i < N; i++) {
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r),
		    COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		commis_result_free(&r);
	}
	/* Every ACCEPT, START and DONE was written: ~300 bytes a job. */
	ck_assert_int_ge(test_stat(c.cl, "compactions"), 3);
	ck_assert_int_lt(test_stat(c.cl, "bytes"), 64 * 1024);
	dur_kill(&c.d);
	commis_close(c.cl);
	testd_start_bound_in(&c.d, dir, yaml);
	ck_assert_int_eq(commis_connect(c.d.sock, &c.cl), COMMIS_OK);
	ck_assert_int_eq(test_stat(c.cl, "recovered"), 0);
	ck_assert_int_eq(test_stat(c.cl, "queued"), 0);
	ctx_stop(&c);
	free(dir);
}
END_TEST

/* Segments are the client's to keep: a durable pool refuses them. */
START_TEST(test_durable_refuses_segments)
{
	struct commis_result	 r;
	struct ctx		 c;
	char			*dir = test_tmpdir(), yaml[1024];

	dur_yaml(yaml, sizeof yaml, dir, 2, "");
	testd_start_bound_in(&c.d, dir, yaml);
	ck_assert_int_eq(commis_connect(c.d.sock, &c.cl), COMMIS_OK);
	ck_assert_int_eq(commis_submit_copy(c.cl, "echo", "seg", 3, NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_SEGMENT);
	commis_result_free(&r);
	ctx_stop(&c);
	free(dir);
}
END_TEST

/*
 * Idempotency keys, in a plain pool and (across a restart) in a durable
 * one: the same key gets the first job's id (--no-wait) or its result;
 * another uid's key or another key is another job.
 */
START_TEST(test_idempotency_keys)
{
	struct commis_submit_opts	 o = { .idempotency_key = "order-17" };
	struct commis_result		 r;
	struct ctx			 c;
	struct testd			 d;
	commis_client			*cl;
	char				*dir = test_tmpdir(), yaml[1024];
	uint64_t			 a, b, e;

	ctx_start(&c, "pools:\n  - name: p\n    workers: 1\n");
	ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", "one", 3, &o, &a),
	    COMMIS_OK);
	ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", "two", 3, &o, &b),
	    COMMIS_OK);
	ck_assert_uint_eq(a, b);
	o.idempotency_key = "order-18";
	ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", "one", 3, &o, &b),
	    COMMIS_OK);
	ck_assert_uint_ne(a, b);
	/* Waiting submits: the retry gets the first job's result. */
	o.idempotency_key = "order-19";
	ck_assert_int_eq(commis_submit_wait(c.cl, "echo", "first", 5, &o, &r),
	    COMMIS_OK);
	e = r.job_id;
	commis_result_free(&r);
	ck_assert_int_eq(commis_submit_wait(c.cl, "echo", "again", 5, &o, &r),
	    COMMIS_OK);
	ck_assert_uint_eq(r.job_id, e);
	ck_assert_uint_eq(r.output_len, 5);
	ck_assert(memcmp(r.output, "first", 5) == 0);
	commis_result_free(&r);
	ck_assert_int_eq(test_stat(c.cl, "idempotency_keys"), 3);
	o.idempotency_key = "";
	ck_assert_int_eq(commis_submit_nowait(c.cl, "echo", "x", 1, &o, &b),
	    COMMIS_ERR_INVAL);
	ctx_stop(&c);

	/* Durable: the key outlives commisd. */
	dur_yaml(yaml, sizeof yaml, dir, 2, "");
	testd_start_bound_in(&d, dir, yaml);
	ck_assert_int_eq(commis_connect(d.sock, &cl), COMMIS_OK);
	o.idempotency_key = "pay-1";
	ck_assert_int_eq(commis_submit_nowait(cl, "echo", "one", 3, &o, &a),
	    COMMIS_OK);
	ck_assert_int_eq(commis_wait(cl, a, 30000, &r), COMMIS_OK);
	commis_result_free(&r);
	dur_kill(&d);
	commis_close(cl);
	testd_start_bound_in(&d, dir, yaml);
	ck_assert_int_eq(commis_connect(d.sock, &cl), COMMIS_OK);
	ck_assert_int_eq(commis_submit_nowait(cl, "echo", "two", 3, &o, &b),
	    COMMIS_OK);
	ck_assert_uint_eq(a, b);
	ck_assert_int_eq(commis_wait(cl, b, 30000, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert(r.output_len == 3 && memcmp(r.output, "one", 3) == 0);
	commis_result_free(&r);
	commis_close(cl);
	ck_assert_int_eq(testd_stop(&d) & 0x7f, 0);
	free(dir);
}
END_TEST

Suite *
durable_suite(void)
{
	Suite	*s = suite_create("durable");
	TCase	*tc = tcase_create("journal");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_durable_kill_recover);
	tcase_add_test(tc, test_durable_torn_tail);
	tcase_add_test(tc, test_durable_disk_full);
	tcase_add_test(tc, test_durable_fsync_policies);
	tcase_add_test(tc, test_durable_compaction);
	tcase_add_test(tc, test_durable_refuses_segments);
	tcase_add_test(tc, test_idempotency_keys);
	suite_add_tcase(s, tc);
	return s;
}

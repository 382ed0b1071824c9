/*
 * Thread pools against a real commisd: one host process runs the jobs on
 * threads. Every built-in runs there; a crash or a hard timeout costs the
 * whole host, its other jobs go back uncharged (the blast radius), and
 * handlers that are not thread-safe are refused.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"

#define THREAD_YAML(extra) \
	"pools:\n  - name: t\n    isolation: thread\n    workers: 3\n" extra

static long
host_pid(commis_client *cl)
{
	struct wstat	ws;

	wstats(cl, &ws);
	ck_assert_int_eq(ws.n, 1);	/* one host process */
	return ws.pid[0];
}

START_TEST(test_thread_builtins)
{
	static const char	 abc_sha[] = "ba7816bf8f01cfea414140de5dae2223"
				    "b00361a396177a9cb410ff61f20015ad";
	struct commis_result	 r;
	struct ctx		 c;
	char			*json;

	ctx_start(&c, THREAD_YAML(""));
	wait_ready(c.cl, 3);
	ck_assert_int_eq(submit(c.cl, "echo", "hi", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_mem_eq(r.output, "hi", 2);
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "sha256", "abc", NULL, &r), COMMIS_OK);
	ck_assert_mem_eq(r.output, abc_sha, 64);
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "spin", "5", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "sleep", "5", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "xor", "\x5a\x5b", NULL, &r), COMMIS_OK);
	ck_assert_uint_eq(r.output_len, 2);
	ck_assert_mem_eq(r.output, "\0\1", 2);
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "spin", "x", NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	commis_result_free(&r);
	ck_assert_int_eq(commis_stats(c.cl, COMMIS_STATS_JSON, &json),
	    COMMIS_OK);
	ck_assert_ptr_nonnull(strstr(json, "\"isolation\":\"thread\""));
	ck_assert_ptr_nonnull(strstr(json, "\"threads\":3"));
	free(json);
	ck_assert_int_eq(test_stat(c.cl, "size"), 3);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_thread_concurrency_and_unsafe)
{
	struct commis_result	 r;
	struct ctx		 c;
	uint64_t		 ids[3];
	char			 yaml[8192];
	int			 i;

	snprintf(yaml, sizeof yaml, THREAD_YAML("    modules: [%s]\n"),
	    test_build_path("testmod.so"));
	ctx_start(&c, yaml);
	wait_ready(c.cl, 3);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(commis_submit_async(c.cl, "sleep", "300", 3,
		    NULL, &ids[i]), COMMIS_OK);
	/* Three jobs run at once on one process. */
	test_wait_stat(c.cl, "active", 3);
	ck_assert_int_eq(host_pid(c.cl) > 0, 1);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		commis_result_free(&r);
	}
	/* test.hog is not flagged thread-safe. */
	ck_assert_int_eq(submit(c.cl, "test.hog", "1", NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(r.cause, "thread-safe"));
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

/* A segv in one thread kills the host; the other running jobs go back
 * without being charged, the crashing job is charged. */
START_TEST(test_thread_blast_radius)
{
	struct commis_result	 r;
	struct ctx		 c;
	uint64_t		 s1, s2, segv;
	int			 i;
	long			 pid;

	ctx_start(&c, THREAD_YAML("    max_attempts: 2\n"));
	wait_ready(c.cl, 3);
	pid = host_pid(c.cl);
	ck_assert_int_eq(commis_submit_async(c.cl, "sleep", "400", 3, NULL,
	    &s1), COMMIS_OK);
	ck_assert_int_eq(commis_submit_async(c.cl, "sleep", "400", 3, NULL,
	    &s2), COMMIS_OK);
	test_wait_stat(c.cl, "active", 2);
	ck_assert_int_eq(commis_submit_async(c.cl, "fault", "segv", 4, NULL,
	    &segv), COMMIS_OK);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
		if (r.request_id == segv) {
			ck_assert_int_eq(r.status, COMMIS_ST_CRASHED);
			ck_assert_uint_eq(r.attempts, 2);
			ck_assert_ptr_nonnull(strstr(r.cause, "SIGSEGV"));
		} else {
			ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
			ck_assert_uint_eq(r.attempts, 1);
		}
		commis_result_free(&r);
	}
	ck_assert_int_ge(test_stat(c.cl, "blast_events"), 1);
	ck_assert_int_ge(test_stat(c.cl, "blast_requeued"), 2);
	wait_ready(c.cl, 3);
	ck_assert_int_ne(host_pid(c.cl), pid);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_thread_timeouts)
{
	struct commis_submit_opts	 o = { .timeout_ms = 150 };
	struct commis_result		 r;
	struct ctx			 c;
	uint64_t			 other, hang;
	long				 pid;
	int				 i;

	ctx_start(&c, THREAD_YAML("    max_attempts: 1\n"
	    "    kill_grace_ms: 200\n"));
	wait_ready(c.cl, 3);
	pid = host_pid(c.cl);
	/* Soft: sleep stops when asked; the host lives on. */
	ck_assert_int_eq(commis_submit_wait(c.cl, "sleep", "60000", 5, &o, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_TIMEDOUT);
	commis_result_free(&r);
	ck_assert_int_eq(host_pid(c.cl), pid);
	/* Hard: hang ignores it; SIGKILL costs the host, and the job of the
	 * other thread is requeued uncharged and still succeeds. */
	ck_assert_int_eq(commis_submit_async(c.cl, "sleep", "600", 3, NULL,
	    &other), COMMIS_OK);
	ck_assert_int_eq(commis_submit_async(c.cl, "fault", "hang", 4, &o,
	    &hang), COMMIS_OK);
	for (i = 0; i < 2; i++) {
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
		if (r.request_id == hang) {
			ck_assert_int_eq(r.status, COMMIS_ST_TIMEDOUT);
			ck_assert_str_eq(r.cause, "timeout after 150 ms");
		} else {
			ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
			ck_assert_uint_eq(r.attempts, 1);
		}
		commis_result_free(&r);
	}
	ck_assert_int_ge(test_stat(c.cl, "blast_requeued"), 1);
	wait_ready(c.cl, 3);
	ck_assert_int_ne(host_pid(c.cl), pid);
	ctx_stop(&c);
}
END_TEST

Suite *
thread_suite(void)
{
	Suite	*s = suite_create("thread");
	TCase	*tc = tcase_create("thread");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_thread_builtins);
	tcase_add_test(tc, test_thread_concurrency_and_unsafe);
	tcase_add_test(tc, test_thread_blast_radius);
	tcase_add_test(tc, test_thread_timeouts);
	suite_add_tcase(s, tc);
	return s;
}

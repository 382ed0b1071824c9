/*
 * The exec handler (src/exec.c) with real programs from Debian (gzip,
 * sort, sha256sum, sh), and the aggregate handler (src/aggregate.c),
 * through a real commisd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commis/client.h"
#include "testlib.h"

static const char exec_yaml[] =
    "pools:\n"
    "  - name: gz\n    workers: 1\n    max_attempts: 1\n"
    "    exec_argv: [gzip, -c, \"-{level}\"]\n"
    "    exec_params: [\"level=[1-9]\"]\n"
    "  - name: gunzip\n    workers: 1\n    max_attempts: 1\n"
    "    exec_argv: [gzip, -dc]\n"
    "  - name: sort\n    workers: 1\n    max_attempts: 1\n"
    "    exec_argv: [sort]\n"
    "    exec_env: [\"LC_ALL=C\", \"PATH=/usr/bin:/bin\"]\n"
    "  - name: sum\n    workers: 1\n    max_attempts: 1\n"
    "    exec_argv: [sha256sum]\n"
    "  - name: fail\n    workers: 1\n    max_attempts: 1\n"
    "    exec_argv: [sh, -c, \"echo 'bad input' >&2; exit {code}\"]\n"
    "    exec_params: [\"code=[0-9]{1,3}\"]\n"
    "  - name: orphan\n    workers: 1\n    max_attempts: 1\n"
    "    kill_grace_ms: 2000\n"
    "    exec_argv: [sh, -c, \"(trap '' TERM INT HUP; exec sleep 600) & "
    "echo $! > {pidfile}; wait\"]\n"
    "    exec_params: [\"pidfile=/[-_./A-Za-z0-9]+\"]\n"
    "    exec_stdin: false\n"
    "  - name: plain\n    workers: 1\n";

static int
submit_to(commis_client *cl, const char *pool, const char *handler,
    const void *data, size_t len, struct commis_result *r)
{
	struct commis_submit_opts	o = { .pool = pool };

	memset(r, 0, sizeof *r);
	return commis_submit_wait(cl, handler, data, len, &o, r);
}

/* gzip with a per-job level, and back through gunzip; sort. */
START_TEST(test_exec_programs)
{
	struct commis_result	 r, back;
	struct ctx		 c;
	char			 in[4096], text[3000];
	size_t			 i;
	int			 n;

	for (i = 0; i < sizeof text - 1; i++)
		text[i] = (char)('a' + i % 7);
	text[sizeof text - 1] = '\0';
	ctx_start(&c, exec_yaml);
	n = snprintf(in, sizeof in, "level=9\n%s", text);
	ck_assert_int_eq(submit_to(c.cl, "gz", "exec", in, (size_t)n, &r),
	    COMMIS_OK);
	ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "gzip: %s (%d)", r.cause, r.status);
	/* gzip's magic, and far smaller than a repetitive input. */
	ck_assert_uint_gt(r.output_len, 10);
	ck_assert_uint_lt(r.output_len, strlen(text) / 4);
	ck_assert(r.output[0] == 0x1f && r.output[1] == 0x8b);
	ck_assert_int_eq(submit_to(c.cl, "gunzip", "exec", r.output,
	    r.output_len, &back), COMMIS_OK);
	ck_assert_int_eq(back.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(back.output_len, strlen(text));
	ck_assert(memcmp(back.output, text, back.output_len) == 0);
	commis_result_free(&r);
	commis_result_free(&back);

	ck_assert_int_eq(submit_to(c.cl, "sort", "exec", "pear\napple\nfig\n",
	    15, &r), COMMIS_OK);
	ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "sort: %s", r.cause);
	ck_assert_uint_eq(r.output_len, 15);
	ck_assert(memcmp(r.output, "apple\nfig\npear\n", 15) == 0);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

/* Parameters are checked before anything runs; no shell sees them. */
START_TEST(test_exec_params)
{
	static const struct {
		const char	*in;
		const char	*cause;
	} bad[] = {
		{ "level=x\nabc", "does not match" },
		{ "level=9; rm -rf /\nabc", "does not match" },
		{ "depth=3\nabc", "not declared" },
		{ "abc", "must start with a line of parameters" },
		{ "level\nabc", "NAME=VALUE" },
	};
	struct commis_result	r;
	struct ctx		c;
	size_t			i;

	ctx_start(&c, exec_yaml);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_int_eq(submit_to(c.cl, "gz", "exec", bad[i].in,
		    strlen(bad[i].in), &r), COMMIS_OK);
		ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
		ck_assert_msg(strstr(r.cause, bad[i].cause) != NULL,
		    "%s: cause %s", bad[i].in, r.cause);
		commis_result_free(&r);
	}
	/* A pool without exec_argv has no exec handler. */
	ck_assert_int_eq(submit(c.cl, "exec", "x", "plain", &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_NO_HANDLER);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

/* A failing program: its exit status and stderr are the cause. */
START_TEST(test_exec_failure)
{
	struct commis_result	r;
	struct ctx		c;

	ctx_start(&c, exec_yaml);
	ck_assert_int_eq(submit_to(c.cl, "fail", "exec", "code=3\n", 7, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_ptr_nonnull(strstr(r.cause, "exit status 3"));
	ck_assert_ptr_nonnull(strstr(r.cause, "bad input"));
	commis_result_free(&r);
	ck_assert_int_eq(submit_to(c.cl, "fail", "exec", "code=0\n", 7, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	commis_result_free(&r);
	ctx_stop(&c);
}
END_TEST

/* 8 MiB through sha256sum as a segment: the same digest as sha256; and
 * through gzip and back, the result a segment too. */
START_TEST(test_exec_segment)
{
	struct commis_submit_opts	 o = { .pool = "sum" };
	struct commis_result		 r, ref;
	struct ctx			 c;
	size_t				 len = 8u << 20, i;
	uint8_t				*data = malloc(len), *in;

	ck_assert_ptr_nonnull(data);
	for (i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 131 + (i >> 12));
	ctx_start(&c, exec_yaml);
	ck_assert_int_eq(commis_submit_copy(c.cl, "exec", data, len, &o, &r),
	    COMMIS_OK);
	ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "%s", r.cause);
	ck_assert_int_eq(submit_to(c.cl, "sum", "sha256", data, 4096, &ref),
	    COMMIS_OK);
	commis_result_free(&ref);
	o.pool = NULL;
	ck_assert_int_eq(commis_submit_copy(c.cl, "sha256", data, len, &o,
	    &ref), COMMIS_OK);
	ck_assert_int_eq(ref.status, COMMIS_ST_SUCCEEDED);
	/* sha256sum prints "HEX  -". */
	ck_assert_uint_ge(r.output_len, 64);
	ck_assert_uint_ge(ref.output_len, 64);
	ck_assert(memcmp(r.output, ref.output, 64) == 0);
	commis_result_free(&r);
	commis_result_free(&ref);

	/* A large output comes back as a segment: 8 MiB gzipped, then
	 * unzipped by gunzip, whose stdout is far past segment_threshold. */
	o.pool = "gz";
	ck_assert_ptr_nonnull(in = malloc(len + 16));
	memcpy(in, "level=1\n", 8);
	memcpy(in + 8, data, len);
	ck_assert_int_eq(commis_submit_copy(c.cl, "exec", in, len + 8, &o,
	    &r), COMMIS_OK);
	ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "%s", r.cause);
	o.pool = "gunzip";
	ck_assert_int_eq(commis_submit_copy(c.cl, "exec", r.output,
	    r.output_len, &o, &ref), COMMIS_OK);
	ck_assert_msg(ref.status == COMMIS_ST_SUCCEEDED, "%s", ref.cause);
	ck_assert(ref.output_mapped);
	ck_assert_uint_eq(ref.output_len, len);
	ck_assert(memcmp(ref.output, data, len) == 0);
	commis_result_free(&r);
	commis_result_free(&ref);
	free(in);
	ctx_stop(&c);
	free(data);
}
END_TEST

/* The output as a NUL-terminated string (static buffer). */
static const char *
out(const struct commis_result *r)
{
	static char	buf[4096];
	size_t		n = r->output_len < sizeof buf - 1 ? r->output_len :
			    sizeof buf - 1;

	memcpy(buf, r->output, n);
	buf[n] = '\0';
	return buf;
}

struct pid_gone {
	pid_t	pid;
};

static int
pid_gone(void *arg)
{
	struct pid_gone	*g = arg;

	return kill(g->pid, 0) == -1 && errno == ESRCH;
}

/*
 * A program whose grandchild ignores SIGTERM and would outlive the job:
 * the job times out, its process group is killed, and the grandchild is
 * gone.
 */
START_TEST(test_exec_no_orphans)
{
	struct commis_submit_opts	 o = { .pool = "orphan",
					    .timeout_ms = 500 };
	struct commis_result		 r;
	struct pid_gone			 g;
	struct ctx			 c;
	char				 in[600], path[512];
	FILE				*f;
	long				 pid = 0;

	ctx_start(&c, exec_yaml);
	snprintf(path, sizeof path, "%s/grandchild.pid", c.d.dir);
	snprintf(in, sizeof in, "pidfile=%s\n", path);
	ck_assert_int_eq(commis_submit_wait(c.cl, "exec", in, strlen(in), &o,
	    &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_TIMEDOUT);
	commis_result_free(&r);
	ck_assert_ptr_nonnull(f = fopen(path, "r"));
	ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	ck_assert_int_gt(pid, 1);
	g.pid = (pid_t)pid;
	ck_assert_msg(test_poll(pid_gone, &g, 10000),
	    "grandchild %ld outlived its job", pid);
	ctx_stop(&c);
}
END_TEST

/* aggregate: plain numbers, CSV grouped with a header, errors. */
START_TEST(test_aggregate)
{
	static const char csv[] =
	    "aggregate: column=2 group=1 header percentiles=50,100\n"
	    "region,amount\neu,10\nus,5\neu,30\n\"us\",7\neu,20\n";
	struct commis_result	r;
	struct ctx		c;
	char			*big, *p;
	size_t			 i, n = 1000000;

	ctx_start(&c, "pools:\n  - name: p\n    workers: 1\n");
	ck_assert_int_eq(submit(c.cl, "aggregate", "3\n1\n2\n4\n\n", NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_str_eq(out(&r), "{\"count\":4,\"sum\":10,"
	    "\"mean\":2.5,\"min\":1,\"max\":4,\"p50\":2,\"p90\":4,"
	    "\"p99\":4}");
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "aggregate", csv, NULL, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_str_eq(out(&r), "{\"groups\":{"
	    "\"eu\":{\"count\":3,\"sum\":60,\"mean\":20,\"min\":10,\"max\":30,"
	    "\"p50\":20,\"p100\":30},"
	    "\"us\":{\"count\":2,\"sum\":12,\"mean\":6,\"min\":5,\"max\":7,"
	    "\"p50\":5,\"p100\":7}}}");
	commis_result_free(&r);
	ck_assert_int_eq(submit(c.cl, "aggregate", "1\n2\nthree\n", NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_FAILED);
	ck_assert_ptr_nonnull(strstr(r.cause, "line 3"));
	commis_result_free(&r);

	/* A million lines, as a segment: 1..1000000. */
	ck_assert_ptr_nonnull(big = malloc(n * 8 + 1));
	for (p = big, i = 1; i <= n; i++)
		p += sprintf(p, "%zu\n", i);
	ck_assert_int_eq(commis_submit_copy(c.cl, "aggregate", big,
	    (size_t)(p - big), NULL, &r), COMMIS_OK);
	ck_assert_msg(r.status == COMMIS_ST_SUCCEEDED, "%s", r.cause);
	ck_assert_ptr_nonnull(strstr(out(&r), "\"count\":1000000,"
	    "\"sum\":500000500000,\"mean\":500000.5,\"min\":1,"
	    "\"max\":1000000,\"p50\":500000,\"p90\":900000,\"p99\":990000"));
	commis_result_free(&r);
	free(big);
	ctx_stop(&c);
}
END_TEST

Suite *
exec_suite(void)
{
	Suite	*s = suite_create("exec");
	TCase	*tc = tcase_create("programs");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_exec_programs);
	tcase_add_test(tc, test_exec_params);
	tcase_add_test(tc, test_exec_failure);
	tcase_add_test(tc, test_exec_segment);
	tcase_add_test(tc, test_exec_no_orphans);
	tcase_add_test(tc, test_aggregate);
	suite_add_tcase(s, tc);
	return s;
}

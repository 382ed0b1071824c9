/*
 * Bulk data as segments against a real commisd: inputs and results as
 * sealed memfds, in-place jobs, the limits, and fd lifetime: after
 * thousands of segment jobs with crashes, cancels and a vanished client
 * mixed in, commisd and every worker hold as many fds as at the start.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seg.h"
#include "testlib.h"

static int
fd_count(long pid)
{
	char		 path[64];
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%ld/fd", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* A sealed input segment holding data. */
static int
make_seg(const void *data, size_t len)
{
	void	*map;
	int	 fd;

	fd = seg_create("test", len, &map);
	ck_assert_int_ge(fd, 0);
	if (len > 0) {
		memcpy(map, data, len);
		seg_unmap(map, len);
	}
	ck_assert_int_eq(seg_seal(fd, SEG_INPUT), 0);
	return fd;
}

START_TEST(test_segment_jobs)
{
	static const char	 abc_sha[] = "ba7816bf8f01cfea414140de5dae2223"
				    "b00361a396177a9cb410ff61f20015ad";
	struct commis_result	 r;
	struct stat		 a, b;
	struct ctx		 c;
	char			*big;
	int			 fd;

	ctx_start(&c, "segment_threshold: 1K\n" POOL_YAML(""));
	/* sha256 of a segment. */
	fd = make_seg("abc", 3);
	ck_assert_int_eq(commis_submit_fd(c.cl, "sha256", fd, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.output_len, 64);
	ck_assert_mem_eq(r.output, abc_sha, 64);
	ck_assert_int_eq(r.output_fd, -1);	/* small: inline */
	commis_result_free(&r);
	/* echo of a segment: the result is the same segment, no copy. */
	ck_assert_int_eq(commis_submit_fd(c.cl, "echo", fd, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_int_ge(r.output_fd, 0);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(fstat(r.output_fd, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_mem_eq(r.output, "abc", 3);
	commis_result_free(&r);
	close(fd);
	/* A large inline result comes back as a segment. */
	big = malloc(8192);
	memset(big, 'q', 8192);
	ck_assert_int_eq(commis_submit_wait(c.cl, "echo", big, 8192, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_int_ge(r.output_fd, 0);
	ck_assert_uint_eq(r.output_len, 8192);
	ck_assert_mem_eq(r.output, big, 8192);
	commis_result_free(&r);
	/* submit_copy: a fresh segment of a buffer. */
	ck_assert_int_eq(commis_submit_copy(c.cl, "sha256", "abc", 3, NULL,
	    &r), COMMIS_OK);
	ck_assert_mem_eq(r.output, abc_sha, 64);
	commis_result_free(&r);
	free(big);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_inplace)
{
	struct commis_result	 r;
	struct commis_seg	*seg;
	commis_segpool		*pool;
	struct ctx		 c;
	size_t			 i;
	int			 fd;

	ctx_start(&c, POOL_YAML(""));
	pool = commis_segpool_new(1 << 20);
	ck_assert_ptr_nonnull(pool);
	seg = commis_seg_get(pool, 4096);
	ck_assert_ptr_nonnull(seg);
	for (i = 0; i < seg->size; i++)
		seg->data[i] = (uint8_t)i;
	ck_assert_int_eq(commis_submit_inplace(c.cl, "xor", seg, NULL, &r),
	    COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
	ck_assert_uint_eq(r.output_len, 0);
	commis_result_free(&r);
	for (i = 0; i < seg->size; i++)
		ck_assert_uint_eq(seg->data[i], (uint8_t)(i ^ 0x5a));
	/* A handler that does not work in place is refused. */
	ck_assert_int_eq(commis_submit_inplace(c.cl, "sha256", seg, NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_UNSUPPORTED);
	commis_result_free(&r);
	commis_seg_put(pool, seg);
	commis_segpool_free(pool);
	/* An unsealed fd is refused with the missing seals named. */
	fd = memfd_create("raw", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ck_assert_int_eq(ftruncate(fd, 16), 0);
	ck_assert_int_eq(commis_submit_fd(c.cl, "echo", fd, NULL, &r),
	    COMMIS_OK);	/* the library seals it first */
	commis_result_free(&r);
	close(fd);
	ctx_stop(&c);
}
END_TEST

START_TEST(test_segment_limits)
{
	struct commis_result	 r;
	struct ctx		 c;
	char			*buf;
	int			 fd;

	ctx_start(&c, "max_segment: 64K\nmax_conn_segments: 1\n"
	    "shutdown_timeout_ms: 100\n" POOL_YAML(""));
	buf = calloc(1, 128 * 1024);
	fd = make_seg(buf, 128 * 1024);
	ck_assert_int_eq(commis_submit_fd(c.cl, "echo", fd, NULL, &r),
	    COMMIS_ERR_REJECTED);
	ck_assert_int_eq(r.error, COMMIS_E_SEGMENT);
	ck_assert_msg(strstr(r.cause, "above the limit") != NULL, "%s",
	    r.cause);
	commis_result_free(&r);
	close(fd);
	/* One segment in flight per connection: the second is refused. */
	fd = make_seg("60000", 5);
	{
		uint64_t	id1, id2;
		int		fd2 = make_seg("x", 1);

		ck_assert_int_eq(commis_submit_fd_async(c.cl, "sleep", fd, NULL,
		    &id1), COMMIS_OK);
		ck_assert_int_eq(commis_submit_fd_async(c.cl, "echo", fd2, NULL,
		    &id2), COMMIS_OK);
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
		ck_assert_uint_eq(r.request_id, id2);
		ck_assert_int_eq(r.error, COMMIS_E_SEGMENT);
		ck_assert_ptr_nonnull(strstr(r.cause, "max_conn_segments"));
		commis_result_free(&r);
		close(fd2);
	}
	close(fd);
	free(buf);
	ctx_stop(&c);	/* the sleep ends at shutdown_timeout_ms */
}
END_TEST

struct eq_arg {
	commis_client	*cl;
	const char	*key;
	long long	 v;
};

static int
stat_eq(void *arg)
{
	struct eq_arg	*a = arg;

	return test_stat(a->cl, a->key) == a->v;
}

static void
wait_stat_eq(commis_client *cl, const char *key, long long v)
{
	struct eq_arg	a = { cl, key, v };

	ck_assert_msg(test_poll(stat_eq, &a, 20000), "%s never %lld", key, v);
}

/* Cancels every job running on a worker, by the ids stats show. */
static void
cancel_all_running(commis_client *cl)
{
	char		*json, *p;
	uint64_t	 id;

	ck_assert_int_eq(commis_stats(cl, COMMIS_STATS_JSON, &json), COMMIS_OK);
	for (p = json; (p = strstr(p, "\"job\":")) != NULL; p++) {
		if (p[6] < '0' || p[6] > '9')
			continue;
		id = strtoull(p + 6, NULL, 10);
		ck_assert_int_eq(commis_cancel(cl, id), COMMIS_OK);
	}
	free(json);
}

struct fd_arg {
	commis_client	*cl;
	long		 pid;
	int		 base;
};

static int
sup_fds_back(void *arg)
{
	struct fd_arg	*a = arg;

	return test_stat(a->cl, "segments") == 0 &&
	    test_stat(a->cl, "jobs") == 0 && fd_count(a->pid) == a->base;
}

/* Thousands of segment jobs with crashes and cancels mixed in, and a
 * client that vanishes with segments in flight: no fd is leaked. */
START_TEST(test_segment_fd_lifetime)
{
	enum { N = 10000 };
	struct commis_result	 r;
	struct fd_arg		 fa;
	struct wstat		 ws;
	struct ctx		 c;
	commis_client		*gone;
	uint64_t		 id;
	int			 echo_fd, segv_fd, sleep_fd, base_w, i, got = 0;
	int			 crashed = 0, inflight = 0;

	ctx_start(&c, "result_ttl_ms: 0\nmax_conn_segments: 4096\n"
	    "pools:\n  - name: p\n    workers: 2\n    max_attempts: 1\n");
	wait_ready(c.cl, 2);
	wstats(c.cl, &ws);
	base_w = fd_count(ws.pid[0]);
	fa.cl = c.cl;
	fa.pid = c.d.pid;
	fa.base = fd_count(c.d.pid);
	echo_fd = make_seg("payload", 7);
	segv_fd = make_seg("segv", 4);
	sleep_fd = make_seg("60000", 5);
	for (i = 0; i < N || inflight > 0; ) {
		while (i < N && inflight < 256) {
			ck_assert_int_eq(commis_submit_fd_async(c.cl,
			    i % 500 == 499 ? "fault" : (i % 2 ? "sha256" :
			    "echo"), i % 500 == 499 ? segv_fd : echo_fd, NULL,
			    &id), COMMIS_OK);
			i++;
			inflight++;
		}
		ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
		inflight--;
		got++;
		if (r.status == COMMIS_ST_CRASHED)
			crashed++;
		else
			ck_assert_int_eq(r.status, COMMIS_ST_SUCCEEDED);
		commis_result_free(&r);
	}
	ck_assert_int_eq(got, N);
	ck_assert_int_eq(crashed, N / 500);
	/* A cancelled segment job, and a client that vanishes with one
	 * running and several queued. */
	ck_assert_int_eq(commis_submit_fd_async(c.cl, "sleep", sleep_fd, NULL,
	    &id), COMMIS_OK);
	ck_assert_int_eq(commis_connect(c.d.sock, &gone), COMMIS_OK);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(commis_submit_fd_async(gone, "sleep", sleep_fd,
		    NULL, &id), COMMIS_OK);
	wait_stat_eq(c.cl, "active", 2);
	commis_close(gone);
	close(echo_fd);
	close(segv_fd);
	close(sleep_fd);
	/* Cancel what still runs, through the status of the jobs. */
	cancel_all_running(c.cl);
	ck_assert_int_eq(commis_wait_result(c.cl, 30000, &r), COMMIS_OK);
	ck_assert_int_eq(r.status, COMMIS_ST_CANCELLED);
	commis_result_free(&r);
	ck_assert_msg(test_poll(sup_fds_back, &fa, 20000), "commisd holds %d "
	    "fds, %d at the start", fd_count(c.d.pid), fa.base);
	wstats(c.cl, &ws);
	for (i = 0; i < ws.n; i++)
		ck_assert_int_eq(fd_count(ws.pid[i]), base_w);
	ctx_stop(&c);
}
END_TEST

Suite *
bulk_suite(void)
{
	Suite	*s = suite_create("bulk");
	TCase	*tc = tcase_create("bulk");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_segment_jobs);
	tcase_add_test(tc, test_inplace);
	tcase_add_test(tc, test_segment_limits);
	tcase_add_test(tc, test_segment_fd_lifetime);
	suite_add_tcase(s, tc);
	return s;
}

/*
 * Latency figures, one request at a time, and their floors: a socketpair
 * ping-pong and memcpy bandwidth without commisd; through commisd, echo
 * round trips (1 byte and large inline payloads), what latency statistics
 * cost the hot path, the efficiency of short spin jobs, and ping latency
 * while every worker is busy and a deep queue waits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "hist.h"

#define BENCH_FLOOR_TRIPS	20000u
#define BENCH_LARGE_RUNS	50u
#define BENCH_MEMCPY_RUNS	200u
#define BENCH_SPIN_MS		10u
#define BENCH_SPIN_PER_WORKER	40u	/* 2 x 20 jobs per worker */
#define BENCH_CTL_SPIN		"1000"	/* ms: longer than the pings take */
#define BENCH_CTL_QUEUED	100000u
#define BENCH_CTL_PINGS		1000u

/* The ping-pong partner: answers every 8 bytes until EOF. */
static void
bench_floor_child(int fd)
{
	uint64_t	m;

	while (bench_io(fd, &m, sizeof m, 0) == 0) {
		if (bench_io(fd, &m, sizeof m, 1) == -1)
			_exit(1);
	}
	_exit(0);
}

/*
 * Floor 1: a round trip of 8 bytes over a socketpair between two
 * processes, the least any request through commisd can cost.
 */
int
bench_floor(struct bench *b)
{
	unsigned	 n = bench_count(b, BENCH_FLOOR_TRIPS);
	unsigned	 warm = bench_count(b, BENCH_WARMUP), i;
	uint64_t	*v, m = 0, t0;
	int		 sv[2], st, rc = 0;
	pid_t		 pid;

	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		free(v);
		return bench_err(b, "socketpair: %s", strerror(errno));
	}
	if ((pid = fork()) == -1) {
		free(v);
		close(sv[0]);
		close(sv[1]);
		return bench_err(b, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		close(sv[0]);
		bench_floor_child(sv[1]);
	}
	close(sv[1]);
	for (i = 0; i < warm + n && rc == 0; i++) {
		t0 = bench_now_ns();
		if (bench_io(sv[0], &m, sizeof m, 1) == -1 ||
		    bench_io(sv[0], &m, sizeof m, 0) == -1)
			rc = bench_err(b, "ping-pong: %s", strerror(errno));
		else if (i >= warm)
			v[i - warm] = bench_now_ns() - t0;
		m++;
	}
	close(sv[0]);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		rc = bench_err(b, "ping-pong child failed");
	if (rc == 0) {
		qsort(v, n, sizeof *v, bench_cmp_u64);
		bench_row(b, "socketpair round trip, 8 B", "p50",
		    "floor_rtt_p50_us", bench_pct_us(v, n, 0.50), "us");
		bench_row(b, "socketpair round trip, 8 B", "p99",
		    "floor_rtt_p99_us", bench_pct_us(v, n, 0.99), "us");
	}
	free(v);
	return rc;
}

/* Floor 4: memcpy bandwidth at one size, the median copy in GB/s. */
int
bench_memcpy(struct bench *b, size_t size, const char *section,
    const char *key)
{
	unsigned	 n = bench_count(b, BENCH_MEMCPY_RUNS), i;
	uint8_t		*src, *dst;
	uint64_t	*v, t0;

	src = malloc(size);
	dst = malloc(size);
	v = calloc(n, sizeof *v);
	if (src == NULL || dst == NULL || v == NULL) {
		free(src);
		free(dst);
		free(v);
		return bench_err(b, "out of memory");
	}
	memset(src, 0xa5, size);
	memset(dst, 0x5a, size);
	for (i = 0; i < n; i++) {
		src[i % size] = (uint8_t)i;
		t0 = bench_now_ns();
		memcpy(dst, src, size);
		/* The copy must happen, and before the clock is read. */
		__asm__ __volatile__("" : : "r"(dst) : "memory");
		v[i] = bench_now_ns() - t0;
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, section, "p50", key,
	    (double)size / (double)bench_pct(v, n, 0.50), "GB/s");
	free(src);
	free(dst);
	free(v);
	return 0;
}

/* Echo of 1 byte, one job at a time, timed per job. */
int
bench_echo(struct bench *b)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	struct commis_result		 r;
	const char			*sec = "echo round trip, 1 B";
	unsigned			 n = bench_count(b, b->samples);
	unsigned			 warm = bench_count(b, BENCH_WARMUP), i;
	uint64_t			*v, t0, t1;
	int				 rc;

	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	for (i = 0; i < warm + n; i++) {
		t0 = bench_now_ns();
		rc = commis_submit_wait(b->cl, "echo", "x", 1, &o, &r);
		t1 = bench_now_ns();
		if (bench_job_ok(b, b->cl, "echo", rc, &r, 1) == -1) {
			commis_result_free(&r);
			free(v);
			return -1;
		}
		commis_result_free(&r);
		if (i >= warm)
			v[i - warm] = t1 - t0;
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, sec, "p50", "echo_p50_us", bench_pct_us(v, n, 0.50), "us");
	bench_row(b, sec, "p99", "echo_p99_us", bench_pct_us(v, n, 0.99), "us");
	bench_row(b, sec, "p99.9", "echo_p999_us", bench_pct_us(v, n, 0.999),
	    "us");
	free(v);
	return 0;
}

/*
 * Submits total jobs of handler/data with at most depth outstanding,
 * collecting each result; *ns gets the wall time of the whole batch.
 */
int
bench_batch(struct bench *b, const char *handler, const char *data,
    unsigned total, unsigned depth, size_t outlen, uint64_t *ns)
{
	struct commis_submit_opts	o = { .pool = b->pool ? b->pool :
					    BENCH_POOL };
	unsigned			sent = 0, done = 0;
	uint64_t			t0 = bench_now_ns();
	size_t				len = strlen(data);

	while (done < total) {
		while (sent < total && sent - done < depth) {
			if (commis_submit_async(b->cl, handler, data, len, &o,
			    NULL) != COMMIS_OK)
				return bench_err(b, "submit %s: %s", handler,
				    commis_client_error(b->cl));
			sent++;
		}
		if (bench_collect(b, b->cl, handler, outlen) == -1)
			return -1;
		done++;
	}
	*ns = bench_now_ns() - t0;
	return 0;
}

/*
 * What the supervisor does per job for latency statistics (three
 * histogram updates), timed in this process: ns per job, and as a share
 * of one job's time at the given throughput. Unlike the A/B throughput
 * figure, this one does not drown in scheduling noise.
 */
static void
bench_hist_cost(struct bench *b, double jobs_s)
{
	enum { N = 2000000 };
	struct histw	*h[3] = { histw_new(), histw_new(), histw_new() };
	uint64_t	 t0, ns, now = bench_now_ns();
	unsigned	 i;

	if (h[0] == NULL || h[1] == NULL || h[2] == NULL)
		goto out;
	t0 = bench_now_ns();
	for (i = 0; i < N; i++) {
		histw_add(h[0], (i * 7919u) % 5000u, now + i * 500u);
		histw_add(h[1], (i * 104729u) % 90000u, now + i * 500u);
		histw_add(h[2], (i * 1299709u) % 95000u, now + i * 500u);
	}
	ns = bench_now_ns() - t0;
	bench_row(b, "", "histograms", "stats_ns_per_job", (double)ns / N,
	    "ns/job");
	bench_row(b, "", "of a job", "stats_share_pct",
	    100.0 * ((double)ns / N) / (1e9 / jobs_s), "%");
out:
	for (i = 0; i < 3; i++)
		histw_free(h[i]);
}

/*
 * The cost of latency statistics on the hot path: no-op throughput (64
 * in flight) on a pool with them and one without, alternating, the
 * median of five rounds each.
 */
int
bench_stats_cost(struct bench *b)
{
	enum { ROUNDS = 5 };
	unsigned	n = bench_count(b, BENCH_TPUT_JOBS), i;
	uint64_t	on[ROUNDS], off[ROUNDS], ns;
	double		t_on, t_off;

	for (i = 0; i < 2 * ROUNDS + 2; i++) {
		b->pool = i % 2 ? BENCH_NOSTATS : BENCH_POOL;
		if (bench_batch(b, "echo", "x", n, 64, 1, &ns) == -1) {
			b->pool = NULL;
			return -1;
		}
		if (i >= 2)		/* the first of each: warm-up */
			(i % 2 ? off : on)[(i - 2) / 2] = ns;
	}
	b->pool = NULL;
	qsort(on, ROUNDS, sizeof on[0], bench_cmp_u64);
	qsort(off, ROUNDS, sizeof off[0], bench_cmp_u64);
	t_on = (double)n * 1e9 / (double)on[ROUNDS / 2];
	t_off = (double)n * 1e9 / (double)off[ROUNDS / 2];
	bench_row(b, "stats cost, 64 in flight", "with stats",
	    "stats_on_jobs_s", t_on, "jobs/s");
	bench_row(b, "", "without", "stats_off_jobs_s", t_off, "jobs/s");
	bench_row(b, "", "cost", "stats_cost_pct",
	    100.0 * (t_off - t_on) / t_off, "%");
	bench_hist_cost(b, t_on);
	return 0;
}

/* Echo of a large inline payload: p50 of the round trip in ms. */
int
bench_large(struct bench *b, size_t size, const char *section,
    const char *key)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	struct commis_result		 r;
	unsigned			 n = bench_count(b, BENCH_LARGE_RUNS);
	unsigned			 i;
	uint8_t				*p;
	uint64_t			*v, t0, t1;
	int				 rc = 0;

	p = malloc(size);
	v = calloc(n, sizeof *v);
	if (p == NULL || v == NULL) {
		free(p);
		free(v);
		return bench_err(b, "out of memory");
	}
	for (i = 0; i < size; i++)
		p[i] = (uint8_t)(i * 31 + 7);
	/* One untimed run first, as for the other figures. */
	for (i = 0; i < n + 1 && rc == 0; i++) {
		t0 = bench_now_ns();
		rc = commis_submit_wait(b->cl, "echo", p, size, &o, &r);
		t1 = bench_now_ns();
		if ((rc = bench_job_ok(b, b->cl, section, rc, &r, size)) == 0 &&
		    memcmp(r.output, p, size) != 0)
			rc = bench_err(b, "%s: output differs from input",
			    section);
		commis_result_free(&r);
		if (i > 0)
			v[i - 1] = t1 - t0;
	}
	if (rc == 0) {
		qsort(v, n, sizeof *v, bench_cmp_u64);
		bench_row(b, section, "p50", key,
		    (double)bench_pct(v, n, 0.50) / 1e6, "ms");
	}
	free(p);
	free(v);
	return rc;
}

/*
 * 2 x workers x 20 spin jobs of 10 ms submitted at once: the ideal wall
 * time is jobs x 10 ms / workers; efficiency is ideal / measured.
 */
int
bench_efficiency(struct bench *b)
{
	unsigned	jobs = BENCH_SPIN_PER_WORKER * b->workers;
	char		arg[16];
	uint64_t	ns;
	double		ideal;

	snprintf(arg, sizeof arg, "%u", BENCH_SPIN_MS);
	if (bench_batch(b, "spin", arg, jobs, jobs, 0, &ns) == -1)
		return -1;
	ideal = (double)jobs * BENCH_SPIN_MS * 1e6 / b->workers;
	bench_row(b, "spin 10 ms x 40 per worker", "wall", "spin_wall_ms",
	    (double)ns / 1e6, "ms");
	bench_row(b, "spin 10 ms x 40 per worker", "ideal", "spin_ideal_ms",
	    ideal / 1e6, "ms");
	bench_row(b, "spin 10 ms x 40 per worker", "efficiency",
	    "spin_efficiency_pct", 100.0 * ideal / (double)ns, "%");
	return 0;
}

/* Until every worker runs one of the control test's jobs. */
static int
bench_wait_saturated(struct bench *b, commis_client *cl, long long want)
{
	const char	*keys[] = { "active", "submitted", "queued" };
	struct timespec	 ts = { 0, 1000000 };
	uint64_t	 deadline = bench_now_ns() + BENCH_START_MS * 1000000ull;
	long long	 v[3];

	for (;;) {
		if (benchd_stats(b, cl, BENCH_POOL, keys, v, 3) == -1)
			return -1;
		if (v[0] == (long long)b->workers && v[1] >= want)
			return 0;
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pool not saturated after %d ms: "
			    "%lld active, %lld submitted, %lld queued",
			    BENCH_START_MS, v[0], v[1], v[2]);
		nanosleep(&ts, NULL);
	}
}

/*
 * Ping latency on a second connection while every worker spins for a
 * second with its prefetch full and 100000 more jobs are queued: the
 * control path must not wait behind the queue. Only the first job of
 * each worker spins; the rest are echo jobs, so that the ones sent ahead
 * (which closing the connection does not cancel) end at once after it.
 * The jobs go out corked (one write per 64 KiB). Closing the first
 * connection at the end of the run cancels the queued ones.
 */
int
bench_control(struct bench *b)
{
	struct commis_submit_opts	 o = { .pool = BENCH_POOL };
	const char			*keys[] = { "submitted" };
	const char			*sec = "ping under load";
	commis_client			*pc = NULL;
	unsigned			 n = bench_count(b, BENCH_CTL_PINGS);
	unsigned			 total, i;
	uint64_t			*v;
	long long			 before;
	int				 rc = -1;

	total = b->workers * (1 + BENCH_PREFETCH) + BENCH_CTL_QUEUED;
	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	if (commis_connect(b->sock, &pc) != COMMIS_OK) {
		bench_err(b, "connect %s: %s", b->sock, strerror(errno));
		goto out;
	}
	if (benchd_stats(b, pc, BENCH_POOL, keys, &before, 1) == -1)
		goto out;
	if (commis_cork(b->cl) != COMMIS_OK) {
		bench_err(b, "cork: %s", commis_client_error(b->cl));
		goto out;
	}
	for (i = 0; i < total; i++) {
		if ((i < b->workers ? commis_submit_async(b->cl, "spin",
		    BENCH_CTL_SPIN, strlen(BENCH_CTL_SPIN), &o, NULL) :
		    commis_submit_async(b->cl, "echo", "x", 1, &o, NULL)) !=
		    COMMIS_OK) {
			bench_err(b, "submit: %s", commis_client_error(b->cl));
			goto out;
		}
	}
	if (commis_uncork(b->cl) != COMMIS_OK) {
		bench_err(b, "submit spin: %s", commis_client_error(b->cl));
		goto out;
	}
	if (bench_wait_saturated(b, pc, before + total) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (commis_ping(pc, &v[i]) != COMMIS_OK) {
			bench_err(b, "ping: %s", commis_client_error(pc));
			goto out;
		}
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, sec, "p50", "ping_loaded_p50_us", bench_pct_us(v, n, 0.50),
	    "us");
	bench_row(b, sec, "p99", "ping_loaded_p99_us", bench_pct_us(v, n, 0.99),
	    "us");
	bench_row(b, sec, "p99.9", "ping_loaded_p999_us",
	    bench_pct_us(v, n, 0.999), "us");
	rc = 0;
out:
	commis_close(pc);
	free(v);
	return rc;
}

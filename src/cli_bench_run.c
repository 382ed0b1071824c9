/*
 * commis bench: the workloads. Each runs on both pools, the pools taking
 * turns sample by sample (or batch by batch), so that a machine that gets
 * faster or slower during the run (CPU idle states, other load) weighs on
 * both columns alike. Jobs go through the public client API only; what
 * happened to the workers (pids, free slots, requeued jobs) is read from
 * the JSON stats. A job that does not end as expected fails the run with
 * its cause.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli_bench.h"

#define BENCH_RESULT_MS		30000	/* wait for a result */
#define BENCH_DEPTH		256	/* jobs in flight, throughput */
#define BENCH_SLEEP		"500"	/* beside a fault */
#define BENCH_HANG_TIMEOUT_MS	100	/* then kill_grace_ms 100 */
#define BENCH_ANY_LEN		((size_t)-1)

/* One timed sample of a workload on one pool. */
typedef int	(*bench_one_fn)(struct bench *, enum bench_pool, void *,
		    uint64_t *);

/* The samples of a series: warm untimed, then n timed per pool. */
struct bench_series {
	unsigned	 warm;
	unsigned	 n;
	uint64_t	*v[BENCH_NPOOLS];
};

/* A batch of jobs submitted with at most depth in flight. */
struct bench_batchdef {
	const char	*handler;
	const char	*data;
	unsigned	 jobs;
	unsigned	 depth;
	size_t		 outlen;
};

static int
bench_cmp_u64(const void *a, const void *b)
{
	uint64_t	x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of n values, which it sorts. */
static double
bench_pct(uint64_t *v, size_t n, double q)
{
	size_t	rank = (size_t)(q * (double)n + 0.999999);

	qsort(v, n, sizeof *v, bench_cmp_u64);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1];
}

static uint64_t *
bench_samples(struct bench *b, size_t n)
{
	uint64_t	*v;

	if ((v = calloc(n > 0 ? n : 1, sizeof *v)) == NULL)
		bench_err(b, "out of memory");
	return v;
}

/* A job must have ended in status with len bytes (BENCH_ANY_LEN: any). */
static int
bench_job_ok(struct bench *b, commis_client *cl, const char *what, int rc,
    const struct commis_result *r, int status, size_t len)
{
	if (rc != COMMIS_OK && rc != COMMIS_ERR_REJECTED)
		return bench_err(b, "%s: %s", what, commis_client_error(cl));
	if (r->error != 0)
		return bench_err(b, "%s: rejected: %s: %s", what,
		    commis_err_name(r->error), r->cause);
	if (r->status != status)
		return bench_err(b, "%s: job %s%s%s, expected %s", what,
		    commis_status_name(r->status), r->cause[0] ? ": " : "",
		    r->cause, commis_status_name(status));
	if (len != BENCH_ANY_LEN && r->output_len != len)
		return bench_err(b, "%s: %zu bytes of output, expected %zu",
		    what, r->output_len, len);
	return 0;
}

/* One job on b->cl, waited for. */
static int
bench_job(struct bench *b, enum bench_pool pool, const char *handler,
    const char *data, uint32_t timeout_ms, int status, size_t len)
{
	struct commis_submit_opts	o = { .pool = bench_pool_name(pool),
					      .timeout_ms = timeout_ms };
	struct commis_result		r;
	int				rc;

	rc = commis_submit_wait(b->cl, handler, data, strlen(data), &o, &r);
	rc = bench_job_ok(b, b->cl, handler, rc, &r, status, len);
	commis_result_free(&r);
	return rc;
}

/* Collects one result on cl; *ok: whether it succeeded. */
static int
bench_collect(struct bench *b, commis_client *cl, const char *what,
    size_t len, int *ok)
{
	struct commis_result	r;
	int			rc;

	if ((rc = commis_wait_result(cl, BENCH_RESULT_MS, &r)) != COMMIS_OK) {
		commis_result_free(&r);
		return bench_err(b, "%s: %s", what, commis_client_error(cl));
	}
	if (ok != NULL) {
		*ok = r.error == 0 && r.status == COMMIS_ST_SUCCEEDED;
		commis_result_free(&r);
		return 0;
	}
	rc = bench_job_ok(b, cl, what, rc, &r, COMMIS_ST_SUCCEEDED, len);
	commis_result_free(&r);
	return rc;
}

/*
 * Submits total jobs on b->cl with at most depth in flight, collecting
 * every result; *ns: the wall time of the whole batch.
 */
static int
bench_batch(struct bench *b, enum bench_pool pool, const char *handler,
    const char *data, unsigned total, unsigned depth, size_t outlen,
    uint64_t *ns)
{
	struct commis_submit_opts	o = { .pool = bench_pool_name(pool) };
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
		if (bench_collect(b, b->cl, handler, outlen, NULL) == -1)
			return -1;
		done++;
	}
	*ns = bench_now_ns() - t0;
	return 0;
}

static int
bench_npools(const struct bench *b)
{
	return b->no_thread ? 1 : BENCH_NPOOLS;
}

static void
bench_series_free(struct bench_series *s)
{
	int	p;

	for (p = 0; p < BENCH_NPOOLS; p++) {
		free(s->v[p]);
		s->v[p] = NULL;
	}
}

/* Runs the series, the pools taking turns; free it with the above. */
static int
bench_series(struct bench *b, struct bench_series *s, bench_one_fn one,
    void *arg)
{
	unsigned	i;
	uint64_t	ns;
	int		p;

	for (p = 0; p < bench_npools(b); p++) {
		if ((s->v[p] = bench_samples(b, s->n)) == NULL)
			return -1;
	}
	for (i = 0; i < s->warm + s->n; i++) {
		for (p = 0; p < bench_npools(b); p++) {
			if (bench_interrupted(b) ||
			    one(b, (enum bench_pool)p, arg, &ns) == -1)
				return -1;
			if (i >= s->warm)
				s->v[p][i - s->warm] = ns;
		}
	}
	return 0;
}

static int
bench_batch_one(struct bench *b, enum bench_pool pool, void *arg,
    uint64_t *ns)
{
	const struct bench_batchdef	*d = arg;

	return bench_batch(b, pool, d->handler, d->data, d->jobs, d->depth,
	    d->outlen, ns);
}

static int
bench_echo_one(struct bench *b, enum bench_pool pool, void *arg,
    uint64_t *ns)
{
	uint64_t	t0 = bench_now_ns();

	if (bench_job(b, pool, "echo", "x", 0, COMMIS_ST_SUCCEEDED, 1) == -1)
		return -1;
	*ns = bench_now_ns() - t0;
	return 0;
}

/* 1. Dispatch latency of a no-op job: echo of 1 byte, one at a time. */
static int
bench_latency(struct bench *b)
{
	struct bench_series	s = { bench_count(b, 500, 50),
				    bench_count(b, 5000, 500), { NULL } };
	int			p, rc;

	if ((rc = bench_series(b, &s, bench_echo_one, NULL)) == 0) {
		for (p = 0; p < bench_npools(b); p++) {
			b->fig[p][BF_LAT_P50] = bench_pct(s.v[p], s.n,
			    0.50) / 1e3;
			b->fig[p][BF_LAT_P99] = bench_pct(s.v[p], s.n,
			    0.99) / 1e3;
		}
	}
	bench_series_free(&s);
	return rc;
}

/*
 * 2. Throughput of no-op jobs with 256 in flight: batches of echo jobs,
 * the median batch's rate.
 */
static int
bench_tput(struct bench *b)
{
	struct bench_batchdef	d = { "echo", "x", b->quick ? 1000 : 2000,
				    BENCH_DEPTH, 1 };
	struct bench_series	s = { b->quick ? 0 : 1,
				    bench_count(b, 10, 3), { NULL } };
	int			p, rc;

	if ((rc = bench_series(b, &s, bench_batch_one, &d)) == 0) {
		for (p = 0; p < bench_npools(b); p++)
			b->fig[p][BF_TPUT] = (double)d.jobs * 1e9 /
			    bench_pct(s.v[p], s.n, 0.50);
	}
	bench_series_free(&s);
	return rc;
}

/*
 * The duration of one CPU job, for the ideal throughput: spin's argument
 * when the job is `spin MS`, else the median of jobs run one at a time on
 * the process pool (which then includes one dispatch), used for both.
 */
static int
bench_cpu_ms(struct bench *b)
{
	unsigned	 n = bench_count(b, 20, 5), i;
	uint64_t	*v, t0;
	const char	*d = b->cpu_data;

	if (strcmp(b->cpu_handler, "spin") == 0 && d[0] != '\0' &&
	    strspn(d, "0123456789") == strlen(d) && atof(d) > 0) {
		b->cpu_ms = atof(d);
		return 0;
	}
	if ((v = bench_samples(b, n)) == NULL)
		return -1;
	for (i = 0; i < n + 1; i++) {
		t0 = bench_now_ns();
		if (bench_job(b, BENCH_PROC, b->cpu_handler, d, 0,
		    COMMIS_ST_SUCCEEDED, BENCH_ANY_LEN) == -1) {
			free(v);
			return -1;
		}
		if (i > 0)
			v[i - 1] = bench_now_ns() - t0;
	}
	b->cpu_ms = bench_pct(v, n, 0.50) / 1e6;
	b->cpu_ms_measured = 1;
	free(v);
	return 0;
}

/*
 * 3. CPU jobs: batches of 50 per slot (10 with --quick) submitted at
 * once; the median batch's rate against the ideal of every slot busy.
 */
static int
bench_cpu(struct bench *b)
{
	struct bench_batchdef	d = { b->cpu_handler, b->cpu_data,
				    (b->quick ? 10 : 50) * b->workers, 0,
				    BENCH_ANY_LEN };
	struct bench_series	s = { 0, bench_count(b, 5, 2), { NULL } };
	double			tput;
	int			p, rc;

	if (b->cpu_ms <= 0 && bench_cpu_ms(b) == -1)
		return -1;
	d.depth = d.jobs;
	if ((rc = bench_series(b, &s, bench_batch_one, &d)) == 0) {
		for (p = 0; p < bench_npools(b); p++) {
			tput = (double)d.jobs * 1e9 / bench_pct(s.v[p], s.n,
			    0.50);
			b->fig[p][BF_CPU_TPUT] = tput;
			b->fig[p][BF_CPU_EFF] = 100.0 * tput /
			    ((double)b->workers * 1000.0 / b->cpu_ms);
		}
	}
	bench_series_free(&s);
	return rc;
}

/*
 * SIGKILL of an idle worker (or host), its slots in turn: the time
 * until the pool is back to full capacity without it.
 */
static int
bench_kill_one(struct bench *b, enum bench_pool pool, void *arg,
    uint64_t *ns)
{
	struct bench_pstat	 s0;
	unsigned		*turn = arg;
	uint64_t		 t0, t1;
	long			 pid;

	if (bench_wait_ready(b, pool, NULL, NULL) == -1 ||
	    bench_pstat(b, pool, &s0) == -1)
		return -1;
	if (s0.nw == 0)
		return bench_err(b, "pool %s: no worker in the stats",
		    bench_pool_name(pool));
	pid = s0.w[turn[pool]++ % s0.nw].pid;
	t0 = bench_now_ns();
	if (kill((pid_t)pid, SIGKILL) == -1)
		return bench_err(b, "kill %ld: %s", pid, strerror(errno));
	if (bench_wait_ready(b, pool, &s0, &t1) == -1)
		return -1;
	*ns = t1 - t0;
	return 0;
}

/* `fault segv` on an idle pool: until the pool is whole again. */
static int
bench_segv_one(struct bench *b, enum bench_pool pool, void *arg,
    uint64_t *ns)
{
	struct bench_pstat	s0;
	uint64_t		t0, t1;

	if (bench_wait_ready(b, pool, NULL, NULL) == -1 ||
	    bench_pstat(b, pool, &s0) == -1)
		return -1;
	t0 = bench_now_ns();
	if (bench_job(b, pool, "fault", "segv", 0, COMMIS_ST_CRASHED,
	    BENCH_ANY_LEN) == -1 ||
	    bench_wait_ready(b, pool, &s0, &t1) == -1)
		return -1;
	*ns = t1 - t0;
	return 0;
}

/* 4. Worker start after SIGKILL, and a crashed worker replaced. */
static int
bench_restart(struct bench *b)
{
	struct bench_series	k = { 0, bench_count(b, 10, 3), { NULL } };
	struct bench_series	c = { 0, bench_count(b, 10, 3), { NULL } };
	unsigned		turn[BENCH_NPOOLS] = { 0 };
	int			p, rc;

	rc = bench_series(b, &k, bench_kill_one, turn);
	if (rc == 0)
		rc = bench_series(b, &c, bench_segv_one, NULL);
	for (p = 0; p < bench_npools(b) && rc == 0; p++) {
		b->fig[p][BF_START] = bench_pct(k.v[p], k.n, 0.50) / 1e6;
		b->fig[p][BF_REPLACE] = bench_pct(c.v[p], c.n, 0.50) / 1e6;
	}
	bench_series_free(&k);
	bench_series_free(&c);
	return rc;
}

/* Pss and Private_* of a process from smaps_rollup, in KiB. */
static int
bench_smaps(long pid, long long *pss, long long *uss)
{
	FILE		*f;
	char		 path[64], line[256];
	long long	 v;
	int		 seen = 0;

	snprintf(path, sizeof path, "/proc/%ld/smaps_rollup", pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "Pss: %lld kB", &v) == 1) {
			*pss += v;
			seen = 1;
		} else if (sscanf(line, "Private_Clean: %lld kB", &v) == 1 ||
		    sscanf(line, "Private_Dirty: %lld kB", &v) == 1)
			*uss += v;
	}
	fclose(f);
	return seen ? 0 : -1;
}

/*
 * 5. Memory per idle job slot, after the jobs above: the PSS (and the
 * private memory) of every worker process, or of the thread host, divided
 * by the pool's slots. Left out (n/a) when /proc cannot be read.
 */
static int
bench_memory_pool(struct bench *b, enum bench_pool pool)
{
	struct bench_pstat	s;
	long long		pss = 0, uss = 0, slots = 0;
	unsigned		i;

	if (bench_wait_ready(b, pool, NULL, NULL) == -1 ||
	    bench_pstat(b, pool, &s) == -1)
		return -1;
	for (i = 0; i < s.nw; i++) {
		if (bench_smaps(s.w[i].pid, &pss, &uss) == -1)
			return 0;
		slots += s.w[i].threads;
	}
	if (slots > 0) {
		b->fig[pool][BF_PSS] = (double)pss / (double)slots;
		b->fig[pool][BF_USS] = (double)uss / (double)slots;
	}
	return 0;
}

static int
bench_memory(struct bench *b)
{
	int	p;

	for (p = 0; p < bench_npools(b); p++) {
		if (bench_memory_pool(b, (enum bench_pool)p) == -1)
			return -1;
	}
	return 0;
}

/* A memfd of size bytes of a pattern, unsealed: submit_fd seals it. */
static int
bench_memfd(struct bench *b, size_t size)
{
	uint8_t	 block[4096];
	size_t	 off = 0, i, n;
	ssize_t	 w;
	int	 fd;

	for (i = 0; i < sizeof block; i++)
		block[i] = (uint8_t)(i * 31 + 7);
	if ((fd = memfd_create("commis-bench", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return bench_err(b, "memfd_create: %s", strerror(errno));
	while (off < size) {
		n = size - off < sizeof block ? size - off : sizeof block;
		if ((w = write(fd, block, n)) == -1 && errno == EINTR)
			continue;
		if (w <= 0) {
			bench_err(b, "memfd write: %s", strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	return fd;
}

/* The same segment's bytes: echo hands the segment back. */
static int
bench_bulk_check(struct bench *b, const struct commis_result *r, size_t size)
{
	size_t	i;

	for (i = 0; i < size; i += 4093) {
		if (r->output[i] != (uint8_t)((i % 4096) * 31 + 7))
			return bench_err(b, "bulk echo: output differs from "
			    "input at byte %zu", i);
	}
	return 0;
}

/* One segment of the bulk series, the same memfd for both pools. */
struct bench_bulkarg {
	int		 fd;
	size_t		 size;
	int		 checked[BENCH_NPOOLS];
};

/* commis_submit_fd of the memfd to echo, which hands it back. */
static int
bench_bulk_one(struct bench *b, enum bench_pool pool, void *arg,
    uint64_t *ns)
{
	struct commis_submit_opts	 o = { .pool = bench_pool_name(pool) };
	struct bench_bulkarg		*a = arg;
	struct commis_result		 r;
	uint64_t			 t0, t1;
	int				 rc;

	t0 = bench_now_ns();
	rc = commis_submit_fd(b->cl, "echo", a->fd, &o, &r);
	t1 = bench_now_ns();
	rc = bench_job_ok(b, b->cl, "bulk echo", rc, &r, COMMIS_ST_SUCCEEDED,
	    a->size);
	/* The first result of each pool is read through; later ones not. */
	if (rc == 0 && !a->checked[pool]) {
		rc = bench_bulk_check(b, &r, a->size);
		a->checked[pool] = 1;
	}
	commis_result_free(&r);
	*ns = t1 - t0;
	return rc;
}

/* 6. A sealed memfd through echo with commis_submit_fd: p50 in us. */
static int
bench_bulk_size(struct bench *b, size_t size, unsigned n, enum bench_fig fig)
{
	struct bench_bulkarg	a = { -1, size, { 0 } };
	struct bench_series	s = { 1, n, { NULL } };
	int			p, rc;

	if ((a.fd = bench_memfd(b, size)) == -1)
		return -1;
	if ((rc = bench_series(b, &s, bench_bulk_one, &a)) == 0) {
		for (p = 0; p < bench_npools(b); p++)
			b->fig[p][fig] = bench_pct(s.v[p], s.n, 0.50) / 1e3;
	}
	bench_series_free(&s);
	close(a.fd);
	return rc;
}

static int
bench_bulk(struct bench *b)
{
	if (bench_bulk_size(b, 1u << 20, bench_count(b, 30, 5), BF_BULK1) == -1)
		return -1;
	return bench_bulk_size(b, 64u << 20, bench_count(b, 10, 3), BF_BULK64);
}

/* A fault case: the job that hurts its worker, and where its figures go. */
struct bench_fault {
	const char	*data;		/* fault's argument */
	uint32_t	 timeout_ms;
	int		 status;	/* how it must end */
	/* Where its figures go; BENCH_NFIGS: not measured. */
	enum bench_fig	 f_req, f_lost, f_rec, f_res;
};

/* Jobs of other slots requeued between two snapshots. */
static long long
bench_requeued(const struct bench_pstat *s0, const struct bench_pstat *s1)
{
	if (s0->blast_requeued >= 0 && s1->blast_requeued >= 0)
		return s1->blast_requeued - s0->blast_requeued;
	return s1->retried - s0->retried;
}

/*
 * One fault with the pool's other slots busy: workers - 1 `sleep 500`
 * jobs run on the second client, then the fault job goes to the last
 * free slot. t[0]: until its result; t[1]: until full capacity again.
 * The other jobs are collected; *lost counts those that did not succeed.
 */
static int
bench_fault_once(struct bench *b, enum bench_pool pool,
    const struct bench_fault *k, uint64_t t[2], long long *req, int *lost)
{
	struct commis_submit_opts	o = { .pool = bench_pool_name(pool) };
	struct bench_pstat		s0, s1;
	unsigned			i, others = b->workers - 1;
	uint64_t			t0;
	int				ok;

	if (bench_wait_ready(b, pool, NULL, NULL) == -1)
		return -1;
	for (i = 0; i < others; i++) {
		if (commis_submit_async(b->bg, "sleep", BENCH_SLEEP,
		    strlen(BENCH_SLEEP), &o, NULL) != COMMIS_OK)
			return bench_err(b, "submit sleep: %s",
			    commis_client_error(b->bg));
	}
	if (bench_wait_active(b, pool, others) == -1 ||
	    bench_pstat(b, pool, &s0) == -1)
		return -1;
	t0 = bench_now_ns();
	if (bench_job(b, pool, "fault", k->data, k->timeout_ms, k->status,
	    BENCH_ANY_LEN) == -1)
		return -1;
	t[0] = bench_now_ns() - t0;
	if (bench_wait_ready(b, pool, &s0, &t[1]) == -1)
		return -1;
	t[1] -= t0;
	for (i = 0; i < others; i++) {
		if (bench_collect(b, b->bg, "sleep", 0, &ok) == -1)
			return -1;
		*lost += !ok;
	}
	if (bench_pstat(b, pool, &s1) == -1)
		return -1;
	*req += bench_requeued(&s0, &s1);
	return 0;
}

/* What the fault series gathers beside the recovery times. */
struct bench_faultarg {
	const struct bench_fault *k;
	uint64_t	*res[BENCH_NPOOLS];	/* submit to result */
	unsigned	 nres[BENCH_NPOOLS];
	long long	 req[BENCH_NPOOLS];
	int		 lost[BENCH_NPOOLS];
};

static int
bench_fault_one(struct bench *b, enum bench_pool pool, void *arg,
    uint64_t *ns)
{
	struct bench_faultarg	*a = arg;
	uint64_t		 t[2];

	if (bench_fault_once(b, pool, a->k, t, &a->req[pool],
	    &a->lost[pool]) == -1)
		return -1;
	a->res[pool][a->nres[pool]++] = t[0];
	*ns = t[1];
	return 0;
}

static int
bench_fault(struct bench *b, const struct bench_fault *k)
{
	struct bench_faultarg	a;
	struct bench_series	s = { 0, bench_count(b, 3, 1), { NULL } };
	int			p, rc = 0;

	memset(&a, 0, sizeof a);
	a.k = k;
	for (p = 0; p < bench_npools(b) && rc == 0; p++) {
		if ((a.res[p] = bench_samples(b, s.n)) == NULL)
			rc = -1;
	}
	if (rc == 0)
		rc = bench_series(b, &s, bench_fault_one, &a);
	for (p = 0; p < bench_npools(b) && rc == 0; p++) {
		b->fig[p][k->f_req] = (double)a.req[p] / s.n;
		b->fig[p][k->f_rec] = bench_pct(s.v[p], s.n, 0.50) / 1e6;
		if (k->f_lost != BENCH_NFIGS)
			b->fig[p][k->f_lost] = (double)a.lost[p] / s.n;
		if (k->f_res != BENCH_NFIGS)
			b->fig[p][k->f_res] = bench_pct(a.res[p], s.n,
			    0.50) / 1e6;
	}
	for (p = 0; p < BENCH_NPOOLS; p++)
		free(a.res[p]);
	bench_series_free(&s);
	return rc;
}

/* 7. Crash blast radius: `fault segv` next to workers - 1 busy slots. */
static int
bench_blast(struct bench *b)
{
	const struct bench_fault	k = { "segv", 0, COMMIS_ST_CRASHED,
	    BF_BLAST_REQ, BF_BLAST_LOST, BF_BLAST_REC, BENCH_NFIGS };

	return bench_fault(b, &k);
}

/* 8. Hard timeout: `fault hang` with --timeout 100 (kill_grace_ms 100). */
static int
bench_hang(struct bench *b)
{
	const struct bench_fault	k = { "hang", BENCH_HANG_TIMEOUT_MS,
	    COMMIS_ST_TIMEDOUT, BF_HANG_REQ, BENCH_NFIGS, BF_HANG_REC,
	    BF_HANG_MS };

	return bench_fault(b, &k);
}

static const struct {
	const char	*what;
	int		(*fn)(struct bench *);
} bench_loads[] = {
	{ "dispatch latency", bench_latency },
	{ "no-op throughput", bench_tput },
	{ "memory per worker", bench_memory },
	{ "CPU jobs", bench_cpu },
	{ "bulk segments", bench_bulk },
	{ "worker start and crash replacement", bench_restart },
	{ "crash blast radius", bench_blast },
	{ "hard timeout", bench_hang },
};

int
bench_workloads(struct bench *b)
{
	struct bench_pstat	s;
	size_t			i;
	int			p;

	for (p = 0; p < bench_npools(b); p++) {
		if (bench_pstat(b, (enum bench_pool)p, &s) == -1)
			return -1;
		snprintf(b->iso[p], sizeof b->iso[p], "%s", s.isolation);
	}
	for (i = 0; i < sizeof bench_loads / sizeof bench_loads[0]; i++) {
		bench_progress(b, bench_loads[i].what);
		if (bench_interrupted(b) || bench_loads[i].fn(b) == -1)
			return -1;
	}
	return 0;
}

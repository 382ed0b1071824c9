/*
 * What the supervisor itself costs: the time from a worker's death to its
 * replacement being ready, the memory of idle workers and of commisd, and
 * commisd's memory per queued job. These read commisd's stats, events and
 * /proc; the pools they use are set up in benchd_write_conf.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define BENCH_CRASH_ROUNDS	50u
#define BENCH_CRASH_QUICK	10u	/* -q: a tenth would be too few */
#define BENCH_CRASH_MS		10000	/* per round */
#define BENCH_PSS_MAX		1024	/* workers read */
#define BENCH_HOLD_JOBS		1000000u
#define BENCH_HOLD_SLEEP	"600000"	/* ms: outlasts the figure */
#define BENCH_HOLD_MS		120000	/* queue filled, then emptied */
#define BENCH_DUR_JOBS		100000u	/* per fsync policy */
#define BENCH_DUR_DEPTH		4096u

/* The crash pool's one worker, once it is the only one and idle. */
static int
bench_crash_pid(struct bench *b, pid_t *pid, uint64_t deadline)
{
	struct timespec	ts = { 0, 1000000 };
	size_t		n;
	int		listed;

	for (;;) {
		if ((listed = benchd_worker_pids(b, BENCH_CRASH, pid, 1,
		    &n)) == -1)
			return -1;
		if (listed == 1 && n == 1)
			return 0;
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pool %s: %d workers, %zu idle, "
			    "after %d ms", BENCH_CRASH, listed, n,
			    BENCH_CRASH_MS);
		nanosleep(&ts, NULL);
	}
}

/* Reads events until the crash pool's worker other than old is ready. */
static int
bench_crash_event(struct bench *b, commis_client *ev, pid_t old,
    uint64_t deadline)
{
	char		*json;
	uint64_t	 now;
	long long	 pid;
	int		 found;

	for (;;) {
		if ((now = bench_now_ns()) >= deadline)
			break;
		if (commis_next_event(ev, (int)((deadline - now + 999999) /
		    1000000), &json) != COMMIS_OK)
			return bench_err(b, "events: %s",
			    commis_client_error(ev));
		if (json == NULL)
			break;
		found = strstr(json, "\"type\":\"worker_started\"") != NULL &&
		    strstr(json, "\"pool\":\"" BENCH_CRASH "\"") != NULL &&
		    benchd_json_num(json, "pid", &pid) == 0 &&
		    pid != (long long)old;
		free(json);
		if (found)
			return 0;
	}
	return bench_err(b, "pool %s: no worker_started after killing %ld, "
	    "within %d ms", BENCH_CRASH, (long)old, BENCH_CRASH_MS);
}

/*
 * Crash to replacement ready: SIGKILL the crash pool's idle worker, and
 * time until commisd announces its replacement ready (worker_started,
 * sent when the new worker's READY arrives) on an event subscription.
 * That covers the reap, the fork, the worker's start and its READY.
 */
int
bench_crash(struct bench *b)
{
	const char	*sec = "crash to replacement ready";
	commis_client	*ev = NULL;
	unsigned	 n, i;
	uint64_t	*v, t0, deadline;
	pid_t		 pid;
	int		 rc = -1;

	n = b->quick ? BENCH_CRASH_QUICK : BENCH_CRASH_ROUNDS;
	if ((v = calloc(n, sizeof *v)) == NULL)
		return bench_err(b, "out of memory");
	if (commis_connect(b->sock, &ev) != COMMIS_OK) {
		bench_err(b, "connect %s: %s", b->sock, strerror(errno));
		goto out;
	}
	if (commis_events(ev) != COMMIS_OK) {
		bench_err(b, "events: %s", commis_client_error(ev));
		goto out;
	}
	for (i = 0; i < n; i++) {
		deadline = bench_now_ns() + BENCH_CRASH_MS * 1000000ull;
		if (bench_crash_pid(b, &pid, deadline) == -1)
			goto out;
		t0 = bench_now_ns();
		if (kill(pid, SIGKILL) == -1) {
			bench_err(b, "kill %ld: %s", (long)pid,
			    strerror(errno));
			goto out;
		}
		if (bench_crash_event(b, ev, pid, deadline) == -1)
			goto out;
		v[i] = bench_now_ns() - t0;
	}
	qsort(v, n, sizeof *v, bench_cmp_u64);
	bench_row(b, sec, "p50", "crash_ready_p50_us", bench_pct_us(v, n, 0.50),
	    "us");
	bench_row(b, sec, "p99", "crash_ready_p99_us", bench_pct_us(v, n, 0.99),
	    "us");
	rc = 0;
out:
	/* Events cost commisd something per job while anyone listens. */
	commis_close(ev);
	free(v);
	return rc;
}

/*
 * Proportional set size of each idle worker of the bench pool, whose
 * pages shared copy-on-write with commisd and the other workers count in
 * part, and of commisd itself at the same moment.
 */
int
bench_pss(struct bench *b)
{
	const char	*sec = "PSS, idle";
	pid_t		 pids[BENCH_PSS_MAX];
	size_t		 n, i;
	long long	 kib, sum = 0, sup;
	int		 listed;

	if (benchd_wait_idle(b) == -1 || (listed = benchd_worker_pids(b,
	    BENCH_POOL, pids, BENCH_PSS_MAX, &n)) == -1)
		return -1;
	if (n == 0 || (size_t)listed != n)
		return bench_err(b, "pool %s: %zu of %d workers idle",
		    BENCH_POOL, n, listed);
	for (i = 0; i < n; i++) {
		if ((kib = benchd_proc_kib(pids[i], "smaps_rollup",
		    "Pss")) == -1)
			return bench_err(b, "no Pss in /proc/%ld/smaps_rollup",
			    (long)pids[i]);
		sum += kib;
	}
	if ((sup = benchd_proc_kib(b->pid, "smaps_rollup", "Pss")) == -1)
		return bench_err(b, "no Pss in /proc/%ld/smaps_rollup",
		    (long)b->pid);
	bench_row(b, sec, "per worker", "pss_worker_kib",
	    (double)sum / (double)n, "KiB");
	bench_row(b, sec, "supervisor", "pss_sup_kib", (double)sup, "KiB");
	return 0;
}

/* submits n 1-byte echo jobs to the hold pool on cl, corked. */
static int
bench_hold_fill(struct bench *b, commis_client *cl, unsigned n)
{
	struct commis_submit_opts	o = { .pool = BENCH_HOLD };
	unsigned			i;

	if (commis_cork(cl) != COMMIS_OK)
		return bench_err(b, "cork: %s", commis_client_error(cl));
	for (i = 0; i < n; i++) {
		if (commis_submit_async(cl, "echo", "x", 1, &o, NULL) !=
		    COMMIS_OK)
			return bench_err(b, "submit echo to %s: %s",
			    BENCH_HOLD, commis_client_error(cl));
	}
	if (commis_uncork(cl) != COMMIS_OK)
		return bench_err(b, "submit echo to %s: %s", BENCH_HOLD,
		    commis_client_error(cl));
	return 0;
}

/*
 * commisd's resident memory per queued job: the hold pool's one worker
 * sleeps while a million jobs queue behind it; VmRSS before and after,
 * divided by the jobs. Closing the connection cancels them (they were
 * waited for, not --no-wait); the sleep was submitted --no-wait, so that
 * it survives the close, and is cancelled on its own afterwards.
 */
int
bench_hold(struct bench *b)
{
	struct commis_submit_opts	 o = { .pool = BENCH_HOLD };
	commis_client			*hc = NULL;
	unsigned			 n = bench_count(b, BENCH_HOLD_JOBS);
	uint64_t			 sleep_id = 0;
	long long			 rss0, rss1;
	int				 rc = -1;

	if (commis_connect(b->sock, &hc) != COMMIS_OK) {
		bench_err(b, "connect %s: %s", b->sock, strerror(errno));
		goto out;
	}
	if (commis_submit_nowait(hc, "sleep", BENCH_HOLD_SLEEP,
	    strlen(BENCH_HOLD_SLEEP), &o, &sleep_id) != COMMIS_OK) {
		bench_err(b, "submit sleep: %s", commis_client_error(hc));
		goto out;
	}
	if (benchd_wait_stat(b, BENCH_HOLD, "active", 1, BENCH_START_MS) == -1)
		goto out;
	if ((rss0 = benchd_proc_kib(b->pid, "status", "VmRSS")) == -1) {
		bench_err(b, "no VmRSS in /proc/%ld/status", (long)b->pid);
		goto out;
	}
	if (bench_hold_fill(b, hc, n) == -1 ||
	    benchd_wait_stat(b, BENCH_HOLD, "queued", n, BENCH_HOLD_MS) == -1)
		goto out;
	if ((rss1 = benchd_proc_kib(b->pid, "status", "VmRSS")) == -1) {
		bench_err(b, "no VmRSS in /proc/%ld/status", (long)b->pid);
		goto out;
	}
	commis_close(hc);
	hc = NULL;
	if (benchd_wait_stat(b, BENCH_HOLD, "queued", 0, BENCH_HOLD_MS) == -1)
		goto out;
	bench_row(b, "supervisor per queued job", "RSS",
	    "sup_bytes_per_queued_job", (double)(rss1 - rss0) * 1024.0 / n,
	    "B");
	rc = 0;
out:
	commis_close(hc);
	if (sleep_id != 0 && commis_cancel(b->cl, sleep_id) != COMMIS_OK &&
	    rc == 0)
		rc = bench_err(b, "cancel sleep: %s",
		    commis_client_error(b->cl));
	if (rc == 0)
		rc = benchd_wait_stat(b, BENCH_HOLD, "active", 0,
		    BENCH_START_MS);
	return rc;
}

/*
 * Durable submit throughput, for each fsync policy: total --no-wait echo
 * jobs to a durable pool, corked, at most BENCH_DUR_DEPTH unanswered
 * (commis_submit_nowait_async; each ACCEPTED comes only after the job is
 * in the journal: synced first with fsync: always). Jobs per second from
 * the first submit to the last ACCEPTED; the jobs run meanwhile. Then the
 * pool's queue is let drain before the next policy.
 */
int
bench_durable(struct bench *b)
{
	static const char *const pols[] = { "always", "interval", "never" };
	struct commis_submit_opts	 o;
	struct commis_result		 r;
	char				 pool[32], key[64];
	unsigned			 n = bench_count(b, BENCH_DUR_JOBS);
	unsigned			 sent, done, i;
	uint64_t			 t0;
	int				 rc;

	for (i = 0; i < BENCH_NITEMS(pols); i++) {
		snprintf(pool, sizeof pool, "dur_%s", pols[i]);
		memset(&o, 0, sizeof o);
		o.pool = pool;
		if (commis_cork(b->cl) != COMMIS_OK)
			return bench_err(b, "cork: %s",
			    commis_client_error(b->cl));
		t0 = bench_now_ns();
		for (sent = done = 0; done < n;) {
			while (sent < n && sent - done < BENCH_DUR_DEPTH) {
				if (commis_submit_nowait_async(b->cl, "echo",
				    "x", 1, &o, NULL) != COMMIS_OK)
					return bench_err(b, "submit to %s: %s",
					    pool, commis_client_error(b->cl));
				sent++;
			}
			/* One wait (which flushes), then what is there. */
			rc = commis_wait_result(b->cl, BENCH_RESULT_MS, &r);
			for (;;) {
				if (rc < 0)
					return bench_err(b, "%s: %s", pool,
					    commis_client_error(b->cl));
				if (r.status != COMMIS_ST_ACCEPTED) {
					bench_err(b, "%s: request %llu not "
					    "accepted: %s %s (%s)", pool,
					    (unsigned long long)r.request_id,
					    r.error ? commis_err_name(r.error) :
					    "status", commis_status_name(
					    r.status), r.cause);
					commis_result_free(&r);
					return -1;
				}
				commis_result_free(&r);
				if (++done == sent ||
				    (rc = commis_poll_result(b->cl, &r)) == 0)
					break;
			}
		}
		snprintf(key, sizeof key, "durable_%s_jobs_s", pols[i]);
		bench_row(b, i == 0 ? "durable submit, 4096 in flight" : "",
		    pols[i], key, (double)n * 1e9 / (double)(bench_now_ns() -
		    t0), "jobs/s");
		if (commis_uncork(b->cl) != COMMIS_OK)
			return bench_err(b, "uncork: %s",
			    commis_client_error(b->cl));
		if (benchd_wait_stat(b, pool, "queued", 0, BENCH_HOLD_MS) ==
		    -1)
			return -1;
	}
	return 0;
}

/*
 * commis-bench's shared state: the run (struct bench), its rows, and the
 * helpers every figure uses. Each bench_*.c file holds one family of
 * figures; benchd.c owns the commisd the run starts and reads its stats.
 */
#ifndef BENCH_H
#define BENCH_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "commis/client.h"

#define BENCH_POOL		"bench"
/* The same pool without latency histograms: their cost on the hot path. */
#define BENCH_NOSTATS		"nostats"
/* One worker, killed over and over: crash to replacement ready. */
#define BENCH_CRASH		"crash"
/* One worker kept busy while jobs pile up: bytes per queued job. */
#define BENCH_HOLD		"hold"
#define BENCH_PREFETCH		256u	/* bench and nostats pools */
#define BENCH_QUEUE_MAX		2000000u
#define BENCH_HOLD_QUEUE_MAX	2000000u

#define BENCH_SAMPLES		20000u	/* echo latency, -n */
#define BENCH_WARMUP		1000u
#define BENCH_TPUT_JOBS		10000u	/* uncorked throughput, stats cost */
#define BENCH_START_MS		10000	/* workers idle after start */
#define BENCH_STOP_MS		20000	/* commisd gone after SIGTERM */
#define BENCH_RESULT_MS		60000	/* longest wait for one result */
#define BENCH_ROWS_MAX		96
/* Inline payloads up to the largest bulk size: see benchd_write_conf. */
#define BENCH_MAX_PAYLOAD	"256M"

#define BENCH_NITEMS(a)	(sizeof (a) / sizeof (a)[0])

struct bench_row {
	const char	*section;	/* printed once per group */
	const char	*stat;
	const char	*key;		/* JSON name */
	double		 value;
	const char	*unit;
};

struct bench {
	unsigned	 workers;
	const char	*pool;		/* bench_batch's pool */
	unsigned	 samples;
	int		 quick;
	const char	*json;
	long		 cpus;
	char		 model[128];
	const char	*rev;

	pid_t		 pid;		/* commisd, 0 when not running */
	char		*dir;
	char		 sock[108];
	char		 conf[PATH_MAX];
	commis_client	*cl;

	struct bench_row rows[BENCH_ROWS_MAX];
	size_t		 nrows;
	char		 err[1024];
};

/* bench.c: the run's bookkeeping. */
int		 bench_err(struct bench *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
uint64_t	 bench_now_ns(void);
unsigned	 bench_count(const struct bench *, unsigned);
void		 bench_row(struct bench *, const char *, const char *,
		    const char *, double, const char *);
int		 bench_cmp_u64(const void *, const void *);
uint64_t	 bench_pct(const uint64_t *, size_t, double);
double		 bench_pct_us(const uint64_t *, size_t, double);
int		 bench_io(int, void *, size_t, int);
int		 bench_job_ok(struct bench *, commis_client *, const char *,
		    int, struct commis_result *, size_t);
int		 bench_collect(struct bench *, commis_client *, const char *,
		    size_t);

/* benchd.c: the commisd of the run and its stats. */
int		 benchd_start(struct bench *);
int		 benchd_stop(struct bench *);
int		 benchd_wait_idle(struct bench *);
int		 benchd_json_num(const char *, const char *, long long *);
int		 benchd_stats(struct bench *, commis_client *, const char *,
		    const char **, long long *, size_t);
int		 benchd_wait_stat(struct bench *, const char *, const char *,
		    long long, int);
int		 benchd_worker_pids(struct bench *, const char *, pid_t *,
		    size_t, size_t *);
long long	 benchd_proc_kib(pid_t, const char *, const char *);

/* bench_lat.c: floors, latency, efficiency, ping under load. */
int		 bench_floor(struct bench *);
int		 bench_memcpy(struct bench *, size_t, const char *,
		    const char *);
int		 bench_echo(struct bench *);
int		 bench_batch(struct bench *, const char *, const char *,
		    unsigned, unsigned, size_t, uint64_t *);
int		 bench_stats_cost(struct bench *);
int		 bench_large(struct bench *, size_t, const char *,
		    const char *);
int		 bench_efficiency(struct bench *);
int		 bench_control(struct bench *);

/* bench_tput.c: throughput, one client and several, and its floor. */
int		 bench_floor_pipe(struct bench *, int each);
int		 bench_throughput(struct bench *, unsigned, const char *,
		    const char *);
int		 bench_tput_corked(struct bench *, unsigned, const char *,
		    const char *);
int		 bench_tput_clients(struct bench *);

/* bench_bulk.c: inline against segments. */
int		 bench_bulk(struct bench *);

/* bench_sup.c: the supervisor's own costs. */
int		 bench_crash(struct bench *);
int		 bench_pss(struct bench *);
int		 bench_hold(struct bench *);
int		 bench_durable(struct bench *);

#endif /* BENCH_H */

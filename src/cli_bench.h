/*
 * commis bench: processes against threads on one machine, in one run.
 * cli_bench.c owns the command (options, its own commisd),
 * cli_bench_stats.c reads the pools back from the JSON stats,
 * cli_bench_run.c runs the workloads and cli_bench_out.c reports them as
 * a table, JSON and SVG. None of them knows commisd's insides: they speak
 * only the public client API and read the stats.
 */
#ifndef COMMIS_CLI_BENCH_H
#define COMMIS_CLI_BENCH_H

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

#include "commis/client.h"

struct cli_ctx;
struct cli_cmd;

/* The command table's entry (cli.c) takes its text from here. */
#define CLI_BENCH_ARGS							\
	"[--workers N] [--iterations N] [--quick] "			\
	"[--cpu-handler NAME] [--cpu-data STR] [--module PATH] "	\
	"[--json FILE] [--svg FILE] [--commisd PATH]"
#define CLI_BENCH_HELP \
	"Compare isolation: process with isolation: thread. Starts its " \
	"own commisd\nwith two pools of N workers (default: online " \
	"CPUs), proc and thr, runs\nthe same workloads on both and " \
	"prints them side by side: dispatch latency,\nthroughput, CPU " \
	"scaling, worker start and crash replacement, memory per\n" \
	"worker, bulk segments, and the blast radius of a crash and of " \
	"a hard\ntimeout. --quick takes a few seconds; --iterations N " \
	"multiplies the samples.\n--cpu-handler/--cpu-data: the CPU job " \
	"(default: spin 1), from a --module\nloaded into both pools. " \
	"--json, --svg: also write the figures as JSON and\nas a bar " \
	"chart. commisd is --commisd, else the one beside commis, else\n" \
	"$PATH. See docs/isolation.md."

int	cli_bench(struct cli_ctx *, const struct cli_cmd *, int, char **);

enum bench_pool {
	BENCH_PROC = 0,		/* pool "proc", isolation: process */
	BENCH_THR,		/* pool "thr", isolation: thread */
	BENCH_NPOOLS
};

/* Every figure, in the order of the table. */
enum bench_fig {
	BF_LAT_P50 = 0,
	BF_LAT_P99,
	BF_TPUT,
	BF_CPU_TPUT,
	BF_CPU_EFF,
	BF_START,
	BF_REPLACE,
	BF_PSS,
	BF_USS,
	BF_BULK1,
	BF_BULK64,
	BF_BLAST_REQ,
	BF_BLAST_LOST,
	BF_BLAST_REC,
	BF_HANG_MS,
	BF_HANG_REQ,
	BF_HANG_REC,
	BENCH_NFIGS
};

struct bench_figdef {
	const char	*key;		/* JSON name */
	const char	*section;	/* printed once per group */
	const char	*stat;
	const char	*unit;
	int		 better;	/* 1 higher, -1 lower, 0 neither */
	int		 chart;		/* drawn in the SVG */
};

extern const struct bench_figdef bench_figs[BENCH_NFIGS];

#define BENCH_WMAX	256		/* --workers at most */
#define BENCH_MODMAX	8		/* --module at most */

/* A worker (or a thread host) as the stats show it. */
struct bench_wstat {
	long		 pid;
	unsigned	 threads;
	unsigned	 running;
};

/* One pool's part of the stats; counters are -1 when absent. */
struct bench_pstat {
	char		 isolation[16];
	char		 state[16];
	long long	 size, workers, active, available, starting, queued;
	long long	 retried, blast_events, blast_requeued;
	unsigned	 nw;
	struct bench_wstat w[BENCH_WMAX];
};

struct bench {
	/* Options. */
	unsigned	 workers;
	unsigned	 iterations;
	int		 quick;
	int		 no_thread;	/* hidden: proc only */
	const char	*cpu_handler;
	const char	*cpu_data;
	const char	*json;
	const char	*svg;
	const char	*commisd;
	char		*modules[BENCH_MODMAX];	/* realpath()s */
	unsigned	 nmodules;
	char		*cmdline;

	/* The machine and the daemon's version. */
	long		 cpus;
	char		 model[128];
	char		 kernel[80];
	char		 dversion[32];

	/* Our commisd; pid 0 when not running. */
	pid_t		 pid;
	char		*dir;
	char		 sock[108];
	char		 conf[PATH_MAX];
	char		 log[PATH_MAX];
	commis_client	*cl;		/* one job at a time, stats */
	commis_client	*bg;		/* jobs left running */

	/* Results; NAN where not measured. */
	double		 fig[BENCH_NPOOLS][BENCH_NFIGS];
	char		 iso[BENCH_NPOOLS][16];	/* from the stats */
	double		 cpu_ms;	/* one CPU job, for the ideal */
	int		 cpu_ms_measured;
	char		 err[1024];
};

/* cli_bench.c */
int		 bench_err(struct bench *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
uint64_t	 bench_now_ns(void);
void		 bench_nap(void);
int		 bench_interrupted(struct bench *);
void		 bench_progress(const struct bench *, const char *);
const char	*bench_pool_name(enum bench_pool);
unsigned	 bench_count(const struct bench *, unsigned full,
		    unsigned quick);

/* cli_bench_stats.c */
int		 bench_pstat(struct bench *, enum bench_pool,
		    struct bench_pstat *);
int		 bench_wait_ready(struct bench *, enum bench_pool,
		    const struct bench_pstat *, uint64_t *);
int		 bench_wait_active(struct bench *, enum bench_pool,
		    long long);

/* cli_bench_run.c */
int		 bench_workloads(struct bench *);

/* cli_bench_out.c */
void		 bench_print(const struct bench *);
int		 bench_write_json(struct bench *);
int		 bench_write_svg(struct bench *);

#endif

/*
 * The chaos harness's private header (tests/chaos/): the run's state and
 * the functions its three files share. chaos.c owns the daemon's life
 * (directory, config, start, stop), the options and the summary;
 * chaos_run.c drives the jobs, polls the stats and delivers the
 * disruptions; chaos_check.c checks what happened.
 */
#ifndef CHAOS_H
#define CHAOS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "commis/client.h"

#define CHAOS_POOL		"chaos"
#define CHAOS_WORKERS		2	/* at start: processes, or threads */
#define CHAOS_SIZE_MAX		3	/* scale changes go 1..3 */
#define CHAOS_ATTEMPTS		5
#define CHAOS_INFLIGHT		256
#define CHAOS_JOBS		100000u
#define CHAOS_DISRUPT		1000u
#define CHAOS_QUICK_JOBS	10000u
#define CHAOS_QUICK_DISRUPT	100u
#define CHAOS_HANG_TIMEOUT_MS	100u	/* per-job timeout of fault hang */
#define CHAOS_POLL_MS		2	/* stats poll while running */
#define CHAOS_START_MS		10000	/* also: a reload or scale applied */
#define CHAOS_STOP_MS		20000
#define CHAOS_SETTLE_MS		20000	/* queue drained, pool back */
#define CHAOS_RESULT_MS		60000	/* no result at all for this long */
#define CHAOS_MAX_PIDS		65536
#define CHAOS_MAX_LISTED	32	/* workers read from one stats answer */
#define CHAOS_REQ_SLOTS		1024	/* > in-flight tokens + faults */
#define CHAOS_NO_STATUS		0xff

enum chaos_kind {
	K_KILL, K_STOP, K_SEGV, K_ABORT, K_HANG, K_RELOAD, K_SCALE, K_NKINDS
};

struct chaos_req {
	uint64_t	 id;		/* 0: free slot */
	int		 fault;		/* a fault job, not a token */
	uint32_t	 token;
};

struct chaos_pid {
	long		 pid;
	unsigned long long start;	/* /proc/PID/stat start time */
};

/* One stats answer: totals, the pool's counters, its listed workers. */
struct chaos_pool {
	long		 pid[CHAOS_MAX_LISTED];
	char		 state[CHAOS_MAX_LISTED][16];
	char		 retire[CHAOS_MAX_LISTED][16];
	unsigned	 threads[CHAOS_MAX_LISTED];
	int		 n;
	long long	 queued, jobs, restarts, recycled, reloads;
	long long	 blast_events, blast_requeued;
};

struct chaos {
	unsigned	 njobs, ndisrupt;
	unsigned	 seed;
	int		 reload;	/* --reload: reloads, scale changes */
	int		 thread;	/* --thread: isolation: thread */

	pid_t		 pid;		/* commisd, 0 when not running */
	char		*dir;
	char		 sock[108];
	char		 conf[PATH_MAX];
	char		 log[PATH_MAX];
	commis_client	*cl;		/* jobs */
	commis_client	*ctl;		/* stats and operator commands */

	/*
	 * The configured size (processes, or a thread host's threads): what
	 * the last scale or reload asked for, which commisd has applied by
	 * the time the disruption returns.
	 */
	unsigned	 size, size_max;
	unsigned	 nreloads;	/* sent; picks the config variant */

	uint8_t		*status;	/* per token; CHAOS_NO_STATUS */
	uint8_t		*nresults;
	uint8_t		*attempts;
	uint16_t	*logged;
	struct chaos_req req[CHAOS_REQ_SLOTS];
	unsigned	 inflight, faults_inflight;
	unsigned	 submitted, done, rejected, stray;

	unsigned	*thresholds;	/* done counts that fire disruptions */
	unsigned	 fired, by_kind[K_NKINDS];
	unsigned	 fault_results, fault_attempts, fault_bad;
	pid_t		 stopped;	/* SIGSTOPped, awaiting SIGCONT */
	uint64_t	 cont_at;

	struct chaos_pid *pids;
	size_t		 npids;
	struct chaos_pool last;
	uint64_t	 last_poll;
	uint64_t	 kill_at;	/* earliest unrecovered SIGKILL, or 0 */
	long		 killed[64];
	int		 nkilled;
	uint64_t	 max_recovery_ms;

	/* fd counts of commisd and of one worker, by configured size */
	int		 fd_base_sup[CHAOS_SIZE_MAX + 1];
	int		 fd_base_worker[CHAOS_SIZE_MAX + 1];
	unsigned	 passed, failed;
	unsigned long long duplicates;
	unsigned	 lost;
};

/* chaos.c */
uint64_t	chaos_now_ms(void);
void		chaos_sleep_ms(unsigned);
void		chaos_fatal(struct chaos *, const char *, ...)
		    __attribute__((format(printf, 2, 3), noreturn));
void		chaos_check(struct chaos *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
int		chaos_fd_count(long);
unsigned long long chaos_start_time(long);
void		chaos_write_conf(struct chaos *);
void		chaos_stop_daemon(struct chaos *, int *);

/* chaos_run.c */
void		chaos_poll(struct chaos *, struct chaos_pool *);
int		chaos_pool_full(const struct chaos *, const struct chaos_pool *,
		    int);
void		chaos_wait_shape(struct chaos *, struct chaos_pool *);
void		chaos_scale(struct chaos *, unsigned);
void		chaos_schedule(struct chaos *);
void		chaos_run(struct chaos *);

/* chaos_check.c */
void		chaos_check_settled(struct chaos *, struct chaos_pool *);
void		chaos_check_tokens(struct chaos *, const struct chaos_pool *);
void		chaos_check_gone(struct chaos *);

#endif /* CHAOS_H */

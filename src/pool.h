/*
 * A pool: its workers, its run queue and its counters. The pool module is
 * two files sharing pool_int.h: pool.c forks, reaps, replaces and kills
 * workers; pool_size.c decides how many a pool wants and which ones are
 * recycled or scaled away. dispatch.c moves jobs between the queue and the
 * workers.
 */
#ifndef COMMIS_POOL_H
#define COMMIS_POOL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "config.h"
#include "idmap.h"
#include "job.h"
#include "queue.h"

struct supervisor;
struct chan;
struct handler_set;

enum worker_state {
	W_STARTING,	/* forked, READY not seen yet */
	W_IDLE,		/* no job running or sent */
	W_BUSY,
	W_STOPPING,	/* asked to exit or signalled; waiting to reap */
};

/* Recycling: a worker to replace keeps serving until its replacement is
 * ready (RETIRE_WANTED), then takes no new job and exits (RETIRE_NOW). */
enum worker_retire {
	RETIRE_NONE,
	RETIRE_WANTED,
	RETIRE_NOW,
};

/* What the worker's own timer is counting (jobs have their own). */
enum worker_timer {
	WT_NONE,
	WT_STOP,	/* asked to exit; SIGKILL when it fires */
};

struct worker {
	struct pool		*pool;
	unsigned		 id;		/* per pool, for logs and stats */
	unsigned		 generation;
	pid_t			 pid;
	enum worker_state	 state;
	enum worker_retire	 retire;
	struct chan		*chan;
	unsigned		 capacity;	/* jobs at once: 1, or threads */
	struct job_list		 running;	/* STARTED, by wentry */
	unsigned		 nrun;
	struct job_list		 sent;		/* sent, not started, in order */
	unsigned		 nsent;
	uint64_t		 jobs_done;
	uint64_t		 jobs_limit;	/* max_jobs + jitter; 0: none */
	uint64_t		 start_ns;
	uint64_t		 idle_ns;	/* idle since */
	struct event		*timer;
	enum worker_timer	 tstate;
	int			 ready;		/* READY seen */
	int			 exiting;	/* we asked it to exit */
	int			 reaped;	/* waitpid() returned it */
	int			 sigkilled;
	uint64_t		 culprit;	/* job we killed it for, or 0 */
	volatile uint64_t	*crash_note;	/* thread hosts: shared page */
	char			 cause[128];	/* why we stopped it */
	TAILQ_ENTRY(worker)	 entry;
	TAILQ_ENTRY(worker)	 idle_entry;	/* while W_IDLE */
};
TAILQ_HEAD(worker_list, worker);

struct pool_stats {
	uint64_t	submitted;
	uint64_t	rejected;
	uint64_t	succeeded;
	uint64_t	failed;
	uint64_t	timedout;
	uint64_t	crashed;
	uint64_t	cancelled;
	uint64_t	expired;
	uint64_t	dead;		/* dead-lettered (timedout + crashed) */
	uint64_t	retried;	/* put back after their worker died */
	uint64_t	rebalanced;	/* prefetched jobs taken back */
	uint64_t	restarts;	/* workers re-forked after a death */
	uint64_t	recycled;	/* workers retired by max_jobs etc. */
	uint64_t	blast_events;	/* a host died with jobs running */
	uint64_t	blast_requeued;	/* other threads' jobs it requeued */
	/* Restarts by cause: died by a signal of its own, exited by
	 * itself, killed for a timeout, for max_rss or for a protocol
	 * error, failed at start-up. */
	uint64_t	restarts_crash;
	uint64_t	restarts_exit;
	uint64_t	restarts_timeout;
	uint64_t	restarts_rss;
	uint64_t	restarts_other;
	uint64_t	restarts_startup;
};

struct durable;

struct pool {
	struct supervisor	*sup;
	struct pool_config	 cfg;		/* the pool's own copy */
	struct handler_set	*handlers;
	struct queue		 queue;
	struct idmap		 uid_last;	/* uid + 1 -> its last seq */
	unsigned		 ndelayed;
	struct job_list		 delayed;	/* by wentry */
	struct worker_list	 workers;
	struct worker_list	 idle;		/* serving workers with no job */
	unsigned		 nworkers;	/* forked, not reaped */
	unsigned		 nrunning;	/* jobs running */
	unsigned		 next_id;
	unsigned		 generation;
	unsigned		 target;	/* static: size; else max */
	int			 failed;	/* crash-loop limit hit */
	int			 down;		/* no worker can start */
	int			 draining;	/* removed by a reload */
	uint64_t		*ring;		/* restart times (intensity) */
	unsigned		 ring_pos;
	unsigned		 startup_failures;
	uint64_t		 spawn_after_ns;	/* backoff */
	double			 tokens;		/* spawn_rate bucket */
	uint64_t		 tokens_ns;
	struct event		*tick;		/* periodic checks */
	struct event		*spawn_ev;	/* a spawn put off */
	struct pool_stats	 st;
	struct histw		*h_queue;	/* submit -> start, us */
	struct histw		*h_run;		/* start -> end */
	struct histw		*h_e2e;		/* submit -> end */
	struct durable		*dur;		/* durable pools: durable.c */
};

/*
 * A pool for cfg (copied). hs: its handler set, taken over (NULL: build
 * one from cfg's modules). NULL with *cause on failure.
 */
struct pool	*pool_new(struct supervisor *, const struct pool_config *,
		    struct handler_set *hs, char **cause);
void		 pool_free(struct pool *);
/* Builds a handler set with the built-ins and cfg's modules. */
struct handler_set *pool_handlers(const struct pool_config *, char **cause);
/* Forks workers to the target, rate and backoff permitting. */
void		 pool_maintain(struct pool *);
/* 0; -1 when the pool takes no jobs or its queue is full; -2 when out of
 * memory. */
int		 pool_enqueue(struct pool *, struct job *, int front);
void		 pool_unqueue(struct pool *, struct job *);
/* Queued plus delayed: what queue_max bounds. */
size_t		 pool_queued(const struct pool *);
/* Whether new jobs are accepted, else why not. */
int		 pool_accepting(const struct pool *, const char **why);
/* A child exited: 1 if it was one of this pool's workers. */
int		 pool_reap(struct pool *, pid_t, int status);
/* Graceful: retire every worker once the pool has no job left. */
void		 pool_drain(struct pool *);
/* Fast: end queued jobs, signal every worker. */
void		 pool_stop(struct pool *);
/* Nothing left in it: no worker, no job. */
int		 pool_empty(const struct pool *);
/* Reload: new settings and handlers; workers replaced one by one. */
void		 pool_reconfigure(struct pool *, const struct pool_config *,
		    struct handler_set *);
int		 pool_scale(struct pool *, unsigned, char *why, size_t);
int		 pool_reset(struct pool *, char *why, size_t);
/* After each job: max_jobs and max_rss mark the worker for replacement. */
void		 pool_after_job(struct worker *);
/* A worker to replace (RETIRE_WANTED) or to let go (RETIRE_NOW). */
void		 pool_retire(struct worker *, enum worker_retire, const char *);
/* Records why, then signals; SIGTERM arms the SIGKILL grace timer. */
void		 pool_worker_kill(struct worker *, int sig, const char *cause);
void		 pool_worker_set_idle(struct worker *);
void		 pool_worker_unset_idle(struct worker *);
unsigned	 pool_count(const struct pool *, enum worker_state);
/* A process's resident set in bytes, from /proc; 0 if it is gone. */
uint64_t	 pool_worker_rss(pid_t);
const char	*pool_worker_state_name(enum worker_state);
const char	*pool_mode_name(enum pool_mode);

#endif

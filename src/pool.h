/*
 * A pool: its worker slots, its run queue and its counters. The pool forks
 * workers, dispatches jobs to idle ones, times jobs out, reaps and replaces
 * workers, and puts a dead worker's job back on the queue.
 */
#ifndef COMMIS_POOL_H
#define COMMIS_POOL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "config.h"
#include "queue.h"

struct supervisor;
struct job;
struct chan;
struct handler_set;

enum worker_state {
	W_STARTING,	/* forked, READY not seen yet */
	W_IDLE,
	W_BUSY,
	W_STOPPING,	/* signalled; waiting to reap */
};

struct worker {
	struct pool		*pool;
	unsigned		 slot;
	pid_t			 pid;
	enum worker_state	 state;
	struct chan		*chan;
	struct job		*job;
	uint64_t		 jobs_done;
	uint64_t		 start_ns;
	uint64_t		 job_start_ns;
	struct event		*timer;		/* job timeout, kill grace */
	int			 ready;		/* READY seen */
	int			 timedout;
	int			 sigkilled;
	char			 cause[128];	/* why we signalled it */
	TAILQ_ENTRY(worker)	 idle_entry;
};

struct pool_slot {
	struct pool		*pool;
	unsigned		 idx;
	struct worker		*w;
	unsigned		 failures;	/* start-ups failed in a row */
	struct event		*restart;
	int			 disabled;	/* EXIT_WORKER_NORESPAWN */
};

struct pool_stats {
	uint64_t	submitted;
	uint64_t	rejected;
	uint64_t	succeeded;
	uint64_t	failed;
	uint64_t	timedout;
	uint64_t	crashed;
	uint64_t	cancelled;
	uint64_t	retried;
	uint64_t	restarts;
};

struct pool {
	struct supervisor		*sup;
	const struct pool_config	*cfg;
	struct handler_set		*handlers;
	struct queue			 queue;
	struct pool_slot		*slots;
	unsigned			 nslots;
	TAILQ_HEAD(, worker)		 idle;
	unsigned			 nalive;	/* forked, not reaped */
	unsigned			 nbusy;
	int				 down;		/* no slot can start */
	struct pool_stats		 st;
};

struct pool	*pool_new(struct supervisor *, const struct pool_config *,
		    char **cause);
void		 pool_free(struct pool *);
void		 pool_start(struct pool *);
/* Queues or dispatches an accepted job. -1 when the queue is full. */
int		 pool_submit(struct pool *, struct job *);
/* Takes a queued job out (its submitter vanished). */
void		 pool_unqueue(struct pool *, struct job *);
/* A child exited: 1 if it was one of this pool's workers. */
int		 pool_reap(struct pool *, pid_t, int status);
/* Shutdown: end queued jobs, stop restarts, signal every worker. */
void		 pool_stop(struct pool *, int sig);
unsigned	 pool_idle_count(const struct pool *);
const char	*pool_worker_state_name(enum worker_state);

#endif

/*
 * Jobs: the job table, the life of a job from acceptance to its one
 * terminal state, the clients waiting for it, the results kept after it
 * ends (result_ttl_ms, result_max_bytes) and the dead-letter list.
 */
#ifndef COMMIS_JOB_H
#define COMMIS_JOB_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "commis/proto.h"
#include "queue.h"

struct supervisor;
struct pool;
struct worker;
struct evbuffer;

enum job_state {
	JOB_DELAYED,	/* waiting for its delay to pass */
	JOB_QUEUED,	/* in its pool's queue */
	JOB_SENT,	/* sent to a worker, not started (prefetched) */
	JOB_RUNNING,	/* its worker said STARTED */
	JOB_DONE,	/* terminal; kept for status/wait or dead-lettered */
};

/* A client waiting for a job's result with WAIT (the submitter waits in
 * the job itself: struct job's sub_*). */
struct waiter {
	struct supervisor	*sup;
	struct job		*job;
	uint64_t		 conn_id;
	uint64_t		 req_id;
	struct event		*timer;		/* WAIT timeout, or NULL */
	LIST_ENTRY(waiter)	 job_entry;
	LIST_ENTRY(waiter)	 conn_entry;
};
LIST_HEAD(waiter_list, waiter);
LIST_HEAD(job_sublist, job);

/* What one connection waits for: its WAITs, and the jobs it submitted
 * and waits for. */
struct conn_waits {
	struct waiter_list	 waiters;
	struct job_sublist	 subs;
};

/*
 * A job. Kept small, since a million may wait in a queue: the handler
 * and pool names and a payload of up to JOB_INLINE_MAX bytes live in the
 * same allocation, right after the struct (handler[]); the timer is taken
 * from the table's spares only while the job waits for one; what only a
 * finished job has is in its job_end.
 */
#define JOB_INLINE_MAX	64

struct job_end {
	uint64_t		 done_ns;
	uint8_t			*out;		/* kept result bytes, or NULL */
	size_t			 outlen;	/* or the size of out_fd */
	int			 out_fd;	/* kept result segment, or -1 */
	TAILQ_ENTRY(job)	 kept_entry;
	TAILQ_ENTRY(job)	 dead_entry;
	char			 cause[];
};

struct job {
	struct queue_item	 qi;		/* first: queue items are jobs */
	uint64_t		 id;
	struct pool		*pool;		/* NULL once done */
	struct worker		*worker;	/* SENT or RUNNING on it */
	struct event		*timer;		/* delay, deadline, then the
						   running attempt's timeout;
						   NULL when none is armed */
	TAILQ_ENTRY(job)	 wentry;	/* its worker's sent or running
						   list, or the pool's delayed */
	struct waiter_list	 waiters;	/* WAITs */
	uint64_t		 sub_conn;	/* the submitter's connection
						   while it waits, else 0 */
	uint64_t		 sub_req;	/* and its SUBMIT's id */
	LIST_ENTRY(job)		 sub_entry;	/* in its struct conn_waits */
	struct job_end		*end;		/* once DONE */
	uint8_t			*data;		/* inline input, maybe in the
						   job's own allocation */
	uint64_t		 submit_ns;
	uint64_t		 start_ns;	/* this attempt began; while
						   DELAYED, when it is due */
	uint64_t		 seg_conn;	/* the connection it counts on */
	uint64_t		 cpu_us;	/* last attempt, from the worker */
	uint32_t		 len;
	uint32_t		 timeout_ms;	/* resolved: job or pool */
	uint32_t		 deadline_ms;	/* from submit_ns: start by then,
						   or expire; 0: none */
	uint16_t		 flags;		/* COMMIS_SUBMIT_* */
	uint16_t		 attempts;	/* attempts started */
	uint32_t		 maxrss_kb;
	pid_t			 last_pid;
	uid_t			 owner;		/* the submitter's uid */
	int			 seg_fd;	/* input segment, or -1 */
	uint8_t			 state;		/* enum job_state */
	uint8_t			 status;	/* enum commis_status, DONE */
	uint8_t			 pool_off;	/* pool name in handler[] */
	unsigned		 had_seg:1;	/* the input came as a segment */
	unsigned		 counted:1;	/* counts in jobs_per_uid */
	unsigned		 cancel:1;	/* cancel requested */
	unsigned		 revoking:1;	/* REVOKE sent to its worker */
	unsigned		 timedout:1;	/* soft timeout sent */
	unsigned		 grace:1;	/* timer: SIGKILL when it fires */
	unsigned		 kept:1;	/* in the results list */
	unsigned		 dead:1;	/* in the dead-letter list */
	unsigned		 pending:1;	/* durable: accepted, waiting for
						   its journal commit (wentry) */
	unsigned		 keyed:1;	/* has an idempotency key: its
						   result is kept for retries */
	char			 handler[];	/* then the pool name, then a
						   small input */
};
#define JOB_POOL_NAME(job)	((job)->handler + (job)->pool_off)
TAILQ_HEAD(job_list, job);

struct job_table;

struct job_table *job_table_new(struct supervisor *);
void		 job_table_free(struct job_table *);
struct job	*job_find(struct job_table *, uint64_t);
/* Jobs accepted and not terminal. */
size_t		 job_active(const struct job_table *);
size_t		 job_kept_count(const struct job_table *);
size_t		 job_kept_bytes(const struct job_table *);
size_t		 job_dead_count(const struct job_table *);

/*
 * A new job, not yet queued. delay_ms > 0 parks it as DELAYED; deadline_ms
 * (else the pool's queue_timeout_ms) makes it expire if not started by
 * then. NULL when out of memory.
 */
struct job	*job_new(struct job_table *, struct pool *, const char *handler,
		    int32_t priority, uint32_t timeout_ms, uint32_t flags,
		    uint32_t delay_ms, uint32_t deadline_ms, const void *data,
		    size_t len);
/* A job brought back by a durable pool's recovery, with its own id and
 * submission time. NULL when out of memory or the id is taken. */
struct job	*job_recover(struct job_table *, struct pool *, uint64_t id,
		    const char *handler, int32_t priority, uint32_t timeout_ms,
		    uint32_t flags, uint32_t delay_ms, uint32_t deadline_ms,
		    const void *data, size_t len, uint64_t submit_ns);
/* A kept result brought back by recovery; 0 or -1. */
int		 job_restore_done(struct job_table *, struct pool *,
		    uint64_t id, const char *handler, int status,
		    unsigned attempts, const char *cause, const void *out,
		    size_t outlen, uint64_t done_ns, uint64_t queue_us,
		    uint64_t run_us, uint64_t cpu_us, uint64_t maxrss_kb);
/* New job ids from now on are above id. */
void		 job_table_advance(struct job_table *, uint64_t id);
void		 job_foreach_kept(struct job_table *,
		    void (*)(struct job *, void *), void *);
/* The waiting submitter is told nothing more (it has its answer). */
void		 job_unsub(struct job *);
/* Queues it (or parks it until its delay passes). -1: the pool takes no
 * jobs or its queue is full; -2: out of memory. */
int		 job_start(struct job_table *, struct job *);
/* Drops a job that was never started (refused at submission). */
void		 job_discard(struct job_table *, struct job *);
/* A client waits for job: submitter (the SUBMIT) or a WAIT with a
 * timeout (0: none). If the job is already done it is answered now. */
int		 job_wait(struct job_table *, struct job *, uint64_t conn_id,
		    uint64_t req_id, int submitter, uint32_t timeout_ms,
		    struct conn_waits *);
/* A connection closed: forget its waiters; the queued jobs it alone was
 * waiting for (and did not submit with NOWAIT) are cancelled. */
void		 job_conn_gone(struct job_table *, struct conn_waits *);
/* Arms the job's timer for ms from now (taking a spare if it has none);
 * job_timer_stop disarms it and gives it back. */
void		 job_timer_set(struct job *, uint64_t ms);
void		 job_timer_stop(struct job *);
/* Cancel by request: -1 with *why when the job is already done. */
int		 job_cancel(struct job_table *, struct job *, const char *cause,
		    const char **why);
/* The one way a job ends. */
void		 job_finish(struct job_table *, struct job *,
		    enum commis_status, const char *cause, const void *out,
		    size_t outlen);
/* The same with a result segment (out_fd, outlen its size), which the
 * job table then owns: passed to every waiter, kept for a later WAIT only
 * when nobody was waiting, closed otherwise. */
void		 job_finish_fd(struct job_table *, struct job *,
		    enum commis_status, const char *cause, const void *out,
		    size_t outlen, int out_fd);
/* Segment fds the job table holds (inputs and kept results). */
size_t		 job_seg_count(const struct job_table *);
/* Takes fd as the job's input segment, counted on conn_id. */
void		 job_set_segment(struct job_table *, struct job *, int fd,
		    uint64_t conn_id);

/* The dead-letter list. */
void		 job_dead_render(struct job_table *, struct evbuffer *, int json);
/* Resubmits a dead job as a new job; 0 and *new_id, or -1 and *why. */
int		 job_dead_retry(struct job_table *, uint64_t id, uint64_t *new_id,
		    char *why, size_t whylen);
size_t		 job_dead_purge(struct job_table *);

const char	*job_status_name(int);
const char	*job_state_name(enum job_state);

#endif

/*
 * Running one job in a forked child: the part of worker.c that the
 * thread host (host.c) shares. A process worker and a host both start the
 * same way, take JOB frames the same way, and answer DONE with the same
 * payload; they differ only in how a frame reaches the channel and how a
 * running handler learns it was cancelled, which each gives as a
 * struct wjob_env. Defined in worker.c.
 */
#ifndef COMMIS_WJOB_H
#define COMMIS_WJOB_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "commis/proto.h"

struct frame;
struct rusage;
struct worker_args;

/* The channel, once the child's start-up moved it there. */
#define WORKER_FD	3

/* A job sent to this process, copied out of the decoder's buffer. */
struct wjob {
	uint64_t		 id;
	char			 handler[COMMIS_NAME_MAX];
	uint32_t		 flags;		/* COMMIS_SUBMIT_INPLACE */
	uint8_t			*input;		/* inline input */
	size_t			 len;
	int			 fd;		/* the input segment, or -1 */
	const char		*bad;		/* why the JOB cannot run */
	/* CANCEL came, before or after the job began. Set by whoever
	 * reads the channel, read by whoever runs the job. */
	atomic_int		 cancel;
	TAILQ_ENTRY(wjob)	 entry;
};
TAILQ_HEAD(wjob_list, wjob);

struct wjob_env {
	const struct worker_args	*wa;
	/* Refuse handlers not flagged COMMIS_HANDLER_THREAD_SAFE. */
	int				 thread_safe_only;
	/* A process worker: its RUSAGE_SELF when the last job ended, the
	 * next job's start (one getrusage per job). NULL for threads,
	 * which measure their own thread around each job. */
	struct rusage			*prev;
	/* Sends one whole frame (fd: -1 or passed, not closed); a failure
	 * ends the process. */
	void	(*send)(struct wjob_env *, uint8_t type, uint64_t id,
		    const void *, size_t, const void *, size_t, int fd);
	/* Non-zero once the job was asked to stop (call->cancelled()). */
	int	(*cancelled)(struct wjob_env *, struct wjob *);
};

/*
 * The child's start-up: the channel on WORKER_FD and no other fd,
 * PDEATHSIG, its own process group, default signals, nice and
 * SCHED_BATCH, then every handler's init() (a failure exits
 * EXIT_WORKER_NORESPAWN). Exits on error.
 */
void		 worker_start(const struct worker_args *);
/* READY: u32 pid. */
void		 worker_ready(struct wjob_env *);
/* A JOB frame as a job; takes the frame's fd. A malformed payload is the
 * supervisor's bug and ends the process. */
struct wjob	*worker_job_new(const struct frame *);
void		 worker_job_free(struct wjob *);
struct wjob	*worker_job_find(struct wjob_list *, uint64_t id);
/*
 * Runs the job (STARTED is the caller's) and sends its DONE. Whatever
 * happens, its input segment is unmapped and its output freed before it
 * returns; the job's own fd is worker_job_free()'s.
 */
void		 worker_job_run(struct wjob_env *, struct wjob *);

#endif

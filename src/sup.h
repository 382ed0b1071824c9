/*
 * The supervisor: the event loop's owner, the job table, and the life of a
 * job from SUBMIT to its one terminal state. Pools run jobs; the control
 * module talks to clients; this module ties them together.
 */
#ifndef COMMIS_SUP_H
#define COMMIS_SUP_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>
#include <sys/types.h>

#include <event2/event.h>

#include "commis/proto.h"
#include "config.h"
#include "idmap.h"
#include "queue.h"

struct pool;
struct worker;
struct control;

enum job_state {
	JOB_QUEUED,
	JOB_RUNNING,
};

struct job {
	struct queue_item	 qi;		/* first: queue items are jobs */
	uint64_t		 id;
	struct pool		*pool;
	char			 handler[COMMIS_NAME_MAX];
	uint32_t		 timeout_ms;	/* resolved: job or pool */
	uint32_t		 attempts;	/* attempts started */
	enum job_state		 state;
	uint8_t			*data;
	size_t			 len;
	uint64_t		 conn_id;	/* submitter; 0 once gone */
	uint64_t		 req_id;
	struct worker		*worker;
	uint64_t		 submit_ns;
	TAILQ_ENTRY(job)	 conn_entry;	/* the submitter's jobs */
};
TAILQ_HEAD(job_list, job);

struct supervisor {
	struct event_base	*base;
	struct config		*cfg;
	struct pool		**pools;
	size_t			 npools;
	struct control		*control;
	struct idmap		 jobs;
	uint64_t		 next_job_id;
	uint64_t		 start_ns;
	pid_t			 pid;
	int			 stopping;
	int			 exit_code;
	struct event		*ev_sig[5];
	struct event		*ev_stop;	/* shutdown deadline */
	struct event		*ev_idle;	/* shutdown end check */
};

/* A timeval of ms milliseconds, for libevent timers. */
static inline struct timeval
tv_ms(uint64_t ms)
{
	struct timeval	tv = { .tv_sec = ms / 1000,
			    .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

/* Monotonic nanoseconds. */
uint64_t	 sup_now_ns(void);

/* Builds a supervisor on cfg (which it then owns): loads every pool's
 * modules, sets up the control socket (listen_fd >= 0: inherited). */
struct supervisor *sup_new(struct config *, int listen_fd, char **cause);
/* Forks the workers and runs the loop until shutdown; the exit code. */
int		 sup_run(struct supervisor *);
void		 sup_free(struct supervisor *);
/* Starts a shutdown: stop accepting, kill workers, exit when all reaped. */
void		 sup_shutdown(struct supervisor *, const char *why);

struct pool	*sup_pool(struct supervisor *, const char *name);

/* A new job for pool p, owned by the job table. NULL when out of memory. */
struct job	*sup_job_new(struct supervisor *, struct pool *,
		    const char *handler, int32_t priority, uint32_t timeout_ms,
		    const void *data, size_t len, uint64_t conn_id,
		    uint64_t req_id);
/* A job that reached a terminal state: tell the submitter, count, free. */
void		 sup_job_finish(struct supervisor *, struct job *,
		    enum commis_status, const char *cause,
		    const void *out, size_t outlen);
void		 sup_job_free(struct supervisor *, struct job *);

#endif

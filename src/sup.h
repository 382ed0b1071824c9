/*
 * The supervisor: the event loop's owner. It holds the config, the pools,
 * the job table and the control socket, turns signals into events, and
 * runs reloads and shutdowns.
 */
#ifndef COMMIS_SUP_H
#define COMMIS_SUP_H

#include <stdint.h>
#include <sys/time.h>
#include <sys/types.h>

#include <event2/event.h>

#include "config.h"

struct pool;
struct control;
struct metrics;
struct job_table;
struct idem;

enum sup_stop {
	SUP_RUNNING = 0,
	SUP_STOP_DRAIN,		/* SIGTERM: finish jobs within
				   shutdown_timeout_ms */
	SUP_STOP_FAST,		/* SIGINT, SIGQUIT, or the drain ran out */
};

struct supervisor {
	struct event_base	*base;
	struct config		*cfg;		/* top-level keys in force */
	struct pool		**pools;	/* serving, then draining */
	size_t			 npools;
	struct control		*control;
	struct metrics		*metrics;	/* metrics_listen, or NULL */
	struct job_table	*jobs;
	struct idem		*idem;		/* idempotency keys */
	uint64_t		 start_ns;
	pid_t			 pid;
	enum sup_stop		 stopping;
	int			 exit_code;
	uint64_t		 reloads;
	struct event		*ev_sig[5];
	struct event		*ev_stop;	/* drain deadline, last resort */
	struct event		*ev_tick;	/* drained pools, end of loop */
	struct event		*ev_watchdog;	/* WATCHDOG=1, or NULL */
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
/* SUP_STOP_DRAIN or SUP_STOP_FAST; a fast stop overrides a drain. */
void		 sup_shutdown(struct supervisor *, enum sup_stop, const char *);
/*
 * Reads the config file again and applies it; on any error nothing
 * changes and *errors (malloc'd) lists them all. 0 or -1.
 */
int		 sup_reload(struct supervisor *, char **errors);

/* A pool that takes new jobs, by name (NULL: the first). */
struct pool	*sup_pool(struct supervisor *, const char *name);

#endif

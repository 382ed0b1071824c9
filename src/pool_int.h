/*
 * Private to the pool module, which is two files: pool.c (a worker's life:
 * fork, reap, stop, kill; a pool's queue) and pool_size.c (how many
 * workers a pool wants and which ones go). Nothing else includes this.
 */
#ifndef COMMIS_POOL_INT_H
#define COMMIS_POOL_INT_H

#include <event2/event.h>

#include "pool.h"

#define POOL_TICK_MS	1000	/* RSS, lifetime and idle checks */

/* pool.c */
/* Forks one worker now (the caller checked the rate and the target). */
void		 pool_spawn(struct pool *);
/* Asks an empty worker to exit: it exits 0 when its channel closes. */
void		 pool_worker_close(struct worker *, const char *cause);
/* Users whose last job has run no longer need remembering. */
void		 pool_fair_prune(struct pool *);

/* pool_size.c */
/* Processes wanted: a thread pool is one host of `workers` threads. */
unsigned	 pool_initial_target(const struct pool_config *);
/* Every POOL_TICK_MS: RSS cap, lifetime, ondemand idle timeout. */
void		 pool_tick(evutil_socket_t, short, void *);
/* A spawn put off by spawn_rate or backoff: try again. */
void		 pool_spawn_cb(evutil_socket_t, short, void *);

#endif

/*
 * Moving jobs between a pool's queue and its workers: dispatch with
 * prefetch, the worker channel's messages, timeouts and cancels, taking
 * prefetched jobs back (rebalancing), and the jobs of a worker that died.
 */
#ifndef COMMIS_DISPATCH_H
#define COMMIS_DISPATCH_H

struct pool;
struct worker;
struct job;
struct chan;
struct frame;

/* Sends queued jobs to workers that can take them; rebalances. */
void	dispatch(struct pool *);
/* Worker channel callbacks (chan_new). */
void	dispatch_frame(struct chan *, struct frame *, void *worker);
/* A running job's timer fired: its timeout, or the grace after a soft
 * cancel. */
void	dispatch_job_timer(struct job *);
/* Cancel a SENT (revoke) or RUNNING (soft, then hard) job. */
void	dispatch_cancel(struct job *);
/* Takes back every prefetched job of a worker that is going away. */
void	dispatch_revoke_all(struct worker *);
/* The worker was reaped: its running and sent jobs go back or end. */
void	dispatch_worker_lost(struct worker *, const char *how);

#endif

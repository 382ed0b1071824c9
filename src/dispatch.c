/*
 * Jobs between a pool's queue and its workers. A worker runs up to its
 * capacity at once (1 for a process worker, `workers` threads for the host
 * of a thread pool) and holds up to `prefetch` more sent ahead (its `sent`
 * list, in order). Attempts are counted when the worker says STARTED, so a job
 * that is only sent ahead and taken back (REVOKE/REVOKED) or orphaned by a
 * dying worker costs no attempt and is never run twice by rebalancing: a
 * REVOKE races with STARTED, and whichever the worker sees first wins.
 *
 * Timeouts and cancels are soft first (CANCEL: the handler sees
 * cancelled()), then hard: SIGKILL kill_grace_ms later, each timed by the
 * job's own timer. The cause is recorded before any signal. A thread host
 * that dies takes all its running jobs with it: only the one that killed
 * it (named by the host's crash note, or the one we killed it for) is
 * charged an attempt; the others go back as they were (the blast radius,
 * counted in the stats). How a job ends is job_finish()'s; which
 * workers exist is pool.c's.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "chan.h"
#include "control.h"
#include "dispatch.h"
#include "durable.h"
#include "job.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "seg.h"
#include "sup.h"

static void
dispatch_send(struct worker *w, uint8_t type, uint64_t id, const void *p1,
    size_t n1, const void *p2, size_t n2)
{
	if (w->chan == NULL || chan_send(w->chan, type, id, p1, n1, p2, n2) ==
	    -1)
		pool_worker_kill(w, SIGKILL, "cannot write to its channel");
}

static unsigned
dispatch_load(const struct worker *w)
{
	return w->nrun + w->nsent;
}

/* An idle worker, else (with prefetch) the least loaded one with room. */
static struct worker *
dispatch_pick(struct pool *p)
{
	struct worker	*w, *best = NULL;

	if ((w = TAILQ_FIRST(&p->idle)) != NULL)
		return w;
	TAILQ_FOREACH(w, &p->workers, entry) {
		if (w->state != W_BUSY || w->retire == RETIRE_NOW ||
		    dispatch_load(w) >= w->capacity + p->cfg.prefetch)
			continue;
		if (best == NULL || dispatch_load(w) < dispatch_load(best))
			best = w;
	}
	return best;
}

static void
dispatch_one(struct worker *w, struct job *job)
{
	struct mbuf	m;

	pool_worker_unset_idle(w);
	job->state = JOB_SENT;
	job->worker = w;
	job_timer_stop(job);	/* the queue deadline is met */
	TAILQ_INSERT_TAIL(&w->sent, job, wentry);
	w->nsent++;
	/* JOB: str handler, u32 flags, bytes input (inline input goes
	 * without a copy; a segment goes as an fd, never mapped here). */
	mbuf_init(&m);
	mbuf_str(&m, job->handler);
	mbuf_u32(&m, job->flags & COMMIS_SUBMIT_INPLACE);
	mbuf_u32(&m, (uint32_t)job->len);
	if (m.err || w->chan == NULL || chan_send_fd(w->chan, COMMIS_MSG_JOB,
	    job->id, m.data, m.len, job->data, job->len, job->seg_fd) == -1)
		pool_worker_kill(w, SIGKILL, "cannot write to its channel");
	mbuf_free(&m);
}

static void
dispatch_revoke(struct worker *w, struct job *job)
{
	if (job->revoking)
		return;
	job->revoking = 1;
	dispatch_send(w, COMMIS_MSG_REVOKE, job->id, NULL, 0, NULL, 0);
}

void
dispatch_revoke_all(struct worker *w)
{
	struct job	*job;

	TAILQ_FOREACH(job, &w->sent, wentry)
		dispatch_revoke(w, job);
}

/* Idle workers while others sit on jobs they have not started. */
static void
dispatch_rebalance(struct pool *p)
{
	struct worker	*w, *idle;
	struct job	*job;
	unsigned	 nidle = 0;

	if (queue_len(&p->queue) > 0)
		return;
	TAILQ_FOREACH(idle, &p->idle, idle_entry)
		nidle++;
	TAILQ_FOREACH(w, &p->workers, entry) {
		if (nidle == 0)
			break;
		/* Jobs waiting only for a free thread there start soon. */
		if (w->nsent == 0 || w->nrun < w->capacity)
			continue;
		TAILQ_FOREACH_REVERSE(job, &w->sent, job_list, wentry) {
			if (!job->revoking) {
				dispatch_revoke(w, job);
				nidle--;
				break;
			}
		}
	}
}

void
dispatch(struct pool *p)
{
	struct worker	*w;
	struct job	*job;

	while (queue_len(&p->queue) > 0 && (w = dispatch_pick(p)) != NULL) {
		job = (struct job *)queue_pop(&p->queue);
		dispatch_one(w, job);
	}
	dispatch_rebalance(p);
}

/* A job goes back to the front of its priority, or ends if it cannot. */
static void
dispatch_requeue(struct pool *p, struct job *job, const char *cause)
{
	const char	*why;

	job->worker = NULL;
	job->revoking = 0;
	if (job->cancel)
		job_finish(p->sup->jobs, job, COMMIS_ST_CANCELLED, "cancelled",
		    NULL, 0);
	else if (p->sup->stopping == SUP_STOP_FAST)
		job_finish(p->sup->jobs, job, COMMIS_ST_CANCELLED,
		    "supervisor shutting down", NULL, 0);
	else if (!pool_accepting(p, &why) && !p->draining)
		job_finish(p->sup->jobs, job, COMMIS_ST_FAILED, why, NULL, 0);
	else if (queue_push_front(&p->queue, &job->qi) == -1)
		job_finish(p->sup->jobs, job, COMMIS_ST_FAILED, cause, NULL, 0);
	else
		job->state = JOB_QUEUED;
}

/* A job that used an attempt and did not finish: retry, or end it. */
static void
dispatch_retry(struct pool *p, struct job *job, enum commis_status st,
    const char *cause)
{
	if (!job->cancel && p->sup->stopping != SUP_STOP_FAST &&
	    job->attempts >= p->cfg.max_attempts) {
		job->worker = NULL;
		job_finish(p->sup->jobs, job, st, cause, NULL, 0);
		return;
	}
	if (!job->cancel && p->sup->stopping != SUP_STOP_FAST) {
		log_job(LOG_LVL_INFO, p->cfg.name, (unsigned long long)job->id,
		    "goes back to the queue after attempt %u: %s",
		    job->attempts, cause);
		p->st.retried++;
	}
	dispatch_requeue(p, job, cause);
}

/* The worker has nothing left: idle, or gone if it is retiring. */
static void
dispatch_worker_free(struct worker *w)
{
	if (w->nrun > 0 || w->nsent > 0 || w->state == W_STOPPING ||
	    w->reaped)
		return;
	if (w->retire == RETIRE_NOW) {
		w->retire = RETIRE_WANTED;	/* let pool_retire act again */
		pool_retire(w, RETIRE_NOW, w->cause);
	} else
		pool_worker_set_idle(w);
}

static void
dispatch_started(struct worker *w, const struct frame *f)
{
	struct job	*job;

	TAILQ_FOREACH(job, &w->sent, wentry) {
		if (job->id == f->hdr.id)
			break;
	}
	if (job == NULL || w->nrun >= w->capacity || f->hdr.len != 0) {
		pool_worker_kill(w, SIGKILL, "protocol error: bad STARTED");
		return;
	}
	TAILQ_REMOVE(&w->sent, job, wentry);
	w->nsent--;
	TAILQ_INSERT_TAIL(&w->running, job, wentry);
	w->nrun++;
	job->revoking = 0;	/* the worker saw STARTED first */
	job->state = JOB_RUNNING;
	job->attempts++;
	job->deadline_ms = 0;
	job->last_pid = w->pid;
	job->start_ns = sup_now_ns();
	job->timedout = job->grace = 0;
	w->pool->nrunning++;
	if (job->timeout_ms > 0)
		job_timer_set(job, job->timeout_ms);
	if (w->pool->dur != NULL)
		durable_started(w->pool, job);
	control_event(w->pool->sup->control, "{\"type\":\"started\","
	    "\"job\":%llu,\"pool\":\"%s\",\"worker\":%u,\"pid\":%ld,"
	    "\"attempt\":%u}", (unsigned long long)job->id, w->pool->cfg.name,
	    w->id, (long)w->pid, job->attempts);
	if (job->cancel)
		dispatch_cancel(job);
	/* Now full: what it holds ahead may belong to an idle worker (one
	 * that became ready while this one had not yet started). */
	if (w->nsent > 0 && w->nrun >= w->capacity)
		dispatch_rebalance(w->pool);
}

static void
dispatch_done(struct worker *w, struct frame *f)
{
	struct pool	*p = w->pool;
	struct job	*job;
	struct mreader	 r;
	const uint8_t	*out;
	size_t		 outlen;
	uint64_t	 size, cpu_us, maxrss_kb;
	char		 err[COMMIS_TEXT_MAX], why[COMMIS_TEXT_MAX / 2];
	uint8_t		 ok;
	int		 out_fd = -1;

	TAILQ_FOREACH(job, &w->running, wentry) {
		if (job->id == f->hdr.id)
			break;
	}
	mr_init(&r, f->payload, f->hdr.len);
	ok = mr_u8(&r);
	mr_str(&r, err, sizeof err);
	cpu_us = mr_u64(&r);
	maxrss_kb = mr_u64(&r);
	out = mr_bytes(&r, &outlen);
	if (mr_end(&r) == -1 || job == NULL || (f->fd != -1 && outlen != 0)) {
		pool_worker_kill(w, SIGKILL, "protocol error: bad DONE");
		return;
	}
	/*
	 * A result segment: checked, never mapped; the job table owns it.
	 * A worker makes and seals its segments itself (a handler cannot
	 * hand it a bad one), so a bad one means the process is not
	 * speaking the protocol: it goes, and the job with it, to be tried
	 * again elsewhere.
	 */
	if (f->fd != -1 && ok == 0) {
		if (seg_check(f->fd, SEG_INPUT, p->sup->cfg->max_segment, &size,
		    why, sizeof why) == -1) {
			snprintf(err, sizeof err, "protocol error: bad result "
			    "segment: %s", why);
			pool_worker_kill(w, SIGKILL, err);
			return;
		}
		out_fd = f->fd;
		f->fd = -1;
		outlen = (size_t)size;
	}
	TAILQ_REMOVE(&w->running, job, wentry);
	w->nrun--;
	w->jobs_done++;
	job->cpu_us = cpu_us;
	job->maxrss_kb = maxrss_kb;
	p->nrunning--;
	job_timer_stop(job);
	job->worker = NULL;
	if (ok == 0)
		job_finish_fd(p->sup->jobs, job, COMMIS_ST_SUCCEEDED, "",
		    out_fd == -1 ? out : NULL, outlen, out_fd);
	else if (job->cancel)
		job_finish(p->sup->jobs, job, COMMIS_ST_CANCELLED, "cancelled",
		    NULL, 0);
	else if (job->timedout) {
		/* It stopped when asked: the worker stays. */
		snprintf(why, sizeof why, "timeout after %u ms",
		    job->timeout_ms);
		dispatch_retry(p, job, COMMIS_ST_TIMEDOUT, why);
	} else
		job_finish(p->sup->jobs, job, COMMIS_ST_FAILED, err, NULL, 0);
	pool_after_job(w);
	dispatch_worker_free(w);
}

static void
dispatch_revoked(struct worker *w, const struct frame *f)
{
	struct job	*job;

	TAILQ_FOREACH(job, &w->sent, wentry) {
		if (job->id == f->hdr.id && job->revoking)
			break;
	}
	if (job == NULL || f->hdr.len != 0) {
		pool_worker_kill(w, SIGKILL, "protocol error: bad REVOKED");
		return;
	}
	TAILQ_REMOVE(&w->sent, job, wentry);
	w->nsent--;
	w->pool->st.rebalanced++;
	dispatch_requeue(w->pool, job, "taken back");
	dispatch_worker_free(w);
}

void
dispatch_frame(struct chan *c, struct frame *f, void *arg)
{
	struct worker	*w = arg;
	struct pool	*p = w->pool;

	switch (f->hdr.type) {
	case COMMIS_MSG_READY:
		if (w->state != W_STARTING || f->hdr.len != 4) {
			pool_worker_kill(w, SIGKILL, "protocol error: bad READY");
			return;
		}
		w->ready = 1;
		p->startup_failures = 0;
		log_worker(LOG_LVL_DEBUG, p->cfg.name, w->id, (long)w->pid,
		    "ready");
		control_event(p->sup->control, "{\"type\":\"worker_started\","
		    "\"pool\":\"%s\",\"worker\":%u,\"pid\":%ld,"
		    "\"generation\":%u}", p->cfg.name, w->id, (long)w->pid,
		    w->generation);
		w->state = W_BUSY;
		dispatch_worker_free(w);
		break;
	case COMMIS_MSG_STARTED:
		dispatch_started(w, f);
		return;
	case COMMIS_MSG_DONE:
		dispatch_done(w, f);
		break;
	case COMMIS_MSG_REVOKED:
		dispatch_revoked(w, f);
		break;
	default:
		pool_worker_kill(w, SIGKILL, "protocol error: unknown message");
		return;
	}
	dispatch(p);
	pool_maintain(p);
	pool_drain(p);
}

void
dispatch_cancel(struct job *job)
{
	struct worker	*w = job->worker;

	if (w == NULL)
		return;
	if (job->state == JOB_SENT) {
		dispatch_revoke(w, job);
		return;
	}
	if (job->grace || w->state == W_STOPPING)
		return;
	dispatch_send(w, COMMIS_MSG_CANCEL, job->id, NULL, 0, NULL, 0);
	job->grace = 1;
	job_timer_set(job, w->pool->cfg.kill_grace_ms);
}

void
dispatch_job_timer(struct job *job)
{
	struct worker	*w = job->worker;
	char		 cause[64];

	if (w == NULL || w->state == W_STOPPING)
		return;
	snprintf(cause, sizeof cause, job->timedout || !job->cancel ?
	    "timeout after %u ms" : "cancelled", job->timeout_ms);
	if (job->grace) {
		/* Hard: the whole process goes, for this job. */
		w->culprit = job->id;
		pool_worker_kill(w, SIGKILL, cause);
		return;
	}
	/* Soft first: the handler may stop cleanly and keep its worker. */
	job->timedout = 1;
	log_worker(LOG_LVL_WARN, w->pool->cfg.name, w->id, (long)w->pid,
	    "job=%llu %s; asking it to stop", (unsigned long long)job->id,
	    cause);
	dispatch_send(w, COMMIS_MSG_CANCEL, job->id, NULL, 0, NULL, 0);
	job->grace = 1;
	job_timer_set(job, w->pool->cfg.kill_grace_ms);
}

/*
 * Which running job killed the worker: the one we killed it for, the one
 * a thread host's crash note names, the only one a process worker runs;
 * 0 when a thread host died without saying (every job is then charged).
 */
static uint64_t
dispatch_culprit(struct worker *w)
{
	uint64_t	note;

	if (w->culprit != 0)
		return w->culprit;
	if (w->crash_note != NULL &&
	    (note = __atomic_load_n(w->crash_note, __ATOMIC_SEQ_CST)) != 0)
		return note;
	if (w->nrun == 1)
		return TAILQ_FIRST(&w->running)->id;
	return 0;
}

void
dispatch_worker_lost(struct worker *w, const char *how)
{
	struct pool	*p = w->pool;
	struct job	*job;
	uint64_t	 culprit = dispatch_culprit(w);
	char		 cause[COMMIS_TEXT_MAX];
	int		 blast = 0;

	while ((job = TAILQ_FIRST(&w->running)) != NULL) {
		TAILQ_REMOVE(&w->running, job, wentry);
		w->nrun--;
		p->nrunning--;
		job_timer_stop(job);
		if (culprit != 0 && job->id != culprit && !w->exiting) {
			/* Another thread's crash: back without a charge. */
			job->attempts--;
			p->st.blast_requeued++;
			blast = 1;
			dispatch_requeue(p, job, "its host died");
			continue;
		}
		if (job->timedout)
			snprintf(cause, sizeof cause, "timeout after %u ms",
			    job->timeout_ms);
		else if (w->cause[0] != '\0' && !w->exiting)
			snprintf(cause, sizeof cause, "worker killed: %s (%s)",
			    w->cause, how);
		else
			snprintf(cause, sizeof cause, "worker died: %s", how);
		dispatch_retry(p, job, job->timedout ? COMMIS_ST_TIMEDOUT :
		    COMMIS_ST_CRASHED, cause);
	}
	if (blast || (w->capacity > 1 && culprit != 0 && !w->exiting))
		p->st.blast_events++;
	/* Jobs sent ahead and never started cost no attempt. */
	while ((job = TAILQ_FIRST(&w->sent)) != NULL) {
		TAILQ_REMOVE(&w->sent, job, wentry);
		w->nsent--;
		p->st.rebalanced++;
		dispatch_requeue(p, job, "its worker died");
	}
}

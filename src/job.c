/*
 * Jobs from acceptance to their one terminal state. This module owns the
 * job table, the delay and deadline timers, the waiters (the submitter and
 * any WAIT), the results kept after a job ends, and the dead-letter list.
 * Where a job runs is the pools' business (pool.c, dispatch.c); how
 * replies reach a client is control.c's: jobs know clients only by
 * connection id.
 *
 * A finished job stays in the table while it is kept (result_ttl_ms,
 * result_max_bytes, oldest dropped first) or dead-lettered (dead_max,
 * oldest dropped first); a job that is neither is freed at once.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "commis/client.h"
#include "control.h"
#include "dispatch.h"
#include "durable.h"
#include "idem.h"
#include "hist.h"
#include "idmap.h"
#include "job.h"
#include "log.h"
#include "pool.h"
#include "stats.h"
#include "sup.h"

#define JOB_SWEEP_MS	1000	/* how often kept results are aged out */
#define JOB_SPARE_MAX	1024	/* timers kept for reuse */
#define JOB_TRIM_PEAK	65536	/* jobs held before a trim is worth it */
/* What a kept result costs besides its bytes: its job and job_end, and
 * the table's share, so that result_max_bytes bounds their number too. */
#define JOB_KEPT_COST	(sizeof(struct job) + sizeof(struct job_end) + 96)

struct job_table {
	struct supervisor	*sup;
	struct idmap		 ids;
	uint64_t		 next_id;
	size_t			 active;
	struct job_list		 kept;
	size_t			 nkept;
	size_t			 kept_bytes;
	struct job_list		 dead;
	size_t			 ndead;
	size_t			 nsegs;		/* fds held */
	struct event		*sweep;
	struct event		*spare[JOB_SPARE_MAX];	/* unused timers */
	size_t			 nspare;
	size_t			 peak;		/* jobs held, since the last
						   trim */
};

static const char *const job_state_names[] = {
	[JOB_DELAYED] = "delayed",
	[JOB_QUEUED] = "queued",
	[JOB_SENT] = "sent",
	[JOB_RUNNING] = "running",
	[JOB_DONE] = "done",
};

static void	job_sweep(evutil_socket_t, short, void *);
static void	job_timer_cb(evutil_socket_t, short, void *);
static void	job_evict(struct job_table *);
static int	job_keep(struct job_table *, struct job *, const void *,
		    size_t, int);

/* What a kept result counts against result_max_bytes. */
static size_t
job_kept_cost(size_t outlen, const char *cause)
{
	return outlen + strlen(cause) + JOB_KEPT_COST;
}

const char *
job_status_name(int st)
{
	return commis_status_name(st);	/* the client library's names */
}

const char *
job_state_name(enum job_state st)
{
	return job_state_names[st];
}

struct job_table *
job_table_new(struct supervisor *sup)
{
	struct job_table	*t;
	struct timeval		 tv = tv_ms(JOB_SWEEP_MS);

	if ((t = calloc(1, sizeof *t)) == NULL)
		return NULL;
	t->sup = sup;
	idmap_init(&t->ids);
	TAILQ_INIT(&t->kept);
	TAILQ_INIT(&t->dead);
	if ((t->sweep = event_new(sup->base, -1, EV_PERSIST, job_sweep, t)) ==
	    NULL || event_add(t->sweep, &tv) == -1) {
		job_table_free(t);
		return NULL;
	}
	return t;
}

/* The input segment is closed once the job has ended (or is freed). */
static void
job_close_seg(struct job_table *t, struct job *job)
{
	if (job->seg_fd == -1)
		return;
	close(job->seg_fd);
	job->seg_fd = -1;
	t->nsegs--;
	if (job->seg_conn != 0)
		control_seg_done(t->sup->control, job->seg_conn);
}

void
job_set_segment(struct job_table *t, struct job *job, int fd,
    uint64_t conn_id)
{
	job->seg_fd = fd;
	job->seg_conn = conn_id;
	job->had_seg = 1;
	t->nsegs++;
}

size_t
job_seg_count(const struct job_table *t)
{
	return t->nsegs;
}

/* The input, unless it lives in the job's own allocation. */
static void
job_drop_data(struct job *job)
{
	if (job->data != NULL && job->data != (uint8_t *)job->handler +
	    job->pool_off + strlen(JOB_POOL_NAME(job)) + 1)
		free(job->data);
	job->data = NULL;
}

static void
job_timer_release(struct job_table *t, struct job *job)
{
	if (job->timer == NULL)
		return;
	evtimer_del(job->timer);
	if (t->nspare < JOB_SPARE_MAX)
		t->spare[t->nspare++] = job->timer;
	else
		event_free(job->timer);
	job->timer = NULL;
}

void
job_timer_set(struct job *job, uint64_t ms)
{
	struct job_table	*t = job->pool->sup->jobs;
	struct timeval		 tv = tv_ms(ms);

	if (job->timer == NULL) {
		if (t->nspare > 0) {
			job->timer = t->spare[--t->nspare];
			event_assign(job->timer, t->sup->base, -1, 0,
			    job_timer_cb, job);
		} else if ((job->timer = evtimer_new(t->sup->base,
		    job_timer_cb, job)) == NULL)
			fatal("evtimer_new");
	}
	evtimer_add(job->timer, &tv);
}

void
job_timer_stop(struct job *job)
{
	if (job->timer != NULL)
		job_timer_release(job->pool->sup->jobs, job);
}

static void
job_free(struct job_table *t, struct job *job)
{
	struct waiter	*w;

	while ((w = LIST_FIRST(&job->waiters)) != NULL) {
		LIST_REMOVE(w, job_entry);
		LIST_REMOVE(w, conn_entry);
		if (w->timer != NULL)
			event_free(w->timer);
		free(w);
	}
	job_unsub(job);
	idmap_del(&t->ids, job->id);
	job_timer_release(t, job);
	job_close_seg(t, job);
	if (job->end != NULL) {
		if (job->end->out_fd != -1) {
			close(job->end->out_fd);
			t->nsegs--;
		}
		free(job->end->out);
		free(job->end);
	}
	job_drop_data(job);
	free(job);
}

void
job_table_free(struct job_table *t)
{
	struct job	*job;
	size_t		 pos = 0;

	if (t == NULL)
		return;
	while ((job = idmap_next(&t->ids, &pos)) != NULL) {
		/* job_free() deletes it: a later member of its run may
		 * move into the hole, so look at that slot again. Starting
		 * over instead made a stop with many results quadratic. */
		job_free(t, job);
		pos--;
	}
	while (t->nspare > 0)
		event_free(t->spare[--t->nspare]);
	idmap_free(&t->ids);
	if (t->sweep != NULL)
		event_free(t->sweep);
	free(t);
}

struct job *
job_find(struct job_table *t, uint64_t id)
{
	return idmap_get(&t->ids, id);
}

size_t
job_active(const struct job_table *t)
{
	return t->active;
}

size_t
job_kept_count(const struct job_table *t)
{
	return t->nkept;
}

size_t
job_kept_bytes(const struct job_table *t)
{
	return t->kept_bytes;
}

size_t
job_dead_count(const struct job_table *t)
{
	return t->ndead;
}

/* A job with id (0: the next one), submitted at submit_ns (0: now). */
static struct job *
job_make(struct job_table *t, struct pool *p, uint64_t id, const char *handler,
    int32_t priority, uint32_t timeout_ms, uint32_t flags, uint32_t delay_ms,
    uint32_t deadline_ms, const void *data, size_t len, uint64_t submit_ns)
{
	struct job	*job;
	uint64_t	 now = sup_now_ns();
	size_t		 hl = strlen(handler) + 1, pl = strlen(p->cfg.name) + 1;
	size_t		 inl = len <= JOB_INLINE_MAX ? len : 0;

	if (hl > COMMIS_NAME_MAX || pl > COMMIS_NAME_MAX || len > UINT32_MAX)
		return NULL;
	if ((job = calloc(1, offsetof(struct job, handler) + hl + pl +
	    inl)) == NULL)
		return NULL;
	memcpy(job->handler, handler, hl);
	memcpy(job->handler + hl, p->cfg.name, pl);
	job->pool_off = (uint8_t)hl;
	if (inl > 0)
		job->data = (uint8_t *)job->handler + hl + pl;
	else if (len > 0 && (job->data = malloc(len)) == NULL) {
		free(job);
		return NULL;
	}
	if (len > 0)
		memcpy(job->data, data, len);
	job->len = (uint32_t)len;
	job->seg_fd = -1;
	if (id != 0 && idmap_get(&t->ids, id) != NULL) {
		job_drop_data(job);
		free(job);
		return NULL;
	}
	job->id = id != 0 ? id : ++t->next_id;
	if (job->id > t->next_id)
		t->next_id = job->id;
	job->pool = p;
	job->qi.priority = priority;
	job->qi.idx = QUEUE_NONE;
	job->timeout_ms = timeout_ms ? timeout_ms : p->cfg.timeout_ms;
	job->flags = (uint16_t)flags;
	job->submit_ns = submit_ns != 0 ? submit_ns : now;
	if (deadline_ms == 0)
		deadline_ms = p->cfg.queue_timeout_ms;
	job->deadline_ms = deadline_ms;
	/* A delayed job is parked until job_start() arms its timer; until
	 * it is queued, start_ns says when that is. */
	job->state = delay_ms > 0 ? JOB_DELAYED : JOB_QUEUED;
	if (delay_ms > 0)
		job->start_ns = now + (uint64_t)delay_ms * 1000000u;
	LIST_INIT(&job->waiters);
	if (idmap_put(&t->ids, job->id, job) == -1) {
		job_drop_data(job);
		free(job);
		return NULL;
	}
	t->active++;
	if (idmap_len(&t->ids) > t->peak)
		t->peak = idmap_len(&t->ids);
	return job;
}

struct job *
job_new(struct job_table *t, struct pool *p, const char *handler,
    int32_t priority, uint32_t timeout_ms, uint32_t flags, uint32_t delay_ms,
    uint32_t deadline_ms, const void *data, size_t len)
{
	return job_make(t, p, 0, handler, priority, timeout_ms, flags,
	    delay_ms, deadline_ms, data, len, 0);
}

struct job *
job_recover(struct job_table *t, struct pool *p, uint64_t id,
    const char *handler, int32_t priority, uint32_t timeout_ms,
    uint32_t flags, uint32_t delay_ms, uint32_t deadline_ms, const void *data,
    size_t len, uint64_t submit_ns)
{
	/* A deadline of 0 would take the pool's: the job had none. */
	struct job	*job = job_make(t, p, id, handler, priority,
			    timeout_ms, flags, delay_ms, deadline_ms, data, len,
			    submit_ns);

	if (job != NULL)
		job->deadline_ms = deadline_ms;
	return job;
}

void
job_table_advance(struct job_table *t, uint64_t id)
{
	if (id > t->next_id)
		t->next_id = id;
}

int
job_restore_done(struct job_table *t, struct pool *p, uint64_t id,
    const char *handler, int status, unsigned attempts, const char *cause,
    const void *out, size_t outlen, uint64_t done_ns, uint64_t queue_us,
    uint64_t run_us, uint64_t cpu_us, uint64_t maxrss_kb)
{
	struct job	*job;
	size_t		 clen = strlen(cause);

	if ((job = job_make(t, p, id, handler, 0, 0, 0, 0, 0, NULL, 0,
	    1)) == NULL)
		return -1;
	t->active--;
	if ((job->end = calloc(1, sizeof *job->end + clen + 1)) == NULL) {
		job_free(t, job);
		return -1;
	}
	memcpy(job->end->cause, cause, clen + 1);
	job->end->out_fd = -1;
	job->end->done_ns = done_ns;
	job->start_ns = done_ns > run_us * 1000 ? done_ns - run_us * 1000 : 1;
	job->submit_ns = job->start_ns > queue_us * 1000 ?
	    job->start_ns - queue_us * 1000 : 1;
	job->state = JOB_DONE;
	job->status = (uint8_t)status;
	job->attempts = (uint16_t)attempts;
	job->cpu_us = cpu_us;
	job->maxrss_kb = (uint32_t)maxrss_kb;
	job->pool = NULL;
	if (job_keep(t, job, out, outlen, -1) == -1) {
		job_free(t, job);
		return -1;
	}
	job_evict(t);
	return 0;
}

void
job_foreach_kept(struct job_table *t, void (*fn)(struct job *, void *),
    void *arg)
{
	struct job	*job;

	TAILQ_FOREACH(job, &t->kept, end->kept_entry)
		fn(job, arg);
}

/* Arms the job's one timer for what it waits for next, if anything. */
static void
job_arm(struct job *job)
{
	uint64_t	now, due;

	if (job->state == JOB_DELAYED)
		due = job->start_ns;
	else if (job->state == JOB_QUEUED && job->deadline_ms != 0)
		due = job->submit_ns + (uint64_t)job->deadline_ms * 1000000u;
	else {
		job_timer_stop(job);
		return;
	}
	now = sup_now_ns();
	job_timer_set(job, due > now ? (due - now + 999999) / 1000000 : 0);
}

int
job_start(struct job_table *t, struct job *job)
{
	struct pool	*p = job->pool;
	int		 rc;

	if (job->state == JOB_DELAYED) {
		/* Delayed jobs count against queue_max too. */
		if (pool_queued(p) >= p->cfg.queue_max)
			return -1;
		p->ndelayed++;
		TAILQ_INSERT_TAIL(&p->delayed, job, wentry);
		job_arm(job);
		return 0;
	}
	if ((rc = pool_enqueue(p, job, 0)) != 0)
		return rc;
	/* Dispatch may have sent it already; the deadline then stops. */
	job_arm(job);
	return 0;
}

void
job_discard(struct job_table *t, struct job *job)
{
	if (job->pending)
		durable_unpend(job->pool, job);
	t->active--;
	if (job->counted)
		control_uid_job_done(t->sup->control, job->owner);
	job_free(t, job);
}

static void
job_timer_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct job		*job = arg;
	struct job_table	*t = job->pool->sup->jobs;
	struct pool		*p = job->pool;
	char			 cause[96];

	if (job->state == JOB_DELAYED) {
		p->ndelayed--;
		TAILQ_REMOVE(&p->delayed, job, wentry);
		job->state = JOB_QUEUED;
		job->start_ns = 0;
		if (pool_enqueue(p, job, 0) != 0) {
			job_finish(t, job, COMMIS_ST_FAILED,
			    "pool cannot take jobs", NULL, 0);
			return;
		}
		if (job->state == JOB_QUEUED)
			job_arm(job);
		return;
	}
	if (job->state == JOB_RUNNING) {
		dispatch_job_timer(job);
		return;
	}
	if (job->state == JOB_QUEUED) {
		pool_unqueue(p, job);
		snprintf(cause, sizeof cause, "not started within %llu ms",
		    (unsigned long long)job->deadline_ms);
		job_finish(t, job, COMMIS_ST_EXPIRED, cause, NULL, 0);
	}
}

static void
job_waiter_free(struct waiter *w)
{
	LIST_REMOVE(w, job_entry);
	LIST_REMOVE(w, conn_entry);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

static void
job_waiter_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct waiter	*w = arg;
	char		 msg[96];

	snprintf(msg, sizeof msg, "job %llu still %s",
	    (unsigned long long)w->job->id, job_state_name(w->job->state));
	control_error_to(w->sup->control, w->conn_id, w->req_id,
	    COMMIS_E_TIMEOUT, msg);
	job_waiter_free(w);
}

int
job_wait(struct job_table *t, struct job *job, uint64_t conn_id,
    uint64_t req_id, int submitter, uint32_t timeout_ms,
    struct conn_waits *cw)
{
	struct waiter	*w;
	struct timeval	 tv;

	if (job->state == JOB_DONE) {
		control_result_to(t->sup->control, conn_id, req_id, job,
		    job->end->out, job->end->outlen, job->end->out_fd);
		return 0;
	}
	/* The submitter waits in the job itself: no allocation. */
	if (submitter && timeout_ms == 0 && job->sub_conn == 0) {
		job->sub_conn = conn_id;
		job->sub_req = req_id;
		LIST_INSERT_HEAD(&cw->subs, job, sub_entry);
		return 0;
	}
	if ((w = calloc(1, sizeof *w)) == NULL)
		return -1;
	w->sup = t->sup;
	w->job = job;
	w->conn_id = conn_id;
	w->req_id = req_id;
	if (timeout_ms > 0) {
		if ((w->timer = evtimer_new(t->sup->base, job_waiter_timeout,
		    w)) == NULL) {
			free(w);
			return -1;
		}
		tv = tv_ms(timeout_ms);
		evtimer_add(w->timer, &tv);
	}
	LIST_INSERT_HEAD(&job->waiters, w, job_entry);
	LIST_INSERT_HEAD(&cw->waiters, w, conn_entry);
	return 0;
}

void
job_unsub(struct job *job)
{
	if (job->sub_conn == 0)
		return;
	LIST_REMOVE(job, sub_entry);
	job->sub_conn = 0;
}

void
job_conn_gone(struct job_table *t, struct conn_waits *cw)
{
	struct waiter	*w;
	struct job	*job;

	while ((w = LIST_FIRST(&cw->waiters)) != NULL)
		job_waiter_free(w);
	while ((job = LIST_FIRST(&cw->subs)) != NULL) {
		job_unsub(job);
		/* Nobody is left to take the result of a job not yet begun. */
		if (!(job->flags & COMMIS_SUBMIT_NOWAIT) &&
		    LIST_EMPTY(&job->waiters) &&
		    (job->state == JOB_QUEUED || job->state == JOB_DELAYED))
			job_cancel(t, job, "client disconnected", NULL);
	}
}

int
job_cancel(struct job_table *t, struct job *job, const char *cause,
    const char **why)
{
	/* Accepted by a durable pool, its commit not yet done: it ends
	 * like a queued job (its DONE follows its ACCEPT). */
	if (job->pending) {
		durable_unpend(job->pool, job);
		job->start_ns = 0;
		job_finish(t, job, COMMIS_ST_CANCELLED, cause, NULL, 0);
		return 0;
	}
	switch (job->state) {
	case JOB_DONE:
		if (why != NULL)
			*why = "the job has already ended";
		return -1;
	case JOB_DELAYED:
		job->pool->ndelayed--;
		TAILQ_REMOVE(&job->pool->delayed, job, wentry);
		job->start_ns = 0;	/* it never started */
		job_finish(t, job, COMMIS_ST_CANCELLED, cause, NULL, 0);
		return 0;
	case JOB_QUEUED:
		pool_unqueue(job->pool, job);
		job_finish(t, job, COMMIS_ST_CANCELLED, cause, NULL, 0);
		return 0;
	case JOB_SENT:
	case JOB_RUNNING:
		/* Soft, then hard: it ends when its worker lets go of it. */
		job->cancel = 1;
		dispatch_cancel(job);
		return 0;
	}
	return 0;
}

static void
job_unkeep(struct job_table *t, struct job *job)
{
	struct job_end	*e = job->end;

	TAILQ_REMOVE(&t->kept, job, end->kept_entry);
	job->kept = 0;
	t->nkept--;
	t->kept_bytes -= job_kept_cost(e->outlen, e->cause);
	free(e->out);
	e->out = NULL;
	e->outlen = 0;
	if (e->out_fd != -1) {
		close(e->out_fd);
		e->out_fd = -1;
		t->nsegs--;
	}
	if (!job->dead)
		job_free(t, job);
}

static void
job_undead(struct job_table *t, struct job *job)
{
	TAILQ_REMOVE(&t->dead, job, end->dead_entry);
	job->dead = 0;
	t->ndead--;
	job_drop_data(job);
	if (!job->kept)
		job_free(t, job);
}

/* Drops the oldest kept results beyond result_ttl_ms and result_max_bytes. */
static void
job_evict(struct job_table *t)
{
	const struct config	*cfg = t->sup->cfg;
	uint64_t		 now = 0;
	uint64_t		 ttl = (uint64_t)cfg->result_ttl_ms * 1000000u;
	struct job		*job;

	if (!TAILQ_EMPTY(&t->kept))
		now = sup_now_ns();
	while ((job = TAILQ_FIRST(&t->kept)) != NULL &&
	    (now - job->end->done_ns >= ttl || t->kept_bytes > cfg->result_max_bytes))
		job_unkeep(t, job);
	while (t->ndead > cfg->dead_max)
		job_undead(t, TAILQ_FIRST(&t->dead));
}

/*
 * Once a burst of jobs is over (a quarter or less of a peak of at least
 * JOB_TRIM_PEAK held), the heap's free pages go back to the system: a
 * million queued jobs would otherwise stay in commisd's RSS for good.
 */
static void
job_sweep(evutil_socket_t fd, short ev, void *arg)
{
	struct job_table	*t = arg;
	size_t			 held;

	job_evict(t);
	idem_expire(t->sup->idem, durable_wall_ns(),
	    t->sup->cfg->idempotency_ttl_ms, t->sup->cfg->idempotency_max);
	held = idmap_len(&t->ids);
	if (t->peak >= JOB_TRIM_PEAK && held <= t->peak / 4) {
		malloc_trim(0);
		t->peak = held;
	}
}

static void
job_count(struct job *job, enum commis_status st)
{
	struct pool_stats	*ps = &job->pool->st;

	switch (st) {
	case COMMIS_ST_SUCCEEDED:
		ps->succeeded++;
		break;
	case COMMIS_ST_FAILED:
		ps->failed++;
		break;
	case COMMIS_ST_TIMEDOUT:
		ps->timedout++;
		break;
	case COMMIS_ST_CRASHED:
		ps->crashed++;
		break;
	case COMMIS_ST_CANCELLED:
		ps->cancelled++;
		break;
	case COMMIS_ST_EXPIRED:
		ps->expired++;
		break;
	}
	if (st == COMMIS_ST_TIMEDOUT || st == COMMIS_ST_CRASHED)
		ps->dead++;
	if (st != COMMIS_ST_SUCCEEDED)
		log_job(LOG_LVL_INFO, JOB_POOL_NAME(job),
		    (unsigned long long)job->id, "%s after %u attempt(s): %s",
		    job_status_name(st), job->attempts, job->end->cause);
}

/* Latency histograms, the slow-job log line, and the finished event. */
static void
job_latency(struct job_table *t, struct job *job)
{
	struct pool	*p = job->pool;
	uint64_t	 done = job->end->done_ns, q, run = 0;
	uint64_t	 e2e = (done - job->submit_ns) / 1000;

	if (p->cfg.latency_stats)
		histw_add(p->h_e2e, e2e, done);
	if (job->start_ns != 0) {
		q = (job->start_ns - job->submit_ns) / 1000;
		run = (done - job->start_ns) / 1000;
		if (p->cfg.latency_stats) {
			histw_add(p->h_queue, q, done);
			histw_add(p->h_run, run, done);
		}
		if (p->cfg.slow_job_ms > 0 && run / 1000 >= p->cfg.slow_job_ms)
			log_job(LOG_LVL_WARN, p->cfg.name,
			    (unsigned long long)job->id, "slow: handler %s pid "
			    "%ld queued %llu ms ran %llu ms (cpu %llu ms)",
			    job->handler, (long)job->last_pid,
			    (unsigned long long)(q / 1000),
			    (unsigned long long)(run / 1000),
			    (unsigned long long)(job->cpu_us / 1000));
	}
	control_event(t->sup->control, "{\"type\":\"finished\",\"job\":%llu,"
	    "\"pool\":\"%s\",\"handler\":\"%s\",\"status\":\"%s\","
	    "\"attempts\":%u,\"e2e_us\":%llu,\"run_us\":%llu}",
	    (unsigned long long)job->id, p->cfg.name, job->handler,
	    job_status_name(job->status), job->attempts,
	    (unsigned long long)e2e, (unsigned long long)run);
}

void
job_finish(struct job_table *t, struct job *job, enum commis_status st,
    const char *cause, const void *out, size_t outlen)
{
	job_finish_fd(t, job, st, cause, out, outlen, -1);
}

/*
 * Whether the result is kept for STATUS/WAIT: result_ttl_ms and the byte
 * bound allow it, and the client that submitted the job and waited for
 * it does not have it (delivered 2: it was delivered), unless the job has
 * an idempotency key, whose retries get this result. A result segment is
 * kept only when nobody has had it yet (delivered 0).
 */
static int
job_keepable(struct job_table *t, struct job *job, size_t outlen, int out_fd,
    int delivered)
{
	const struct config	*cfg = t->sup->cfg;

	return cfg->result_ttl_ms > 0 && (delivered != 2 || job->keyed) &&
	    (out_fd == -1 || !delivered) &&
	    job_kept_cost(outlen, job->end->cause) <= cfg->result_max_bytes;
}

/* Keeps the result (job_keepable said so); 0, or -1 out of memory. */
static int
job_keep(struct job_table *t, struct job *job, const void *out,
    size_t outlen, int out_fd)
{
	struct job_end	*e = job->end;

	if (out_fd != -1)
		e->out_fd = out_fd;
	else if (outlen > 0) {
		if ((e->out = malloc(outlen)) == NULL)
			return -1;
		memcpy(e->out, out, outlen);
	}
	e->outlen = outlen;
	TAILQ_INSERT_TAIL(&t->kept, job, end->kept_entry);
	job->kept = 1;
	t->nkept++;
	t->kept_bytes += job_kept_cost(outlen, e->cause);
	return 0;
}

/*
 * The one way a job ends. Its job_end is built on the stack for the
 * deliveries, and copied to the heap only if the job stays in the table
 * (kept or dead-lettered): most results go straight to their submitter.
 */
void
job_finish_fd(struct job_table *t, struct job *job, enum commis_status st,
    const char *cause, const void *out, size_t outlen, int out_fd)
{
	const struct config	*cfg = t->sup->cfg;
	struct pool		*p = job->pool;
	_Alignas(struct job_end) uint8_t tmp[sizeof(struct job_end) +
				    COMMIS_TEXT_MAX];
	struct waiter		*w;
	struct job_end		*e;
	size_t			 clen;
	int			 delivered = 0, dead, keep;

	job_timer_release(t, job);
	job->state = JOB_DONE;
	job->status = st;
	if (cause == NULL)
		cause = "";
	clen = strlen(cause);
	if (clen < COMMIS_TEXT_MAX)
		e = (struct job_end *)tmp;
	else if ((e = malloc(sizeof *e + clen + 1)) == NULL)
		fatal("malloc");
	memset(e, 0, sizeof *e);
	memcpy(e->cause, cause, clen + 1);
	e->out_fd = -1;
	e->done_ns = sup_now_ns();
	job->end = e;
	job->worker = NULL;
	if (out_fd != -1)
		t->nsegs++;
	job_count(job, st);
	job_latency(t, job);
	job->pool = NULL;
	t->active--;
	if (job->counted) {
		control_uid_job_done(t->sup->control, job->owner);
		job->counted = 0;
	}
	if (job->sub_conn != 0) {
		control_result_to(t->sup->control, job->sub_conn, job->sub_req,
		    job, out, outlen, out_fd);
		job_unsub(job);
		delivered = 2;
	}
	while ((w = LIST_FIRST(&job->waiters)) != NULL) {
		control_result_to(t->sup->control, w->conn_id, w->req_id, job,
		    out, outlen, out_fd);
		if (delivered == 0)
			delivered = 1;
		job_waiter_free(w);
	}
	/* Poison jobs keep their inline input for `commis retry`; a
	 * segment input is closed now, as at every terminal state. */
	dead = (st == COMMIS_ST_TIMEDOUT || st == COMMIS_ST_CRASHED) &&
	    cfg->dead_max > 0;
	keep = job_keepable(t, job, outlen, out_fd, delivered);
	if ((dead || keep) && e == (struct job_end *)tmp) {
		if ((job->end = malloc(sizeof *e + clen + 1)) == NULL)
			fatal("malloc");
		memcpy(job->end, e, sizeof *e + clen + 1);
	}
	if (dead) {
		TAILQ_INSERT_TAIL(&t->dead, job, end->dead_entry);
		job->dead = 1;
		t->ndead++;
	} else
		job_drop_data(job);
	job_close_seg(t, job);
	if (keep && job_keep(t, job, out, outlen, out_fd) == -1)
		keep = 0;
	if (!keep && out_fd != -1) {
		close(out_fd);
		t->nsegs--;
	}
	if (p->dur != NULL)
		durable_finished(p, job, out_fd == -1 ? out : NULL,
		    out_fd == -1 ? outlen : 0);
	if (!job->kept && !job->dead) {
		if (job->end == (struct job_end *)tmp)
			job->end = NULL;
		job_free(t, job);
	}
	job_evict(t);
}

void
job_dead_render(struct job_table *t, struct evbuffer *eb, int json)
{
	struct job	*job;
	uint64_t	 now = sup_now_ns();
	int		 first = 1;

	if (!json)
		evbuffer_add_printf(eb, "%-8s %-16s %-16s %-9s %8s %8s %9s  %s",
		    "JOB", "POOL", "HANDLER", "STATUS", "ATTEMPTS", "LAST-PID",
		    "AGE-S", "CAUSE");
	else
		evbuffer_add_printf(eb, "[");
	TAILQ_FOREACH(job, &t->dead, end->dead_entry) {
		if (!json) {
			evbuffer_add_printf(eb, "\n%-8llu %-16s %-16s %-9s %8u "
			    "%8ld %9.1f  %s", (unsigned long long)job->id,
			    JOB_POOL_NAME(job), job->handler,
			    job_status_name(job->status), job->attempts,
			    (long)job->last_pid,
			    (double)(now - job->end->done_ns) / 1e9,
			    job->end->cause);
			continue;
		}
		evbuffer_add_printf(eb, "%s{\"id\":%llu,\"pool\":\"%s\","
		    "\"handler\":\"%s\",\"status\":\"%s\",\"attempts\":%u,"
		    "\"last_pid\":%ld,\"age_ms\":%llu,\"bytes\":%zu,\"cause\":",
		    first ? "" : ",", (unsigned long long)job->id,
		    JOB_POOL_NAME(job), job->handler,
		    job_status_name(job->status),
		    job->attempts, (long)job->last_pid,
		    (unsigned long long)((now - job->end->done_ns) / 1000000u),
		    (size_t)job->len);
		stats_json_str(eb, job->end->cause);
		evbuffer_add(eb, "}", 1);
		first = 0;
	}
	if (json)
		evbuffer_add_printf(eb, "]");
}

int
job_dead_retry(struct job_table *t, uint64_t id, uint64_t *new_id, char *why,
    size_t whylen)
{
	struct job	*old = job_find(t, id), *job;
	struct pool	*p;

	if (old == NULL || !old->dead) {
		snprintf(why, whylen, "job %llu is not in the dead-letter list",
		    (unsigned long long)id);
		return -1;
	}
	if (old->had_seg) {
		snprintf(why, whylen, "job %llu had a segment input, which is "
		    "closed once a job ends: submit it again",
		    (unsigned long long)id);
		return -1;
	}
	if ((p = sup_pool(t->sup, JOB_POOL_NAME(old))) == NULL) {
		snprintf(why, whylen, "pool '%s' is gone", JOB_POOL_NAME(old));
		return -1;
	}
	/* A new job: the old one keeps its one terminal state. */
	if ((job = job_new(t, p, old->handler, old->qi.priority,
	    old->timeout_ms, COMMIS_SUBMIT_NOWAIT, 0, 0, old->data,
	    old->len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	job->owner = old->owner;
	if (job_start(t, job) != 0) {
		job_discard(t, job);
		snprintf(why, whylen, "pool '%s' does not take jobs now",
		    p->cfg.name);
		return -1;
	}
	p->st.submitted++;
	log_job(LOG_LVL_INFO, p->cfg.name, (unsigned long long)id,
	    "dead job retried as job %llu", (unsigned long long)job->id);
	*new_id = job->id;
	job_undead(t, old);
	return 0;
}

size_t
job_dead_purge(struct job_table *t)
{
	size_t	n = t->ndead;

	while (!TAILQ_EMPTY(&t->dead))
		job_undead(t, TAILQ_FIRST(&t->dead));
	return n;
}

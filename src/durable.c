/*
 * Durable pools. Each has a journal (journal.c) in state_dir with four
 * kinds of record:
 *
 *	ACCEPT	u64 id, u64 submitted (wall ns), i32 priority,
 *		u32 timeout_ms, u32 flags, u32 delay_ms, u32 deadline_ms,
 *		u32 owner uid, str handler, str idempotency key, bytes input
 *	START	u64 id, u32 attempts
 *	DONE	u64 id, u64 ended (wall ns), u8 status, u32 attempts,
 *		u64 queue_us, u64 run_us, u64 cpu_us, u64 maxrss_kb,
 *		u8 kept, str cause, bytes output (when kept)
 *	KEY	u64 id, u64 made (wall ns), u32 uid, str key
 *
 * An accepted job waits, pending, until its ACCEPT is committed: with
 * `fsync: always` the commit is an fdatasync shared by every record of
 * the loop iteration (the commit event runs after the iteration's other
 * callbacks), and only then is the job queued and its client answered.
 * START and DONE ride along with whatever commit comes next: losing them
 * in a crash only means a job runs again (at least once).
 *
 * Recovery replays the journal into a table of jobs, then queues again
 * every job that had not ended (with its attempts: a job that was running
 * runs again), brings back kept results that result_ttl_ms still covers
 * and idempotency keys that idempotency_ttl_ms does, and rewrites the
 * journal with just that. The journal is rewritten the same way online
 * once it outgrows journal_compact and twice its last rewrite.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "commis/client.h"
#include "control.h"
#include "durable.h"
#include "idem.h"
#include "idmap.h"
#include "job.h"
#include "journal.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "sup.h"

enum {
	REC_ACCEPT = 1,
	REC_START = 2,
	REC_DONE = 3,
	REC_KEY = 4,
};

struct durable {
	struct pool		*pool;
	struct journal		*j;
	struct event		*commit_ev;	/* made active by a record */
	struct event		*sync_ev;	/* fsync: interval */
	int			 scheduled;	/* commit_ev is active */
	int			 dirty;		/* written, not synced */
	struct job_list		 pending;	/* by wentry */
	size_t			 npending;
	uint64_t		 last_size;	/* after the last rewrite */
	size_t			 last_live;	/* jobs live at that rewrite */
	/* Stats. */
	uint64_t		 commits, syncs, compactions, errors;
	uint64_t		 recovered, restored, cut;
};

uint64_t
durable_wall_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A monotonic time for a wall-clock one, as far as both clocks agree. */
static uint64_t
durable_mono(uint64_t wall)
{
	uint64_t	now = sup_now_ns(), wnow = durable_wall_ns();

	if (wall >= wnow)
		return now;
	return wnow - wall < now ? now - (wnow - wall) : 1;
}

static uint64_t
durable_to_wall(uint64_t mono)
{
	uint64_t	now = sup_now_ns(), wnow = durable_wall_ns();

	return mono >= now ? wnow : wnow - (now - mono);
}

static void	durable_commit_cb(evutil_socket_t, short, void *);

static void
durable_schedule(struct durable *d)
{
	if (!d->scheduled) {
		d->scheduled = 1;
		event_active(d->commit_ev, EV_WRITE, 0);
	}
}

/* Appends a record and sees that a commit follows; -1 out of memory. */
static int
durable_add(struct durable *d, uint8_t type, const struct mbuf *m)
{
	if (m->err || journal_add(d->j, type, m->data, m->len) == -1)
		return -1;
	durable_schedule(d);
	return 0;
}

static void
durable_enc_accept(struct mbuf *m, const struct job *job, uint64_t wall,
    uint32_t delay_ms, const char *key)
{
	mbuf_u64(m, job->id);
	mbuf_u64(m, wall);
	mbuf_i32(m, job->qi.priority);
	mbuf_u32(m, job->timeout_ms);
	mbuf_u32(m, job->flags);
	mbuf_u32(m, delay_ms);
	mbuf_u32(m, job->deadline_ms);
	mbuf_u32(m, (uint32_t)job->owner);
	mbuf_str(m, job->handler);
	mbuf_str(m, key != NULL ? key : "");
	mbuf_bytes(m, job->data, job->len);
}

static void
durable_enc_start(struct mbuf *m, const struct job *job)
{
	mbuf_u64(m, job->id);
	mbuf_u32(m, job->attempts);
}

int
durable_accept(struct pool *p, struct job *job, const char *key)
{
	struct durable	*d = p->dur;
	struct mbuf	 m;
	uint32_t	 delay = 0;
	int		 rc;

	if (job->state == JOB_DELAYED)
		delay = (uint32_t)((job->start_ns - job->submit_ns) /
		    1000000u);
	mbuf_init(&m);
	durable_enc_accept(&m, job, durable_to_wall(job->submit_ns), delay,
	    key);
	rc = durable_add(d, REC_ACCEPT, &m);
	mbuf_free(&m);
	if (rc == -1)
		return -1;
	job->pending = 1;
	TAILQ_INSERT_TAIL(&d->pending, job, wentry);
	d->npending++;
	return 0;
}

void
durable_unpend(struct pool *p, struct job *job)
{
	struct durable	*d = p->dur;

	if (!job->pending || d == NULL)
		return;
	TAILQ_REMOVE(&d->pending, job, wentry);
	d->npending--;
	job->pending = 0;
}

size_t
durable_npending(const struct pool *p)
{
	return p->dur != NULL ? p->dur->npending : 0;
}

void
durable_started(struct pool *p, struct job *job)
{
	struct mbuf	m;

	mbuf_init(&m);
	durable_enc_start(&m, job);
	if (durable_add(p->dur, REC_START, &m) == -1)
		log_job(LOG_LVL_WARN, p->cfg.name, (unsigned long long)job->id,
		    "journal: no memory for its START record");
	mbuf_free(&m);
}

static void
durable_enc_done(struct mbuf *m, const struct job *job, const void *out,
    size_t outlen, int kept)
{
	const struct job_end	*e = job->end;
	uint64_t		 q = 0, run = 0;

	if (job->start_ns != 0) {
		q = (job->start_ns - job->submit_ns) / 1000;
		run = (e->done_ns - job->start_ns) / 1000;
	}
	mbuf_u64(m, job->id);
	mbuf_u64(m, durable_to_wall(e->done_ns));
	mbuf_u8(m, job->status);
	mbuf_u32(m, job->attempts);
	mbuf_u64(m, q);
	mbuf_u64(m, run);
	mbuf_u64(m, job->cpu_us);
	mbuf_u64(m, job->maxrss_kb);
	mbuf_u8(m, kept ? 1 : 0);
	mbuf_str(m, e->cause);
	mbuf_bytes(m, out, kept ? outlen : 0);
}

void
durable_finished(struct pool *p, struct job *job, const void *out,
    size_t outlen)
{
	struct mbuf	m;

	mbuf_init(&m);
	durable_enc_done(&m, job, out, outlen, job->kept);
	if (durable_add(p->dur, REC_DONE, &m) == -1)
		log_job(LOG_LVL_WARN, p->cfg.name, (unsigned long long)job->id,
		    "journal: no memory for its DONE record");
	mbuf_free(&m);
}

/* ---- compaction ---- */

/* Jobs of the pool not ended: what a rewrite keeps. */
static size_t
durable_live(const struct durable *d)
{
	const struct pool	*p = d->pool;
	const struct worker	*w;
	size_t			 n = queue_len(&p->queue) + p->ndelayed +
				    d->npending;

	TAILQ_FOREACH(w, &p->workers, entry)
		n += w->nsent + w->nrun;
	return n;
}

struct durable_rw {
	struct durable	*d;
	struct journal	*nj;
	uint64_t	 wall_now, now;
	int		 err;
};

static void
durable_rw_add(struct durable_rw *rw, uint8_t type, struct mbuf *m)
{
	if (m->err || journal_add(rw->nj, type, m->data, m->len) == -1)
		rw->err = 1;
	mbuf_reset(m);
}

static void
durable_rw_job(struct durable_rw *rw, struct job *job, struct mbuf *m)
{
	uint32_t	delay = 0;

	if (job->state == JOB_DELAYED)
		delay = (uint32_t)((job->start_ns - job->submit_ns) /
		    1000000u);
	durable_enc_accept(m, job, durable_to_wall(job->submit_ns), delay,
	    NULL);
	durable_rw_add(rw, REC_ACCEPT, m);
	if (job->attempts > 0) {
		durable_enc_start(m, job);
		durable_rw_add(rw, REC_START, m);
	}
}

static void
durable_rw_kept(struct job *job, void *arg)
{
	struct durable_rw	*rw = arg;
	struct mbuf		 m;

	if (strcmp(JOB_POOL_NAME(job), rw->d->pool->cfg.name) != 0 ||
	    job->end->out_fd != -1)
		return;
	mbuf_init(&m);
	durable_enc_done(&m, job, job->end->out, job->end->outlen, 1);
	durable_rw_add(rw, REC_DONE, &m);
	mbuf_free(&m);
}

static void
durable_rw_key(uid_t uid, const char *key, uint64_t id, uint64_t at,
    void *arg)
{
	struct durable_rw	*rw = arg;
	struct mbuf		 m;

	mbuf_init(&m);
	mbuf_u64(&m, id);
	mbuf_u64(&m, at);
	mbuf_u32(&m, (uint32_t)uid);
	mbuf_str(&m, key);
	durable_rw_add(rw, REC_KEY, &m);
	mbuf_free(&m);
}

/*
 * Rewrites the journal with what is live: every job of the pool that has
 * not ended, kept results of its jobs, its idempotency keys. Records
 * still pending in the old journal's buffer (after the snapshot) go to
 * the new file with the next commit.
 */
static int
durable_compact(struct durable *d)
{
	struct pool		*p = d->pool;
	struct durable_rw	 rw = { .d = d };
	struct worker		*w;
	struct job		*job;
	struct mbuf		 m;
	char			 err[256];
	size_t			 i;

	if ((rw.nj = journal_rewrite_begin(d->j, err, sizeof err)) == NULL) {
		log_pool(LOG_LVL_WARN, p->cfg.name, "journal rewrite: %s",
		    err);
		return -1;
	}
	mbuf_init(&m);
	TAILQ_FOREACH(job, &d->pending, wentry)
		durable_rw_job(&rw, job, &m);
	for (i = 0; i < queue_len(&p->queue); i++)
		durable_rw_job(&rw, (struct job *)p->queue.heap[i], &m);
	TAILQ_FOREACH(job, &p->delayed, wentry)
		durable_rw_job(&rw, job, &m);
	TAILQ_FOREACH(w, &p->workers, entry) {
		TAILQ_FOREACH(job, &w->sent, wentry)
			durable_rw_job(&rw, job, &m);
		TAILQ_FOREACH(job, &w->running, wentry)
			durable_rw_job(&rw, job, &m);
	}
	mbuf_free(&m);
	job_foreach_kept(p->sup->jobs, durable_rw_kept, &rw);
	idem_foreach(p->sup->idem, p->cfg.name, durable_rw_key, &rw);
	if (rw.err) {
		journal_rewrite_abort(rw.nj);
		log_pool(LOG_LVL_WARN, p->cfg.name, "journal rewrite: out of "
		    "memory");
		return -1;
	}
	if (journal_rewrite_end(d->j, rw.nj, err, sizeof err) == -1) {
		log_pool(LOG_LVL_WARN, p->cfg.name, "journal rewrite: %s",
		    err);
		return -1;
	}
	d->last_size = journal_size(d->j);
	d->last_live = durable_live(d);
	d->compactions++;
	log_pool(LOG_LVL_DEBUG, p->cfg.name, "journal rewritten: %llu bytes",
	    (unsigned long long)d->last_size);
	return 0;
}

/* ---- commit ---- */

/* Jobs whose ACCEPT could not be written were never accepted. */
static void
durable_refuse(struct durable *d, const char *why)
{
	struct pool	*p = d->pool;
	struct job	*job;
	char		 msg[192];

	snprintf(msg, sizeof msg, "journal write failed: %s; job not "
	    "accepted", why);
	while ((job = TAILQ_FIRST(&d->pending)) != NULL) {
		durable_unpend(p, job);
		if (job->sub_conn != 0)
			control_error_to(p->sup->control, job->sub_conn,
			    job->sub_req, COMMIS_E_JOURNAL, msg);
		p->st.submitted--;
		p->st.rejected++;
		idem_forget(p->sup->idem, job->id);
		job_discard(p->sup->jobs, job);
	}
}

static void
durable_commit_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct durable	*d = arg;
	struct pool	*p = d->pool;
	struct job	*job;
	struct timeval	 tv;
	int		 rc, sync = p->cfg.fsync == FSYNC_ALWAYS;

	d->scheduled = 0;
	if (journal_pending(d->j) == 0 && d->npending == 0)
		return;
	if (journal_commit(d->j, sync) == -1) {
		d->errors++;
		log_pool(LOG_LVL_ERROR, p->cfg.name, "journal %s: %s; %zu "
		    "accepted jobs refused, records of started or ended jobs "
		    "lost (they may run again after a restart)", "commit",
		    strerror(errno), d->npending);
		durable_refuse(d, strerror(errno));
		return;
	}
	d->commits++;
	if (sync)
		d->syncs++;
	else if (p->cfg.fsync == FSYNC_INTERVAL && !d->dirty) {
		d->dirty = 1;
		tv = tv_ms(p->cfg.fsync_interval_ms);
		evtimer_add(d->sync_ev, &tv);
	}
	while ((job = TAILQ_FIRST(&d->pending)) != NULL) {
		durable_unpend(p, job);
		if ((rc = job_start(p->sup->jobs, job)) != 0) {
			job_finish(p->sup->jobs, job, COMMIS_ST_FAILED,
			    rc == -2 ? "out of memory" : "pool cannot take "
			    "jobs", NULL, 0);
			continue;
		}
		/* --no-wait: now it may be acknowledged. */
		if ((job->flags & COMMIS_SUBMIT_NOWAIT) && job->sub_conn != 0) {
			control_accepted_to(p->sup->control, job->sub_conn,
			    job->sub_req, job->id);
			job_unsub(job);
		}
	}
	/* Past journal_compact, rewrite when the file has doubled since the
	 * last rewrite, or when most of what that rewrite kept has ended
	 * (a burst is over: its records are all dead). */
	if (journal_size(d->j) > p->sup->cfg->journal_compact &&
	    (journal_size(d->j) > 2 * d->last_size ||
	    durable_live(d) * 2 < d->last_live))
		durable_compact(d);
}

static void
durable_sync_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct durable	*d = arg;

	d->dirty = 0;
	if (journal_sync(d->j) == -1) {
		d->errors++;
		log_pool(LOG_LVL_ERROR, d->pool->cfg.name, "journal sync: %s",
		    strerror(errno));
	} else
		d->syncs++;
}

/* ---- recovery ---- */

struct rjob {
	uint64_t	 id;
	uint64_t	 wall;		/* submitted */
	int32_t		 prio;
	uint32_t	 timeout_ms, flags, delay_ms, deadline_ms, owner;
	uint32_t	 attempts;
	char		 handler[COMMIS_NAME_MAX];
	char		 key[IDEM_KEY_MAX + 1];
	uint8_t		*data;
	size_t		 len;
	int		 done, kept;
	uint8_t		 status;
	uint64_t	 done_wall, queue_us, run_us, cpu_us, maxrss_kb;
	char		*cause;
	uint8_t		*out;
	size_t		 outlen;
};

struct recovery {
	struct durable	*d;
	struct idmap	 jobs;		/* id -> struct rjob */
	uint64_t	 max_id;
	uint64_t	 nrec;
};

static struct rjob *
rjob_get(struct recovery *rc, uint64_t id, int make)
{
	struct rjob	*r = idmap_get(&rc->jobs, id);

	if (r != NULL || !make || id == 0)
		return r;
	if ((r = calloc(1, sizeof *r)) == NULL)
		return NULL;
	r->id = id;
	if (idmap_put(&rc->jobs, id, r) == -1) {
		free(r);
		return NULL;
	}
	if (id > rc->max_id)
		rc->max_id = id;
	return r;
}

static void
rjob_free(struct rjob *r)
{
	free(r->data);
	free(r->cause);
	free(r->out);
	free(r);
}

static int
durable_replay_rec(uint8_t type, const uint8_t *p, size_t n, void *arg)
{
	struct recovery	*rc = arg;
	struct mreader	 r;
	struct rjob	*j;
	const uint8_t	*b;
	char		 cause[COMMIS_TEXT_MAX], key[IDEM_KEY_MAX + 1];
	uint64_t	 id, at;
	uint32_t	 uid;
	size_t		 len;

	rc->nrec++;
	mr_init(&r, p, n);
	id = mr_u64(&r);
	switch (type) {
	case REC_ACCEPT:
		if ((j = rjob_get(rc, id, 1)) == NULL)
			return -1;
		j->wall = mr_u64(&r);
		j->prio = mr_i32(&r);
		j->timeout_ms = mr_u32(&r);
		j->flags = mr_u32(&r);
		j->delay_ms = mr_u32(&r);
		j->deadline_ms = mr_u32(&r);
		j->owner = mr_u32(&r);
		mr_str(&r, j->handler, sizeof j->handler);
		mr_str(&r, j->key, sizeof j->key);
		b = mr_bytes(&r, &len);
		if (mr_end(&r) == -1)
			return -1;
		free(j->data);
		j->data = NULL;
		if (len > 0 && (j->data = malloc(len)) == NULL)
			return -1;
		if (len > 0)
			memcpy(j->data, b, len);
		j->len = len;
		return 0;
	case REC_START:
		if ((j = rjob_get(rc, id, 1)) == NULL)
			return -1;
		j->attempts = mr_u32(&r);
		return mr_end(&r);
	case REC_DONE:
		if ((j = rjob_get(rc, id, 1)) == NULL)
			return -1;
		j->done = 1;
		j->done_wall = mr_u64(&r);
		j->status = mr_u8(&r);
		j->attempts = mr_u32(&r);
		j->queue_us = mr_u64(&r);
		j->run_us = mr_u64(&r);
		j->cpu_us = mr_u64(&r);
		j->maxrss_kb = mr_u64(&r);
		j->kept = mr_u8(&r);
		mr_str(&r, cause, sizeof cause);
		b = mr_bytes(&r, &len);
		if (mr_end(&r) == -1)
			return -1;
		free(j->cause);
		free(j->out);
		j->out = NULL;
		if ((j->cause = strdup(cause)) == NULL ||
		    (len > 0 && (j->out = malloc(len)) == NULL))
			return -1;
		if (len > 0)
			memcpy(j->out, b, len);
		j->outlen = len;
		/* Its input is no longer needed. */
		free(j->data);
		j->data = NULL;
		j->len = 0;
		return 0;
	case REC_KEY:
		at = mr_u64(&r);
		uid = mr_u32(&r);
		mr_str(&r, key, sizeof key);
		if (mr_end(&r) == -1)
			return -1;
		if (id > rc->max_id)
			rc->max_id = id;
		return idem_put(rc->d->pool->sup->idem, (uid_t)uid, key, id,
		    rc->d->pool->cfg.name, at) == -1 ? -1 : 0;
	default:
		return -1;
	}
}

static int
rjob_cmp(const void *a, const void *b)
{
	const struct rjob	*x = *(struct rjob *const *)a;
	const struct rjob	*y = *(struct rjob *const *)b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Brings one replayed job back: queued again, or a kept result. */
static void
durable_restore(struct durable *d, struct rjob *r, uint64_t wall_now)
{
	struct pool		*p = d->pool;
	const struct config	*cfg = p->sup->cfg;
	struct job		*job;
	uint64_t		 due, ttl = (uint64_t)cfg->result_ttl_ms *
				    1000000u;
	uint32_t		 delay = 0;

	if (r->key[0] != '\0' && cfg->idempotency_ttl_ms > 0 &&
	    idem_put(p->sup->idem, (uid_t)r->owner, r->key, r->id,
	    p->cfg.name, r->wall) == -1)
		log_pool(LOG_LVL_WARN, p->cfg.name, "recovery: no memory for "
		    "an idempotency key");
	if (r->done) {
		if (!r->kept || wall_now - r->done_wall >= ttl ||
		    r->done_wall > wall_now)
			return;
		if (job_restore_done(p->sup->jobs, p, r->id, r->handler,
		    r->status, r->attempts, r->cause, r->out, r->outlen,
		    durable_mono(r->done_wall), r->queue_us, r->run_us,
		    r->cpu_us, r->maxrss_kb) == 0)
			d->restored++;
		return;
	}
	if (r->handler[0] == '\0')	/* START without its ACCEPT */
		return;
	due = r->wall + (uint64_t)r->delay_ms * 1000000u;
	if (due > wall_now)
		delay = (uint32_t)((due - wall_now + 999999) / 1000000u);
	if ((job = job_recover(p->sup->jobs, p, r->id, r->handler, r->prio,
	    r->timeout_ms, r->flags, delay, r->deadline_ms, r->data,
	    r->len, durable_mono(r->wall))) == NULL) {
		log_job(LOG_LVL_ERROR, p->cfg.name, (unsigned long long)r->id,
		    "recovery: out of memory; job lost");
		return;
	}
	job->attempts = (uint16_t)(r->attempts > UINT16_MAX ? UINT16_MAX :
	    r->attempts);
	job->owner = (uid_t)r->owner;
	if (job_start(p->sup->jobs, job) != 0) {
		job_finish(p->sup->jobs, job, COMMIS_ST_FAILED, "not queued "
		    "again after a restart: the pool cannot take it", NULL, 0);
		return;
	}
	p->st.submitted++;
	d->recovered++;
}

static int
durable_recover(struct durable *d, const char *path, char **cause)
{
	struct pool	*p = d->pool;
	struct recovery	 rc = { .d = d };
	struct rjob	**v = NULL, *r;
	char		 err[512];
	size_t		 n = 0, i, pos = 0;
	uint64_t	 wall_now = durable_wall_ns();

	idmap_init(&rc.jobs);
	if ((d->j = journal_open(path, durable_replay_rec, &rc, &d->cut,
	    err, sizeof err)) == NULL) {
		if (asprintf(cause, "journal %s: %s", path, err) == -1)
			*cause = NULL;
		goto out;
	}
	if (d->cut > 0)
		log_pool(LOG_LVL_WARN, p->cfg.name, "journal %s: torn tail of "
		    "%llu bytes cut (a crash during a write)", path,
		    (unsigned long long)d->cut);
	if ((v = calloc(idmap_len(&rc.jobs) + 1, sizeof *v)) == NULL) {
		*cause = strdup("recovery: out of memory");
		goto out;
	}
	while ((r = idmap_next(&rc.jobs, &pos)) != NULL)
		v[n++] = r;
	qsort(v, n, sizeof *v, rjob_cmp);
	job_table_advance(p->sup->jobs, rc.max_id);
	for (i = 0; i < n; i++)
		durable_restore(d, v[i], wall_now);
	log_pool(LOG_LVL_INFO, p->cfg.name, "journal %s: %llu records, %llu "
	    "jobs queued again, %llu results kept", path,
	    (unsigned long long)rc.nrec, (unsigned long long)d->recovered,
	    (unsigned long long)d->restored);
out:
	pos = 0;
	while ((r = idmap_next(&rc.jobs, &pos)) != NULL)
		rjob_free(r);
	idmap_free(&rc.jobs);
	free(v);
	return d->j == NULL || v == NULL ? -1 : 0;
}

int
durable_open(struct pool *p, char **cause)
{
	const struct config	*cfg = p->sup->cfg;
	struct durable		*d;
	char			 path[512];

	if ((d = calloc(1, sizeof *d)) == NULL) {
		*cause = strdup("out of memory");
		return -1;
	}
	d->pool = p;
	TAILQ_INIT(&d->pending);
	p->dur = d;
	if (mkdir(cfg->state_dir, 0700) == -1 && errno != EEXIST) {
		if (asprintf(cause, "state_dir %s: %s", cfg->state_dir,
		    strerror(errno)) == -1)
			*cause = NULL;
		goto fail;
	}
	if (snprintf(path, sizeof path, "%s/%s.journal", cfg->state_dir,
	    p->cfg.name) >= (int)sizeof path) {
		*cause = strdup("state_dir: path too long");
		goto fail;
	}
	if ((d->commit_ev = event_new(p->sup->base, -1, 0, durable_commit_cb,
	    d)) == NULL || (d->sync_ev = evtimer_new(p->sup->base,
	    durable_sync_cb, d)) == NULL) {
		*cause = strdup("out of memory");
		goto fail;
	}
	if (durable_recover(d, path, cause) == -1)
		goto fail;
	/* What recovery left is the journal from now on. */
	if (durable_compact(d) == -1) {
		*cause = strdup("cannot rewrite the journal after recovery");
		goto fail;
	}
	return 0;
fail:
	durable_close(p);
	return -1;
}

void
durable_close(struct pool *p)
{
	struct durable	*d = p->dur;

	if (d == NULL)
		return;
	if (d->j != NULL && journal_pending(d->j) > 0 &&
	    journal_commit(d->j, 1) == -1)
		log_pool(LOG_LVL_WARN, p->cfg.name, "journal: last commit: %s",
		    strerror(errno));
	journal_close(d->j);
	if (d->commit_ev != NULL)
		event_free(d->commit_ev);
	if (d->sync_ev != NULL)
		event_free(d->sync_ev);
	free(d);
	p->dur = NULL;
}

void
durable_stats_json(const struct pool *p, struct evbuffer *eb)
{
	const struct durable	*d = p->dur;
	static const char *const policies[] = { "always", "interval",
				    "never" };

	if (d == NULL) {
		evbuffer_add_printf(eb, "\"journal\":null,");
		return;
	}
	evbuffer_add_printf(eb, "\"journal\":{\"fsync\":\"%s\",\"bytes\":%llu,"
	    "\"pending\":%zu,\"commits\":%llu,\"syncs\":%llu,"
	    "\"compactions\":%llu,\"errors\":%llu,\"recovered\":%llu,"
	    "\"restored\":%llu,\"cut_bytes\":%llu},",
	    policies[p->cfg.fsync], (unsigned long long)journal_size(d->j),
	    d->npending, (unsigned long long)d->commits,
	    (unsigned long long)d->syncs, (unsigned long long)d->compactions,
	    (unsigned long long)d->errors, (unsigned long long)d->recovered,
	    (unsigned long long)d->restored, (unsigned long long)d->cut);
}

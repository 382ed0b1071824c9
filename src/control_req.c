/*
 * The control requests: ping, submit (with its segment and admission
 * checks: pool, handler, payload, jobs_per_uid), stats, status, wait,
 * cancel, admin and events. Each handler reads its request through the
 * typed readers, checks every byte was consumed, and replies on its
 * connection; a malformed request drops that connection. Which handler
 * runs, and whether the peer's role allows it, is control.c's table.
 */
#include <stdint.h>
#include <stdio.h>

#include <event2/buffer.h>

#include "admin.h"
#include "chan.h"
#include "control.h"
#include "control_int.h"
#include "durable.h"
#include "handlers.h"
#include "idem.h"
#include "job.h"
#include "msg.h"
#include "pool.h"
#include "seg.h"
#include "stats.h"
#include "sup.h"

void
control_ping(struct conn *c, struct frame *f)
{
	if (f->hdr.len != 0) {
		control_drop(c, f->hdr.id, COMMIS_E_PROTO, "PING with payload");
		return;
	}
	chan_send(c->chan, COMMIS_MSG_PONG, f->hdr.id, NULL, 0, NULL, 0);
}

void
control_stats_cmd(struct conn *c, struct frame *f)
{
	struct evbuffer	*eb;
	struct mreader	 r;
	uint8_t		 fmt;

	mr_init(&r, f->payload, f->hdr.len);
	fmt = mr_u8(&r);
	if (mr_end(&r) == -1 || fmt > COMMIS_STATS_TEXT) {
		control_drop(c, f->hdr.id, COMMIS_E_PROTO, "bad STATS request");
		return;
	}
	if ((eb = evbuffer_new()) == NULL)
		return;
	if (fmt == COMMIS_STATS_JSON)
		stats_json(c->ctl->sup, eb);
	else
		stats_text(c->ctl->sup, eb);
	control_text(c, COMMIS_MSG_STATS_REPLY, f->hdr.id,
	    evbuffer_pullup(eb, -1), evbuffer_get_length(eb));
	evbuffer_free(eb);
}

struct submit_req {
	int32_t		 prio;
	uint32_t	 timeout;
	uint32_t	 flags;
	uint32_t	 delay;
	uint32_t	 deadline;
	char		 pool[COMMIS_NAME_MAX];
	char		 handler[COMMIS_NAME_MAX];
	const uint8_t	*data;
	size_t		 len;
	char		 key[IDEM_KEY_MAX + 1];	/* "" when none */
};

/* The segment of a SUBMIT: present when and only when it should be. */
static uint32_t
control_submit_seg(struct conn *c, const struct frame *f,
    const struct submit_req *s, char *msg, size_t msglen)
{
	const struct config	*cfg = c->ctl->sup->cfg;
	enum seg_kind		 kind;
	uint64_t		 size;

	if (f->fd == -1) {
		if (!(s->flags & COMMIS_SUBMIT_INPLACE))
			return 0;
		snprintf(msg, msglen, "an in-place job needs a segment");
		return COMMIS_E_SEGMENT;
	}
	if (s->len != 0) {
		snprintf(msg, msglen, "a SUBMIT with a segment carries no "
		    "inline data");
		return COMMIS_E_SEGMENT;
	}
	if (c->nsegs >= cfg->max_conn_segments) {
		snprintf(msg, msglen, "too many segments in flight on this "
		    "connection (max_conn_segments %u)", cfg->max_conn_segments);
		return COMMIS_E_SEGMENT;
	}
	kind = (s->flags & COMMIS_SUBMIT_INPLACE) ? SEG_INPLACE : SEG_INPUT;
	if (seg_check(f->fd, kind, cfg->max_segment, &size, msg, msglen) == -1)
		return COMMIS_E_SEGMENT;
	return 0;
}

/* Why a SUBMIT cannot be accepted, or 0 with *pp set. */
static uint32_t
control_submit_check(struct conn *c, const struct frame *f,
    const struct submit_req *s, struct pool **pp, char *msg, size_t msglen)
{
	struct supervisor		*sup = c->ctl->sup;
	const struct handler_ent	*he;
	const char			*why;
	uint32_t			 code;

	*pp = sup_pool(sup, s->pool[0] ? s->pool : NULL);
	if ((code = control_submit_seg(c, f, s, msg, msglen)) != 0)
		return code;
	if (sup->stopping) {
		snprintf(msg, msglen, "commisd is shutting down");
		return COMMIS_E_SHUTDOWN;
	}
	if (*pp == NULL) {
		snprintf(msg, msglen, "no pool '%s'", s->pool);
		return COMMIS_E_NO_POOL;
	}
	if ((he = handlers_find((*pp)->handlers, s->handler)) == NULL) {
		snprintf(msg, msglen, "no handler '%s' in pool '%s'",
		    s->handler, (*pp)->cfg.name);
		return COMMIS_E_NO_HANDLER;
	}
	if ((*pp)->cfg.isolation == ISOLATION_THREAD &&
	    !(he->h->flags & COMMIS_HANDLER_THREAD_SAFE)) {
		snprintf(msg, msglen, "handler '%s' is not thread-safe and "
		    "pool '%s' runs jobs on threads", s->handler,
		    (*pp)->cfg.name);
		return COMMIS_E_UNSUPPORTED;
	}
	if ((s->flags & COMMIS_SUBMIT_INPLACE) &&
	    !(he->h->flags & COMMIS_HANDLER_INPLACE)) {
		snprintf(msg, msglen, "handler '%s' does not work in place",
		    s->handler);
		return COMMIS_E_UNSUPPORTED;
	}
	if (s->len > sup->cfg->max_payload) {
		snprintf(msg, msglen, "payload of %zu bytes is above "
		    "max_payload (%u)", s->len, sup->cfg->max_payload);
		return COMMIS_E_TOOBIG;
	}
	if (!pool_accepting(*pp, &why)) {
		snprintf(msg, msglen, "pool '%s': %s", (*pp)->cfg.name, why);
		return COMMIS_E_POOL_DOWN;
	}
	/* Bulk data is the client's to keep: a journal copy of every
	 * segment would undo what segments are for. */
	if ((*pp)->dur != NULL && f->fd != -1) {
		snprintf(msg, msglen, "pool '%s' is durable: it takes inline "
		    "payloads only", (*pp)->cfg.name);
		return COMMIS_E_SEGMENT;
	}
	if ((*pp)->dur != NULL && pool_queued(*pp) + durable_npending(*pp) >=
	    (*pp)->cfg.queue_max) {
		snprintf(msg, msglen, "pool '%s' queue is full (%u jobs)",
		    (*pp)->cfg.name, (*pp)->cfg.queue_max);
		return COMMIS_E_QUEUE_FULL;
	}
	return 0;
}

/*
 * A SUBMIT with an idempotency key already seen: the first job's id
 * (--no-wait) or its result, now or when it ends. 1 when answered.
 */
static int
control_submit_again(struct conn *c, struct frame *f,
    const struct submit_req *s)
{
	struct supervisor	*sup = c->ctl->sup;
	struct job		*job;
	uint64_t		 id;
	uint8_t			 idb[8];
	char			 msg[IDEM_KEY_MAX + 128];

	if (s->key[0] == '\0' || sup->cfg->idempotency_ttl_ms == 0 ||
	    (id = idem_get(sup->idem, c->peer.uid, s->key)) == 0)
		return 0;
	job = job_find(sup->jobs, id);
	if (s->flags & COMMIS_SUBMIT_NOWAIT) {
		le64_put(idb, id);
		chan_send(c->chan, COMMIS_MSG_ACCEPTED, f->hdr.id, idb,
		    sizeof idb, NULL, 0);
		return 1;
	}
	if (job == NULL) {
		snprintf(msg, sizeof msg, "key '%s' was job %llu, whose "
		    "result is no longer kept", s->key,
		    (unsigned long long)id);
		control_error(c, f->hdr.id, COMMIS_E_NO_JOB, msg);
	} else if (job_wait(sup->jobs, job, c->id, f->hdr.id, 0, 0,
	    &c->waits) == -1)
		control_error(c, f->hdr.id, COMMIS_E_QUEUE_FULL,
		    "out of memory");
	return 1;
}

/* Validates a SUBMIT and hands the job to its pool; replies on refusal. */
void
control_submit(struct conn *c, struct frame *f)
{
	struct supervisor	*sup = c->ctl->sup;
	struct submit_req	 s;
	struct mreader		 r;
	struct pool		*p;
	struct job		*job;
	uint8_t			 idb[8];
	char			 msg[192];
	uint32_t		 code;
	int			 waits, rc;

	mr_init(&r, f->payload, f->hdr.len);
	s.prio = mr_i32(&r);
	s.timeout = mr_u32(&r);
	s.flags = mr_u32(&r);
	s.delay = mr_u32(&r);
	s.deadline = mr_u32(&r);
	mr_str(&r, s.pool, sizeof s.pool);
	mr_str(&r, s.handler, sizeof s.handler);
	s.data = mr_bytes(&r, &s.len);
	s.key[0] = '\0';
	if (s.flags & COMMIS_SUBMIT_KEY)
		mr_str(&r, s.key, sizeof s.key);
	if (mr_end(&r) == -1 || (s.flags & ~COMMIS_SUBMIT_KNOWN) ||
	    ((s.flags & COMMIS_SUBMIT_KEY) && s.key[0] == '\0')) {
		control_drop(c, f->hdr.id, COMMIS_E_PROTO, "malformed SUBMIT");
		return;
	}
	if ((code = control_submit_check(c, f, &s, &p, msg, sizeof msg)) != 0) {
		if (p != NULL)
			p->st.rejected++;
		control_error(c, f->hdr.id, code, msg);
		return;
	}
	if (sup->cfg->jobs_per_uid > 0 && c->role < ROLE_ADMIN &&
	    control_uid_get(&c->ctl->uid_jobs, c->peer.uid) >=
	    sup->cfg->jobs_per_uid) {
		snprintf(msg, sizeof msg, "uid %ld has %u jobs in flight "
		    "(jobs_per_uid)", (long)c->peer.uid, sup->cfg->jobs_per_uid);
		p->st.rejected++;
		control_error(c, f->hdr.id, COMMIS_E_QUEUE_FULL, msg);
		return;
	}
	if (control_submit_again(c, f, &s))
		return;
	waits = !(s.flags & COMMIS_SUBMIT_NOWAIT);
	/* A durable pool answers a --no-wait submit after the commit, so
	 * its submitter is recorded like a waiting one until then. */
	if ((job = job_new(sup->jobs, p, s.handler, s.prio, s.timeout,
	    s.flags & ~COMMIS_SUBMIT_KEY, s.delay, s.deadline, s.data,
	    s.len)) == NULL || ((waits || p->dur != NULL) &&
	    job_wait(sup->jobs, job, c->id, f->hdr.id, 1, 0,
	    &c->waits) == -1)) {
		if (job != NULL)
			job_discard(sup->jobs, job);
		p->st.rejected++;
		control_error(c, f->hdr.id, COMMIS_E_QUEUE_FULL, "out of memory");
		return;
	}
	job->owner = c->peer.uid;	/* before it is queued: fairness */
	job->keyed = s.key[0] != '\0';
	if (f->fd != -1) {
		/* The job owns the segment from here on. */
		job_set_segment(sup->jobs, job, f->fd, c->id);
		f->fd = -1;
		c->nsegs++;
	}
	if (p->dur != NULL)
		rc = durable_accept(p, job, s.key[0] ? s.key : NULL) == -1 ?
		    -2 : 0;
	else
		rc = job_start(sup->jobs, job);
	if (rc != 0) {
		job_discard(sup->jobs, job);
		p->st.rejected++;
		if (rc == -2)
			snprintf(msg, sizeof msg, "out of memory");
		else
			snprintf(msg, sizeof msg, "pool '%s' queue is full "
			    "(%u jobs)", p->cfg.name, p->cfg.queue_max);
		control_error(c, f->hdr.id, COMMIS_E_QUEUE_FULL, msg);
		return;
	}
	p->st.submitted++;
	if (s.key[0] != '\0' && sup->cfg->idempotency_ttl_ms > 0 &&
	    idem_put(sup->idem, c->peer.uid, s.key, job->id, p->cfg.name,
	    durable_wall_ns()) == -1)
		log_pool(LOG_LVL_WARN, p->cfg.name, "no memory for "
		    "idempotency key '%s'", s.key);
	control_event(c->ctl, "{\"type\":\"accepted\",\"job\":%llu,"
	    "\"pool\":\"%s\",\"handler\":\"%s\",\"uid\":%ld}",
	    (unsigned long long)job->id, p->cfg.name, job->handler,
	    (long)c->peer.uid);
	job->counted = 1;
	control_uid_add(&c->ctl->uid_jobs, c->peer.uid, 1);
	/* A durable pool's job is acknowledged by its commit. */
	if (!waits && p->dur == NULL) {
		le64_put(idb, job->id);
		chan_send(c->chan, COMMIS_MSG_ACCEPTED, f->hdr.id, idb,
		    sizeof idb, NULL, 0);
	}
}

/* The job named by a request's u64 (plus u32 more when wanted); with
 * own, a non-admin may only name its own jobs. */
static struct job *
control_job_arg(struct conn *c, struct frame *f, uint32_t *extra, int own)
{
	struct mreader	 r;
	struct job	*job;
	uint64_t	 id;
	char		 msg[96];

	mr_init(&r, f->payload, f->hdr.len);
	id = mr_u64(&r);
	if (extra != NULL)
		*extra = mr_u32(&r);
	if (mr_end(&r) == -1) {
		control_drop(c, f->hdr.id, COMMIS_E_PROTO, "malformed request");
		return NULL;
	}
	if ((job = job_find(c->ctl->sup->jobs, id)) == NULL) {
		snprintf(msg, sizeof msg, "job %llu is unknown or its result "
		    "has expired", (unsigned long long)id);
		control_error(c, f->hdr.id, COMMIS_E_NO_JOB, msg);
		return NULL;
	}
	if (own && c->role < ROLE_ADMIN && job->owner != c->peer.uid) {
		snprintf(msg, sizeof msg, "job %llu of another user",
		    (unsigned long long)id);
		control_deny(c, f->hdr.id, msg, ROLE_ADMIN);
		return NULL;
	}
	return job;
}

void
control_status(struct conn *c, struct frame *f)
{
	static const uint8_t	 states[] = {
		[JOB_DELAYED] = COMMIS_JOB_DELAYED,
		[JOB_QUEUED] = COMMIS_JOB_QUEUED,
		[JOB_SENT] = COMMIS_JOB_QUEUED,
		[JOB_RUNNING] = COMMIS_JOB_RUNNING,
		[JOB_DONE] = COMMIS_JOB_DONE,
	};
	struct job		*job;
	struct mbuf		 m;

	if ((job = control_job_arg(c, f, NULL, 0)) == NULL)
		return;
	mbuf_init(&m);
	mbuf_u64(&m, job->id);
	mbuf_u8(&m, states[job->state]);
	mbuf_u8(&m, job->state == JOB_DONE ? (uint8_t)job->status : 0);
	mbuf_u16(&m, job->attempts);
	mbuf_str(&m, JOB_POOL_NAME(job));
	mbuf_str(&m, job->handler);
	mbuf_str(&m, job->state == JOB_DONE ? job->end->cause : "");
	if (!m.err)
		chan_send(c->chan, COMMIS_MSG_JOB_INFO, f->hdr.id, m.data, m.len,
		    NULL, 0);
	mbuf_free(&m);
}

void
control_wait(struct conn *c, struct frame *f)
{
	struct job	*job;
	uint32_t	 timeout;

	if ((job = control_job_arg(c, f, &timeout, 1)) == NULL)
		return;
	if (job_wait(c->ctl->sup->jobs, job, c->id, f->hdr.id, 0, timeout,
	    &c->waits) == -1)
		control_error(c, f->hdr.id, COMMIS_E_QUEUE_FULL,
		    "out of memory");
}

void
control_cancel(struct conn *c, struct frame *f)
{
	struct job	*job;
	const char	*why = NULL;
	char		 msg[96];
	uint64_t	 id;
	int		 n, now;

	if ((job = control_job_arg(c, f, NULL, 1)) == NULL)
		return;
	/* The job may be freed by the cancel: keep what the reply needs. */
	id = job->id;
	now = job->state == JOB_QUEUED || job->state == JOB_DELAYED;
	if (job_cancel(c->ctl->sup->jobs, job, "cancelled", &why) == -1) {
		control_error(c, f->hdr.id, COMMIS_E_STATE, why);
		return;
	}
	n = snprintf(msg, sizeof msg, now ? "job %llu cancelled" :
	    "job %llu: cancel requested (running: soft, then SIGKILL)",
	    (unsigned long long)id);
	control_text(c, COMMIS_MSG_OK, f->hdr.id, msg, (size_t)n);
}

void
control_admin(struct conn *c, struct frame *f)
{
	char		 args[ADMIN_MAX_ARGS][ADMIN_ARG_MAX];
	char		*argv[ADMIN_MAX_ARGS];
	struct evbuffer	*eb;
	struct mreader	 r;
	uint32_t	 argc, i, code = 0;

	mr_init(&r, f->payload, f->hdr.len);
	argc = mr_u32(&r);
	for (i = 0; i < argc && i < ADMIN_MAX_ARGS; i++) {
		mr_str(&r, args[i], sizeof args[i]);
		argv[i] = args[i];
	}
	if (argc == 0 || argc > ADMIN_MAX_ARGS || mr_end(&r) == -1) {
		control_drop(c, f->hdr.id, COMMIS_E_PROTO, "malformed ADMIN");
		return;
	}
	if ((eb = evbuffer_new()) == NULL)
		return;
	if (admin_run(c->ctl->sup, (int)argc, argv, eb, &code) == -1) {
		evbuffer_add(eb, "", 1);
		control_error(c, f->hdr.id, code,
		    (const char *)evbuffer_pullup(eb, -1));
	} else
		control_text(c, COMMIS_MSG_OK, f->hdr.id,
		    evbuffer_pullup(eb, -1), evbuffer_get_length(eb));
	evbuffer_free(eb);
}

/* EVENTS: OK, then every event as an EVENT frame until it goes. */
void
control_events(struct conn *c, struct frame *f)
{
	static const char	ok[] = "events";

	if (f->hdr.len != 0) {
		control_drop(c, f->hdr.id, COMMIS_E_PROTO, "EVENTS with payload");
		return;
	}
	control_text(c, COMMIS_MSG_OK, f->hdr.id, ok, sizeof ok - 1);
	if (c->events == 0)
		LIST_INSERT_HEAD(&c->ctl->subs, c, sub_entry);
	c->events = f->hdr.id;
}

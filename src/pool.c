/*
 * Pools and their workers, as the supervisor sees them. This module forks
 * workers (the child side is worker.c), keeps one state per slot, hands
 * queued jobs to idle workers, times jobs out (SIGTERM, then SIGKILL after
 * kill_grace_ms), and on each reaped child decides what happens to its job
 * (retry at the front of the queue, or a terminal state) and to its slot
 * (respawn now, respawn after a backoff, or never). It does not know the
 * control socket: finished jobs go to sup_job_finish().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan.h"
#include "exitcode.h"
#include "handlers.h"
#include "log.h"
#include "msg.h"
#include "pool.h"
#include "sup.h"
#include "worker.h"

static void	pool_spawn(struct pool *, unsigned);
static void	pool_dispatch(struct pool *);
static void	pool_worker_kill(struct worker *, int, const char *);

static const char *const worker_state_names[] = {
	[W_STARTING] = "starting",
	[W_IDLE] = "idle",
	[W_BUSY] = "busy",
	[W_STOPPING] = "stopping",
};

const char *
pool_worker_state_name(enum worker_state s)
{
	return worker_state_names[s];
}

static void
pool_restart_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct pool_slot	*s = arg;

	if (s->w == NULL && !s->pool->sup->stopping)
		pool_spawn(s->pool, s->idx);
}

struct pool *
pool_new(struct supervisor *sup, const struct pool_config *cfg, char **cause)
{
	struct pool	*p;
	size_t		 i;

	if ((p = calloc(1, sizeof *p)) == NULL ||
	    (p->slots = calloc(cfg->workers, sizeof *p->slots)) == NULL ||
	    (p->handlers = handlers_new()) == NULL) {
		pool_free(p);
		*cause = strdup("out of memory");
		return NULL;
	}
	p->sup = sup;
	p->cfg = cfg;
	p->nslots = cfg->workers;
	queue_init(&p->queue);
	TAILQ_INIT(&p->idle);
	for (i = 0; i < p->nslots; i++) {
		p->slots[i].pool = p;
		p->slots[i].idx = i;
		p->slots[i].restart = evtimer_new(sup->base, pool_restart_cb,
		    &p->slots[i]);
		if (p->slots[i].restart == NULL) {
			pool_free(p);
			*cause = strdup("out of memory");
			return NULL;
		}
	}
	for (i = 0; i < cfg->nmodules; i++) {
		if (handlers_load(p->handlers, cfg->modules[i], cause) == -1) {
			pool_free(p);
			return NULL;
		}
	}
	return p;
}

static void
pool_worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	chan_free(w->chan);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

void
pool_free(struct pool *p)
{
	unsigned	i;

	if (p == NULL)
		return;
	for (i = 0; p->slots != NULL && i < p->nslots; i++) {
		pool_worker_free(p->slots[i].w);
		if (p->slots[i].restart != NULL)
			event_free(p->slots[i].restart);
	}
	free(p->slots);
	queue_free(&p->queue);
	handlers_free(p->handlers);
	free(p);
}

void
pool_start(struct pool *p)
{
	unsigned	i;

	for (i = 0; i < p->nslots; i++)
		pool_spawn(p, i);
}

unsigned
pool_idle_count(const struct pool *p)
{
	const struct worker	*w;
	unsigned		 n = 0;

	TAILQ_FOREACH(w, &p->idle, idle_entry)
		n++;
	return n;
}

static void
pool_set_idle(struct worker *w)
{
	w->state = W_IDLE;
	TAILQ_INSERT_TAIL(&w->pool->idle, w, idle_entry);
}

static void
pool_unset_idle(struct worker *w)
{
	if (w->state == W_IDLE)
		TAILQ_REMOVE(&w->pool->idle, w, idle_entry);
}

/* The worker has a job: count the attempt, send it, arm the timeout. */
static void
pool_run(struct worker *w, struct job *job)
{
	struct timeval	tv;
	struct mbuf	m;

	pool_unset_idle(w);
	w->state = W_BUSY;
	w->job = job;
	w->job_start_ns = sup_now_ns();
	w->pool->nbusy++;
	job->worker = w;
	job->state = JOB_RUNNING;
	job->attempts++;
	if (job->timeout_ms > 0) {
		tv = tv_ms(job->timeout_ms);
		evtimer_add(w->timer, &tv);
	}
	/* JOB: str handler, bytes input; the input goes without a copy. */
	mbuf_init(&m);
	mbuf_str(&m, job->handler);
	mbuf_u32(&m, (uint32_t)job->len);
	if (m.err || chan_send(w->chan, COMMIS_MSG_JOB, job->id, m.data, m.len,
	    job->data, job->len) == -1)
		pool_worker_kill(w, SIGKILL, "cannot send job");
	mbuf_free(&m);
}

static void
pool_dispatch(struct pool *p)
{
	struct worker	*w;
	struct job	*job;

	while ((w = TAILQ_FIRST(&p->idle)) != NULL &&
	    (job = (struct job *)queue_pop(&p->queue)) != NULL)
		pool_run(w, job);
}

int
pool_submit(struct pool *p, struct job *job)
{
	if (queue_len(&p->queue) >= p->cfg->queue_max)
		return -1;
	if (queue_push(&p->queue, &job->qi) == -1)
		return -1;
	job->state = JOB_QUEUED;
	pool_dispatch(p);
	return 0;
}

void
pool_unqueue(struct pool *p, struct job *job)
{
	queue_remove(&p->queue, &job->qi);
}

/* DONE: the job's terminal state comes from the handler. */
static void
pool_worker_done(struct worker *w, const struct frame *f)
{
	struct mreader	 r;
	struct job	*job = w->job;
	const uint8_t	*out;
	size_t		 outlen;
	char		 err[COMMIS_TEXT_MAX];
	uint8_t		 ok;

	mr_init(&r, f->payload, f->hdr.len);
	ok = mr_u8(&r);
	mr_str(&r, err, sizeof err);
	out = mr_bytes(&r, &outlen);
	if (mr_end(&r) == -1 || job == NULL || f->hdr.id != job->id) {
		pool_worker_kill(w, SIGKILL, "protocol error: bad DONE frame");
		return;
	}
	w->job = NULL;
	w->jobs_done++;
	w->pool->nbusy--;
	job->worker = NULL;
	evtimer_del(w->timer);
	sup_job_finish(w->pool->sup, job,
	    ok == 0 ? COMMIS_ST_SUCCEEDED : COMMIS_ST_FAILED,
	    ok == 0 ? "" : err, out, outlen);
	/* A worker being stopped finished in time; it still goes. */
	if (w->state == W_BUSY) {
		pool_set_idle(w);
		pool_dispatch(w->pool);
	}
}

static void
pool_worker_frame(struct chan *c, struct frame *f, void *arg)
{
	struct worker	*w = arg;

	switch (f->hdr.type) {
	case COMMIS_MSG_READY:
		if (w->state != W_STARTING || f->hdr.len != 4) {
			pool_worker_kill(w, SIGKILL,
			    "protocol error: unexpected READY");
			return;
		}
		w->ready = 1;
		w->pool->slots[w->slot].failures = 0;
		log_debug("pool %s: worker %u pid %ld ready", w->pool->cfg->name,
		    w->slot, (long)w->pid);
		pool_set_idle(w);
		pool_dispatch(w->pool);
		break;
	case COMMIS_MSG_DONE:
		if (w->state != W_BUSY && w->state != W_STOPPING) {
			pool_worker_kill(w, SIGKILL,
			    "protocol error: DONE without a job");
			return;
		}
		pool_worker_done(w, f);
		break;
	default:
		pool_worker_kill(w, SIGKILL, "protocol error: unknown message");
		break;
	}
}

static int
pool_worker_error(struct chan *c, enum frame_err e, const struct frame_hdr *h,
    int errno_, void *arg)
{
	struct worker	*w = arg;

	struct timeval	tv;
	uint32_t	grace = w->pool->cfg->kill_grace_ms;

	chan_free(w->chan);
	w->chan = NULL;
	if (e != FRAME_OK) {
		pool_worker_kill(w, SIGKILL, frame_strerror(e));
		return 0;
	}
	/*
	 * EOF: the worker is most likely dying already, and its exit status
	 * is the real cause. Kill it only if it is still there after the
	 * grace period (the timer sees chan == NULL).
	 */
	pool_unset_idle(w);
	if (w->state == W_IDLE)
		w->state = W_STOPPING;
	if (!w->sigkilled) {
		tv = tv_ms(grace);
		evtimer_add(w->timer, &tv);
	}
	return 0;
}

/*
 * Records why before signalling (the cause reaches the client and the log
 * at reap time). SIGTERM arms the grace timer that escalates to SIGKILL.
 */
static void
pool_worker_kill(struct worker *w, int sig, const char *cause)
{
	struct timeval	tv;
	uint32_t	grace = w->pool->cfg->kill_grace_ms;

	if (w->cause[0] == '\0')
		snprintf(w->cause, sizeof w->cause, "%s", cause);
	if (w->state == W_STOPPING && (sig != SIGKILL || w->sigkilled))
		return;
	pool_unset_idle(w);
	w->state = W_STOPPING;
	if (kill(w->pid, sig) == -1 && errno != ESRCH)
		log_warn("pool %s: kill pid %ld", w->pool->cfg->name,
		    (long)w->pid);
	if (sig == SIGKILL) {
		w->sigkilled = 1;
		evtimer_del(w->timer);
		return;
	}
	tv = tv_ms(grace);
	evtimer_add(w->timer, &tv);
}

/* The job timeout, or else the end of the kill grace. */
static void
pool_worker_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	char		 cause[64];

	if (w->chan == NULL) {
		pool_worker_kill(w, SIGKILL, "channel closed");
		return;
	}
	if (w->state == W_STOPPING) {
		log_warnx("pool %s: worker %u pid %ld ignored SIGTERM for "
		    "%u ms, sending SIGKILL", w->pool->cfg->name, w->slot,
		    (long)w->pid, w->pool->cfg->kill_grace_ms);
		pool_worker_kill(w, SIGKILL, "kill grace expired");
		return;
	}
	if (w->state != W_BUSY || w->job == NULL)
		return;
	w->timedout = 1;
	snprintf(cause, sizeof cause, "timeout after %u ms", w->job->timeout_ms);
	log_warnx("pool %s: job %llu on worker %u pid %ld: %s",
	    w->pool->cfg->name, (unsigned long long)w->job->id, w->slot,
	    (long)w->pid, cause);
	pool_worker_kill(w, SIGTERM, cause);
}

static void
pool_spawn(struct pool *p, unsigned idx)
{
	struct pool_slot	*s = &p->slots[idx];
	struct worker_args	 wa;
	struct worker		*w;
	struct timeval		 tv;
	int			 sv[2];
	pid_t			 pid;

	if ((w = calloc(1, sizeof *w)) == NULL)
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		free(w);
		goto fail;
	}
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		free(w);
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		wa.cfg = p->cfg;
		wa.handlers = p->handlers;
		wa.fd = sv[1];
		wa.parent = p->sup->pid;
		wa.max_payload = p->sup->cfg->max_payload;
		worker_main(&wa);
	}
	close(sv[1]);
	w->pool = p;
	w->slot = idx;
	w->pid = pid;
	w->state = W_STARTING;
	w->start_ns = sup_now_ns();
	s->w = w;
	p->nalive++;
	w->timer = evtimer_new(p->sup->base, pool_worker_timer, w);
	w->chan = chan_new(p->sup->base, sv[0],
	    p->sup->cfg->max_payload + COMMIS_FRAME_OVERHEAD,
	    pool_worker_frame, pool_worker_error, w);
	if (w->chan == NULL)
		close(sv[0]);
	if (w->timer == NULL || w->chan == NULL)
		pool_worker_kill(w, SIGKILL, "out of memory");
	log_debug("pool %s: worker %u forked, pid %ld", p->cfg->name, idx,
	    (long)pid);
	return;
fail:
	log_warn("pool %s: cannot start worker %u", p->cfg->name, idx);
	s->failures++;
	tv = tv_ms(1000);
	evtimer_add(s->restart, &tv);
}

/* "exit code 3", "signal 11 (SIGSEGV), core dumped" */
static void
pool_describe_exit(int status, char *buf, size_t len)
{
	const char	*abbrev;

	if (WIFEXITED(status)) {
		snprintf(buf, len, "exit code %d", WEXITSTATUS(status));
		return;
	}
	abbrev = sigabbrev_np(WTERMSIG(status));
	snprintf(buf, len, "signal %d (SIG%s)%s", WTERMSIG(status),
	    abbrev ? abbrev : "?", WCOREDUMP(status) ? ", core dumped" : "");
}

/* The job of a dead worker: retry it, or end it with the cause. */
static void
pool_requeue_or_end(struct pool *p, struct worker *w, const char *how)
{
	struct job	*job = w->job;
	char		 cause[COMMIS_TEXT_MAX];

	w->job = NULL;
	p->nbusy--;
	job->worker = NULL;
	if (w->timedout)
		snprintf(cause, sizeof cause, "%s", w->cause);
	else if (w->cause[0] != '\0')
		snprintf(cause, sizeof cause, "worker killed: %s (%s)",
		    w->cause, how);
	else
		snprintf(cause, sizeof cause, "worker died: %s", how);
	if (p->sup->stopping) {
		sup_job_finish(p->sup, job, COMMIS_ST_CANCELLED,
		    "supervisor shutting down", NULL, 0);
	} else if (job->attempts >= p->cfg->max_attempts) {
		sup_job_finish(p->sup, job, w->timedout ? COMMIS_ST_TIMEDOUT :
		    COMMIS_ST_CRASHED, cause, NULL, 0);
	} else {
		log_info("pool %s: job %llu goes back to the queue after "
		    "attempt %u: %s", p->cfg->name,
		    (unsigned long long)job->id, job->attempts, cause);
		p->st.retried++;
		job->state = JOB_QUEUED;
		if (queue_push_front(&p->queue, &job->qi) == -1)
			sup_job_finish(p->sup, job, COMMIS_ST_CRASHED, cause,
			    NULL, 0);
	}
}

/* No slot can start: end the queued jobs, refuse new ones. */
static void
pool_set_down(struct pool *p)
{
	struct job	*job;

	log_warnx("pool %s: down: no worker can start", p->cfg->name);
	p->down = 1;
	while ((job = (struct job *)queue_pop(&p->queue)) != NULL)
		sup_job_finish(p->sup, job, COMMIS_ST_FAILED,
		    "pool down: workers fail to start", NULL, 0);
}

/* Respawn at once after a worker that was up; back off after start-up
 * failures; never after EXIT_WORKER_NORESPAWN at start-up. */
static void
pool_respawn(struct pool *p, struct pool_slot *s, int started, int status)
{
	struct timeval	tv;
	uint64_t	delay;
	unsigned	i;

	if (p->sup->stopping)
		return;
	if (started) {
		p->st.restarts++;
		pool_spawn(p, s->idx);
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_WORKER_NORESPAWN) {
		log_warnx("pool %s: worker %u failed to start with a "
		    "configuration error; not respawning it", p->cfg->name,
		    s->idx);
		s->disabled = 1;
		for (i = 0; i < p->nslots && p->slots[i].disabled; i++)
			;
		if (i == p->nslots)
			pool_set_down(p);
		return;
	}
	s->failures++;
	delay = (uint64_t)p->cfg->restart_delay_ms << (s->failures > 20 ?
	    20 : s->failures - 1);
	if (delay > p->cfg->restart_delay_max_ms)
		delay = p->cfg->restart_delay_max_ms;
	log_warnx("pool %s: worker %u failed at start-up %u times in a row; "
	    "next start in %llu ms", p->cfg->name, s->idx, s->failures,
	    (unsigned long long)delay);
	p->st.restarts++;
	tv = tv_ms(delay);
	evtimer_add(s->restart, &tv);
}

int
pool_reap(struct pool *p, pid_t pid, int status)
{
	struct pool_slot	*s = NULL;
	struct worker		*w;
	unsigned		 i;
	char			 how[96];
	int			 started;

	for (i = 0; i < p->nslots; i++) {
		if (p->slots[i].w != NULL && p->slots[i].w->pid == pid) {
			s = &p->slots[i];
			break;
		}
	}
	if (s == NULL)
		return 0;
	w = s->w;
	pool_describe_exit(status, how, sizeof how);
	started = w->ready;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_debug("pool %s: worker %u pid %ld exited: %s%s%s",
		    p->cfg->name, w->slot, (long)pid, how,
		    w->cause[0] ? "; cause: " : "", w->cause);
	else
		log_warnx("pool %s: worker %u pid %ld exited: %s; cause: %s; "
		    "jobs done %llu", p->cfg->name, w->slot, (long)pid, how,
		    w->cause[0] ? w->cause : WIFSIGNALED(status) ? "crashed" :
		    "exited by itself",
		    (unsigned long long)w->jobs_done);
	pool_unset_idle(w);
	if (w->job != NULL)
		pool_requeue_or_end(p, w, how);
	s->w = NULL;
	p->nalive--;
	pool_worker_free(w);
	pool_respawn(p, s, started, status);
	pool_dispatch(p);
	return 1;
}

void
pool_stop(struct pool *p, int sig)
{
	struct timeval	 tv = tv_ms(p->cfg->kill_grace_ms);
	struct worker	*w;
	struct job	*job;
	unsigned	 i;

	while ((job = (struct job *)queue_pop(&p->queue)) != NULL)
		sup_job_finish(p->sup, job, COMMIS_ST_CANCELLED,
		    "supervisor shutting down", NULL, 0);
	for (i = 0; i < p->nslots; i++) {
		evtimer_del(p->slots[i].restart);
		if ((w = p->slots[i].w) == NULL)
			continue;
		if (w->state == W_BUSY || sig == SIGKILL) {
			pool_worker_kill(w, sig, "shutdown");
			continue;
		}
		/* Idle workers exit 0 when their channel closes. */
		snprintf(w->cause, sizeof w->cause, "shutdown");
		pool_unset_idle(w);
		w->state = W_STOPPING;
		chan_free(w->chan);
		w->chan = NULL;
		evtimer_add(w->timer, &tv);
	}
}

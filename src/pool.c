/*
 * Pools and their workers' lives, as the supervisor sees them. This module
 * forks workers (the child side is worker.c), reaps them, decides whether
 * and when to replace one (at once, after a start-up backoff, never after
 * EXIT_WORKER_NORESPAWN, or not at all once the pool's crash-loop limit is
 * hit), stops and kills them, and queues a pool's jobs. How many workers a
 * pool wants and which ones are recycled is pool_size.c's; which job runs
 * where is dispatch.c's; how a job ends is job.c's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan.h"
#include "control.h"
#include "dispatch.h"
#include "durable.h"
#include "exec.h"
#include "exitcode.h"
#include "handlers.h"
#include "hist.h"
#include "idmap.h"
#include "log.h"
#include "pool.h"
#include "pool_int.h"
#include "sup.h"
#include "worker.h"

static const char *const worker_state_names[] = {
	[W_STARTING] = "starting",
	[W_IDLE] = "idle",
	[W_BUSY] = "busy",
	[W_STOPPING] = "stopping",
};

static const char *const pool_mode_names[] = {
	[POOL_MODE_STATIC] = "static",
	[POOL_MODE_DYNAMIC] = "dynamic",
	[POOL_MODE_ONDEMAND] = "ondemand",
};

const char *
pool_worker_state_name(enum worker_state s)
{
	return worker_state_names[s];
}

const char *
pool_mode_name(enum pool_mode m)
{
	return pool_mode_names[m];
}

static void
pool_strs_free(char ***v, size_t *n)
{
	size_t	i;

	for (i = 0; i < *n; i++)
		free((*v)[i]);
	free(*v);
	*v = NULL;
	*n = 0;
}

static void
pool_cfg_clear(struct pool_config *c)
{
	pool_strs_free(&c->modules, &c->nmodules);
	pool_strs_free(&c->exec_argv, &c->nexec_argv);
	pool_strs_free(&c->exec_params, &c->nexec_params);
	pool_strs_free(&c->exec_env, &c->nexec_env);
}

/* *dst becomes a copy of the n strings of src; -1 out of memory. */
static int
pool_strs_copy(char ***dst, size_t *ndst, char *const *src, size_t n)
{
	size_t	i;

	*dst = NULL;
	*ndst = 0;
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof **dst)) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (((*dst)[i] = strdup(src[i])) == NULL)
			return -1;
		(*ndst)++;
	}
	return 0;
}

/* The pool keeps its own copy, so a reload can free the old config. */
static int
pool_cfg_copy(struct pool_config *dst, const struct pool_config *src)
{
	*dst = *src;
	if (pool_strs_copy(&dst->modules, &dst->nmodules, src->modules,
	    src->nmodules) == -1 ||
	    pool_strs_copy(&dst->exec_argv, &dst->nexec_argv, src->exec_argv,
	    src->nexec_argv) == -1 ||
	    pool_strs_copy(&dst->exec_params, &dst->nexec_params,
	    src->exec_params, src->nexec_params) == -1 ||
	    pool_strs_copy(&dst->exec_env, &dst->nexec_env, src->exec_env,
	    src->nexec_env) == -1) {
		pool_cfg_clear(dst);
		return -1;
	}
	return 0;
}

struct handler_set *
pool_handlers(const struct pool_config *cfg, char **cause)
{
	struct handler_set	*hs;
	size_t			 i;

	if ((hs = handlers_new()) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	for (i = 0; i < cfg->nmodules; i++) {
		if (handlers_load(hs, cfg->modules[i], cause) == -1) {
			handlers_free(hs);
			return NULL;
		}
	}
	if (cfg->nexec_argv > 0 && handlers_add_module(hs, &exec_module) ==
	    -1) {
		*cause = strdup("handler 'exec' defined twice");
		handlers_free(hs);
		return NULL;
	}
	return hs;
}

struct pool *
pool_new(struct supervisor *sup, const struct pool_config *cfg,
    struct handler_set *hs, char **cause)
{
	struct pool	*p;
	struct timeval	 tv = tv_ms(POOL_TICK_MS);

	if ((p = calloc(1, sizeof *p)) == NULL) {
		handlers_free(hs);
		*cause = strdup("out of memory");
		return NULL;
	}
	p->sup = sup;
	queue_init(&p->queue);
	idmap_init(&p->uid_last);
	TAILQ_INIT(&p->workers);
	TAILQ_INIT(&p->idle);
	TAILQ_INIT(&p->delayed);
	p->handlers = hs;
	if (pool_cfg_copy(&p->cfg, cfg) == -1 ||
	    (p->ring = calloc(cfg->restart_intensity + 1,
	    sizeof *p->ring)) == NULL ||
	    (p->tick = event_new(sup->base, -1, EV_PERSIST, pool_tick, p)) ==
	    NULL || (p->spawn_ev = evtimer_new(sup->base, pool_spawn_cb, p)) ==
	    NULL || event_add(p->tick, &tv) == -1 ||
	    (p->h_queue = histw_new()) == NULL ||
	    (p->h_run = histw_new()) == NULL ||
	    (p->h_e2e = histw_new()) == NULL) {
		pool_free(p);
		*cause = strdup("out of memory");
		return NULL;
	}
	if (p->handlers == NULL &&
	    (p->handlers = pool_handlers(&p->cfg, cause)) == NULL) {
		pool_free(p);
		return NULL;
	}
	p->target = pool_initial_target(&p->cfg);
	p->tokens = p->cfg.spawn_rate;
	if ((p->cfg.user[0] != '\0' || p->cfg.group[0] != '\0') &&
	    geteuid() != 0)
		log_pool(LOG_LVL_WARN, p->cfg.name,
		    "user/group ignored: commisd is not root");
	p->tokens_ns = sup_now_ns();
	return p;
}

static void
pool_worker_free(struct worker *w)
{
	if (w->crash_note != NULL)
		munmap((void *)w->crash_note, sizeof *w->crash_note);
	chan_free(w->chan);
	if (w->timer != NULL)
		event_free(w->timer);
	free(w);
}

void
pool_free(struct pool *p)
{
	struct worker	*w;

	if (p == NULL)
		return;
	durable_close(p);
	while ((w = TAILQ_FIRST(&p->workers)) != NULL) {
		TAILQ_REMOVE(&p->workers, w, entry);
		pool_worker_free(w);
	}
	if (p->tick != NULL)
		event_free(p->tick);
	if (p->spawn_ev != NULL)
		event_free(p->spawn_ev);
	free(p->ring);
	histw_free(p->h_queue);
	histw_free(p->h_run);
	histw_free(p->h_e2e);
	queue_free(&p->queue);
	idmap_free(&p->uid_last);
	handlers_free(p->handlers);
	pool_cfg_clear(&p->cfg);
	free(p);
}

unsigned
pool_count(const struct pool *p, enum worker_state st)
{
	const struct worker	*w;
	unsigned		 n = 0;

	TAILQ_FOREACH(w, &p->workers, entry) {
		if (w->state == st)
			n++;
	}
	return n;
}

size_t
pool_queued(const struct pool *p)
{
	return queue_len(&p->queue) + p->ndelayed;
}

int
pool_empty(const struct pool *p)
{
	return p->nworkers == 0 && queue_len(&p->queue) == 0 &&
	    p->ndelayed == 0;
}

int
pool_accepting(const struct pool *p, const char **why)
{
	if (p->draining)
		*why = "the pool is being removed";
	else if (p->failed)
		*why = "the pool failed: its workers crash in a loop; "
		    "`commis reset` brings it back";
	else if (p->down)
		*why = "the pool is down: its workers fail to start";
	else
		return 1;
	return 0;
}

void
pool_worker_set_idle(struct worker *w)
{
	if (w->state == W_IDLE)
		return;
	w->state = W_IDLE;
	w->idle_ns = sup_now_ns();
	TAILQ_INSERT_TAIL(&w->pool->idle, w, idle_entry);
}

void
pool_worker_unset_idle(struct worker *w)
{
	if (w->state != W_IDLE)
		return;
	TAILQ_REMOVE(&w->pool->idle, w, idle_entry);
	w->state = W_BUSY;
}

/* Fair dispatch across users within a priority (queue_push_fair). */
static int
pool_push_fair(struct pool *p, struct job *job)
{
	uint64_t	key = (uint64_t)job->owner + 1;
	int64_t		last = (int64_t)(uintptr_t)idmap_get(&p->uid_last, key);

	if (queue_push_fair(&p->queue, &job->qi, &last) == -1)
		return -1;
	idmap_del(&p->uid_last, key);
	if (idmap_put(&p->uid_last, key, (void *)(uintptr_t)last) == -1)
		log_pool(LOG_LVL_WARN, p->cfg.name,
		    "out of memory for fair queueing");
	return 0;
}

/* Users whose last job has run no longer need remembering. */
void
pool_fair_prune(struct pool *p)
{
	struct idmap	keep;
	size_t		i;

	idmap_init(&keep);
	for (i = 0; i < p->uid_last.cap; i++) {
		if (p->uid_last.slots[i].key != 0 &&
		    (int64_t)(uintptr_t)p->uid_last.slots[i].val >
		    p->queue.vtime)
			idmap_put(&keep, p->uid_last.slots[i].key,
			    p->uid_last.slots[i].val);
	}
	idmap_free(&p->uid_last);
	p->uid_last = keep;
}

int
pool_enqueue(struct pool *p, struct job *job, int front)
{
	const char	*why;

	if (!front && (!pool_accepting(p, &why) ||
	    pool_queued(p) >= p->cfg.queue_max))
		return -1;
	if ((front ? queue_push_front(&p->queue, &job->qi) :
	    pool_push_fair(p, job)) == -1)
		return -2;
	job->state = JOB_QUEUED;
	dispatch(p);
	pool_maintain(p);	/* ondemand pools grow with their queue */
	return 0;
}

void
pool_unqueue(struct pool *p, struct job *job)
{
	queue_remove(&p->queue, &job->qi);
}

void
pool_worker_kill(struct worker *w, int sig, const char *cause)
{
	struct timeval	tv;

	if (w->cause[0] == '\0')
		snprintf(w->cause, sizeof w->cause, "%s", cause);
	if (w->sigkilled || (w->state == W_STOPPING && sig != SIGKILL &&
	    w->tstate == WT_STOP))
		return;
	pool_worker_unset_idle(w);
	w->state = W_STOPPING;
	if (w->reaped)
		return;		/* its pid may belong to someone else now */
	if (kill(w->pid, sig) == -1 && errno != ESRCH)
		log_worker(LOG_LVL_WARN, w->pool->cfg.name, w->id,
		    (long)w->pid, "kill: %s", strerror(errno));
	if (sig == SIGKILL) {
		w->sigkilled = 1;
		w->tstate = WT_NONE;
		evtimer_del(w->timer);
		return;
	}
	w->tstate = WT_STOP;
	tv = tv_ms(w->pool->cfg.kill_grace_ms);
	evtimer_add(w->timer, &tv);
}

/* Asks an empty worker to exit: it exits 0 when its channel closes. */
void
pool_worker_close(struct worker *w, const char *cause)
{
	struct timeval	tv = tv_ms(w->pool->cfg.kill_grace_ms);

	if (w->cause[0] == '\0')
		snprintf(w->cause, sizeof w->cause, "%s", cause);
	pool_worker_unset_idle(w);
	w->state = W_STOPPING;
	w->exiting = 1;
	chan_free(w->chan);
	w->chan = NULL;
	w->tstate = WT_STOP;
	evtimer_add(w->timer, &tv);
}

static void
pool_worker_timer(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;

	if (w->tstate == WT_STOP) {
		w->tstate = WT_NONE;
		log_worker(LOG_LVL_WARN, w->pool->cfg.name, w->id,
		    (long)w->pid, "still there %u ms after it was asked to "
		    "stop; SIGKILL", w->pool->cfg.kill_grace_ms);
		pool_worker_kill(w, SIGKILL, "did not stop");
	}
}

static int
pool_worker_error(struct chan *c, enum frame_err e, const struct frame_hdr *h,
    int errno_, void *arg)
{
	struct worker	*w = arg;
	struct timeval	 tv = tv_ms(w->pool->cfg.kill_grace_ms);

	chan_free(w->chan);
	w->chan = NULL;
	if (e != FRAME_OK) {
		pool_worker_kill(w, SIGKILL, frame_strerror(e));
		return 0;
	}
	/*
	 * EOF: the worker is most likely dying already and its exit status
	 * is the real cause; kill it only if it is still there after the
	 * grace period.
	 */
	if (w->state != W_STOPPING) {
		pool_worker_unset_idle(w);
		w->state = W_STOPPING;
		w->tstate = WT_STOP;
		snprintf(w->cause, sizeof w->cause, "channel closed");
		evtimer_add(w->timer, &tv);
	}
	return 0;
}

/*
 * A thread host gets a page shared with us before the fork, where a
 * crashing thread names its job (the host can no longer talk by then).
 */
static int
pool_crash_note(struct pool *p, struct worker *w)
{
	void	*page;

	w->capacity = p->cfg.isolation == ISOLATION_THREAD ? p->cfg.workers : 1;
	if (p->cfg.isolation != ISOLATION_THREAD)
		return 0;
	page = mmap(NULL, sizeof *w->crash_note, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -1;
	w->crash_note = page;
	return 0;
}

void
pool_spawn(struct pool *p)
{
	struct worker_args	 wa;
	struct worker		*w;
	int			 sv[2];
	pid_t			 pid;

	if ((w = calloc(1, sizeof *w)) == NULL ||
	    (w->timer = evtimer_new(p->sup->base, pool_worker_timer, w)) ==
	    NULL || pool_crash_note(p, w) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		goto fail;
	if ((pid = fork()) == -1) {
		close(sv[0]);
		close(sv[1]);
		goto fail;
	}
	if (pid == 0) {
		close(sv[0]);
		wa.cfg = &p->cfg;
		wa.handlers = p->handlers;
		wa.fd = sv[1];
		wa.parent = p->sup->pid;
		wa.max_payload = p->sup->cfg->max_payload;
		wa.max_segment = p->sup->cfg->max_segment;
		wa.segment_threshold = p->sup->cfg->segment_threshold <
		    wa.max_payload ? p->sup->cfg->segment_threshold :
		    wa.max_payload;
		wa.threads = w->capacity;
		wa.crash_note = w->crash_note;
		if (p->cfg.isolation == ISOLATION_THREAD)
			host_main(&wa);
		worker_main(&wa);
	}
	close(sv[1]);
	w->pool = p;
	w->id = p->next_id++;
	w->generation = p->generation;
	w->pid = pid;
	w->state = W_STARTING;
	w->start_ns = sup_now_ns();
	TAILQ_INIT(&w->sent);
	TAILQ_INIT(&w->running);
	if (p->cfg.max_jobs > 0)
		w->jobs_limit = p->cfg.max_jobs + (p->cfg.max_jobs_jitter > 0 ?
		    (uint64_t)random() % (p->cfg.max_jobs_jitter + 1) : 0);
	TAILQ_INSERT_TAIL(&p->workers, w, entry);
	p->nworkers++;
	w->chan = chan_new(p->sup->base, sv[0],
	    p->sup->cfg->max_payload + COMMIS_FRAME_OVERHEAD, dispatch_frame,
	    pool_worker_error, w);
	if (w->chan == NULL) {
		close(sv[0]);
		pool_worker_kill(w, SIGKILL, "out of memory");
	}
	log_worker(LOG_LVL_DEBUG, p->cfg.name, w->id, (long)pid, "forked");
	return;
fail:
	log_pool(LOG_LVL_WARN, p->cfg.name, "cannot start a worker: %s",
	    strerror(errno));
	if (w != NULL && w->timer != NULL)
		event_free(w->timer);
	if (w != NULL && w->crash_note != NULL)
		munmap((void *)w->crash_note, sizeof *w->crash_note);
	free(w);
	p->spawn_after_ns = sup_now_ns() + 1000000000u;
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

/* Queued jobs of a pool that cannot run them end now. */
static void
pool_fail_queue(struct pool *p, enum commis_status st, const char *cause)
{
	struct job	*job;

	while ((job = (struct job *)queue_pop(&p->queue)) != NULL)
		job_finish(p->sup->jobs, job, st, cause, NULL, 0);
}

/*
 * A restart that the pool's budget pays for (deaths while running a job
 * are the job's). More than restart_intensity in restart_period_ms puts
 * the pool in the failed state.
 */
static void
pool_count_restart(struct pool *p)
{
	unsigned	n = p->cfg.restart_intensity + 1;
	uint64_t	now = sup_now_ns(), oldest;
	char		why[160];

	p->ring[p->ring_pos] = now;
	p->ring_pos = (p->ring_pos + 1) % n;
	oldest = p->ring[p->ring_pos];	/* n restarts ago, or 0 */
	if (oldest == 0 || now - oldest >
	    (uint64_t)p->cfg.restart_period_ms * 1000000u)
		return;
	p->failed = 1;
	snprintf(why, sizeof why, "pool failed: more than %u worker restarts "
	    "in %u ms", p->cfg.restart_intensity, p->cfg.restart_period_ms);
	log_pool(LOG_LVL_WARN, p->cfg.name, "%s; no more forks until "
	    "`commis reset %s`", why, p->cfg.name);
	control_event(p->sup->control, "{\"type\":\"pool_failed\","
	    "\"pool\":\"%s\",\"cause\":\"%s\"}", p->cfg.name, why);
	evtimer_del(p->spawn_ev);
	pool_fail_queue(p, COMMIS_ST_FAILED, why);
}

static void
pool_startup_failed(struct pool *p, int status)
{
	uint64_t	delay;

	if (WIFEXITED(status) && WEXITSTATUS(status) == EXIT_WORKER_NORESPAWN) {
		log_pool(LOG_LVL_WARN, p->cfg.name, "a worker failed to start "
		    "with a configuration error (exit code %d); the pool is "
		    "down", EXIT_WORKER_NORESPAWN);
		p->down = 1;
		control_event(p->sup->control, "{\"type\":\"pool_failed\","
		    "\"pool\":\"%s\",\"cause\":\"workers fail to start\"}",
		    p->cfg.name);
		evtimer_del(p->spawn_ev);
		pool_fail_queue(p, COMMIS_ST_FAILED,
		    "pool down: workers fail to start");
		return;
	}
	p->startup_failures++;
	delay = (uint64_t)p->cfg.restart_delay_ms <<
	    (p->startup_failures > 20 ? 20 : p->startup_failures - 1);
	if (delay > p->cfg.restart_delay_max_ms)
		delay = p->cfg.restart_delay_max_ms;
	p->spawn_after_ns = sup_now_ns() + delay * 1000000u;
	log_pool(LOG_LVL_WARN, p->cfg.name, "a worker failed at start-up (%u "
	    "in a row); next start in %llu ms", p->startup_failures,
	    (unsigned long long)delay);
}

/* Which kind of restart this death makes (stats: restarts by cause). */
static void
pool_count_cause(struct pool *p, const struct worker *w, int status)
{
	struct pool_stats	*st = &p->st;

	if (!w->ready)
		st->restarts_startup++;
	else if (w->culprit != 0 || strncmp(w->cause, "timeout", 7) == 0)
		st->restarts_timeout++;
	else if (strncmp(w->cause, "max_rss", 7) == 0)
		st->restarts_rss++;
	else if (w->cause[0] != '\0')
		st->restarts_other++;
	else if (WIFSIGNALED(status))
		st->restarts_crash++;
	else
		st->restarts_exit++;
}

int
pool_reap(struct pool *p, pid_t pid, int status)
{
	struct worker	*w;
	char		 how[96];
	int		 asked, job_caused;

	TAILQ_FOREACH(w, &p->workers, entry) {
		if (w->pid == pid)
			break;
	}
	if (w == NULL)
		return 0;
	/*
	 * What it wrote before it died (STARTED, DONE) counts: a job it had
	 * started costs an attempt even if SIGCHLD came before the frame.
	 */
	w->reaped = 1;
	if (w->chan != NULL)
		chan_drain(w->chan);
	pool_describe_exit(status, how, sizeof how);
	asked = w->exiting;
	job_caused = w->nrun > 0;
	if (asked && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_worker(LOG_LVL_DEBUG, p->cfg.name, w->id, (long)pid,
		    "exited: %s; cause: %s", how, w->cause);
	else
		log_worker(LOG_LVL_WARN, p->cfg.name, w->id, (long)pid,
		    "exited: %s; cause: %s; jobs done %llu", how,
		    w->cause[0] ? w->cause : WIFSIGNALED(status) ? "crashed" :
		    "exited by itself", (unsigned long long)w->jobs_done);
	control_event(p->sup->control, "{\"type\":\"worker_exited\","
	    "\"pool\":\"%s\",\"worker\":%u,\"pid\":%ld,\"how\":\"%s\","
	    "\"cause\":\"%s\",\"jobs_done\":%llu}", p->cfg.name, w->id,
	    (long)pid, how, w->cause, (unsigned long long)w->jobs_done);
	pool_worker_unset_idle(w);
	dispatch_worker_lost(w, how);
	TAILQ_REMOVE(&p->workers, w, entry);
	p->nworkers--;
	if (!asked && !p->sup->stopping && !p->draining) {
		p->st.restarts++;
		pool_count_cause(p, w, status);
		if (!w->ready)
			pool_startup_failed(p, status);
		if (!job_caused && !p->down)
			pool_count_restart(p);
	}
	pool_worker_free(w);
	dispatch(p);
	pool_maintain(p);
	pool_drain(p);
	return 1;
}

void
pool_drain(struct pool *p)
{
	struct worker	*w, *next;
	struct job	*job;

	if (!p->sup->stopping && !p->draining)
		return;
	/* Delayed jobs would hold the drain up: they end now. */
	while ((job = TAILQ_FIRST(&p->delayed)) != NULL)
		job_cancel(p->sup->jobs, job, p->draining ? "pool removed" :
		    "supervisor shutting down", NULL);
	if (queue_len(&p->queue) > 0)
		return;
	for (w = TAILQ_FIRST(&p->workers); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->nrun == 0 && w->nsent == 0 && w->state != W_STOPPING)
			pool_retire(w, RETIRE_NOW, p->draining ? "pool removed" :
			    "shutdown");
	}
}

void
pool_stop(struct pool *p)
{
	struct worker	*w, *next;
	struct job	*job;

	evtimer_del(p->spawn_ev);
	while ((job = TAILQ_FIRST(&p->delayed)) != NULL)
		job_cancel(p->sup->jobs, job, "supervisor shutting down", NULL);
	pool_fail_queue(p, COMMIS_ST_CANCELLED, "supervisor shutting down");
	for (w = TAILQ_FIRST(&p->workers); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->state == W_STOPPING)
			continue;
		if (w->nrun == 0 && w->nsent == 0)
			pool_worker_close(w, "shutdown");
		else {
			w->exiting = 1;
			pool_worker_kill(w, SIGTERM, "shutdown");
		}
	}
}

void
pool_reconfigure(struct pool *p, const struct pool_config *cfg,
    struct handler_set *hs)
{
	struct pool_config	 old = p->cfg;
	struct worker		*w;
	uint64_t		*ring;

	if (pool_cfg_copy(&p->cfg, cfg) == -1)
		fatalx("pool %s: out of memory on reload", old.name);
	pool_cfg_clear(&old);
	handlers_free(p->handlers);
	p->handlers = hs;
	if ((ring = calloc(cfg->restart_intensity + 1, sizeof *ring)) == NULL)
		fatalx("pool %s: out of memory on reload", cfg->name);
	free(p->ring);
	p->ring = ring;
	p->ring_pos = 0;
	p->generation++;
	p->target = pool_initial_target(&p->cfg);
	if (p->tokens > p->cfg.spawn_rate)
		p->tokens = p->cfg.spawn_rate;
	/* Every worker of an older generation is replaced, new one first. */
	TAILQ_FOREACH(w, &p->workers, entry)
		pool_retire(w, RETIRE_WANTED, "reload");
	pool_maintain(p);
}

int
pool_reset(struct pool *p, char *why, size_t whylen)
{
	if (!p->failed && !p->down) {
		snprintf(why, whylen, "pool %s is not failed", p->cfg.name);
		return -1;
	}
	log_pool(LOG_LVL_INFO, p->cfg.name, "reset by an operator");
	p->failed = p->down = 0;
	p->startup_failures = 0;
	p->spawn_after_ns = 0;
	memset(p->ring, 0, (p->cfg.restart_intensity + 1) * sizeof *p->ring);
	pool_maintain(p);
	return 0;
}

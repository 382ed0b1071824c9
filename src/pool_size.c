/*
 * How many workers a pool wants and which ones go: the target for each
 * mode (static, dynamic, ondemand) and for `commis scale`, forking up to it
 * as spawn_rate and the start-up backoff allow, shrinking idle workers
 * first, and recycling (max_jobs with jitter, max_rss, max_lifetime_ms,
 * the ondemand idle timeout). pool_retire() marks a worker to be replaced,
 * its replacement ready before it goes, or to go now; reloads and drains
 * use it too.
 * Part of the pool module (see pool.h): forking, reaping and killing a
 * worker are pool.c's; which job runs where is dispatch.c's.
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "dispatch.h"
#include "log.h"
#include "pool.h"
#include "pool_int.h"
#include "queue.h"
#include "sup.h"

/* Processes wanted: a thread pool is one host of `workers` threads. */
unsigned
pool_initial_target(const struct pool_config *cfg)
{
	if (cfg->isolation == ISOLATION_THREAD)
		return 1;
	return cfg->mode == POOL_MODE_STATIC ? cfg->workers : cfg->max_workers;
}

/* How many serving workers the pool should have now. */
static unsigned
pool_want(struct pool *p, unsigned serving, unsigned idle)
{
	const struct pool_config	*c = &p->cfg;
	unsigned			 want = serving, lo = c->min_workers;
	size_t				 queued = queue_len(&p->queue);

	switch (c->mode) {
	case POOL_MODE_STATIC:
		return p->target;
	case POOL_MODE_DYNAMIC:
		if (idle < c->min_spare)
			want = serving + (c->min_spare - idle);
		else if (idle > c->max_spare)
			want = serving - (idle - c->max_spare);
		break;
	case POOL_MODE_ONDEMAND:
		/* Grow with the queue; idle workers retire in pool_tick. */
		if (queued > idle)
			want = serving + (unsigned)(queued - idle);
		break;
	}
	if (want < lo)
		want = lo;
	return want > p->target ? p->target : want;
}

/* Forks now, or says when it may: spawn_rate and start-up backoff. */
static int
pool_may_spawn(struct pool *p, uint64_t *wait_ms)
{
	uint64_t	now = sup_now_ns();

	p->tokens += (double)(now - p->tokens_ns) / 1e9 * p->cfg.spawn_rate;
	if (p->tokens > p->cfg.spawn_rate)
		p->tokens = p->cfg.spawn_rate;
	p->tokens_ns = now;
	if (now < p->spawn_after_ns) {
		*wait_ms = (p->spawn_after_ns - now) / 1000000u + 1;
		return 0;
	}
	if (p->tokens < 1.0) {
		*wait_ms = (uint64_t)((1.0 - p->tokens) * 1000.0 /
		    p->cfg.spawn_rate) + 1;
		return 0;
	}
	p->tokens -= 1.0;
	return 1;
}

void
pool_maintain(struct pool *p)
{
	struct worker	*w, *next;
	unsigned	 serving = 0, ready = 0, idle = 0, wanted = 0, want;
	uint64_t	 wait_ms;
	struct timeval	 tv;

	TAILQ_FOREACH(w, &p->workers, entry) {
		if (w->state == W_STOPPING || w->retire == RETIRE_NOW)
			continue;
		if (w->retire == RETIRE_WANTED) {
			wanted++;
			continue;
		}
		serving++;
		if (w->ready)
			ready++;
		if (w->state == W_IDLE)
			idle++;
	}
	if (p->sup->stopping == SUP_STOP_FAST)
		return;
	if (p->sup->stopping || p->draining) {
		/* Draining: only a queue left without any worker gets one. */
		if (serving > 0 || queue_len(&p->queue) == 0 || p->failed ||
		    p->down)
			return;
		want = 1;
	} else
		want = pool_want(p, serving, idle);
	/* Shrink: idle workers first, the longest idle first. */
	for (w = TAILQ_FIRST(&p->idle); w != NULL && serving > want &&
	    !p->draining && !p->sup->stopping; w = next) {
		next = TAILQ_NEXT(w, idle_entry);
		if (w->retire == RETIRE_NONE) {
			pool_retire(w, RETIRE_NOW, "pool shrinks");
			serving--;
		}
	}
	/* Replacements are ready: let the old workers go. */
	TAILQ_FOREACH(w, &p->workers, entry) {
		if (w->retire == RETIRE_WANTED && ready + wanted > want) {
			pool_retire(w, RETIRE_NOW, w->cause);
			wanted--;
		}
	}
	if (p->failed || p->down)
		return;
	while (serving < want) {
		if (!pool_may_spawn(p, &wait_ms)) {
			tv = tv_ms(wait_ms);
			evtimer_add(p->spawn_ev, &tv);
			break;
		}
		pool_spawn(p);
		serving++;
	}
}

void
pool_spawn_cb(evutil_socket_t fd, short ev, void *arg)
{
	pool_maintain(arg);
}

void
pool_retire(struct worker *w, enum worker_retire how, const char *why)
{
	if (w->state == W_STOPPING || w->retire >= how)
		return;
	if (w->retire == RETIRE_NONE && w->ready)
		log_worker(LOG_LVL_DEBUG, w->pool->cfg.name, w->id,
		    (long)w->pid, "to be replaced: %s", why);
	if (w->retire == RETIRE_NONE)
		snprintf(w->cause, sizeof w->cause, "%s", why);
	w->retire = how;
	if (how == RETIRE_NOW) {
		/* No new job: its prefetched ones go to other workers. */
		pool_worker_unset_idle(w);
		dispatch_revoke_all(w);
		if (w->nrun == 0 && w->nsent == 0)
			pool_worker_close(w, why);
	}
}

/* After a job: max_jobs and max_rss retire the worker (replaced first). */
void
pool_after_job(struct worker *w)
{
	struct pool	*p = w->pool;
	uint64_t	 rss;
	char		 why[96];

	if (w->retire != RETIRE_NONE)
		return;
	if (w->jobs_limit > 0 && w->jobs_done >= w->jobs_limit) {
		snprintf(why, sizeof why, "max_jobs reached (%llu jobs)",
		    (unsigned long long)w->jobs_done);
		pool_retire(w, RETIRE_WANTED, why);
		p->st.recycled++;
	} else if (p->cfg.max_rss > 0 &&
	    (rss = pool_worker_rss(w->pid)) > p->cfg.max_rss) {
		snprintf(why, sizeof why, "max_rss exceeded: %llu KiB",
		    (unsigned long long)(rss >> 10));
		pool_retire(w, RETIRE_WANTED, why);
		p->st.recycled++;
	}
}

/* Once a second: RSS cap while running, lifetime, ondemand idle timeout. */
void
pool_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct pool	*p = arg;
	struct worker	*w, *next;
	uint64_t	 now = sup_now_ns(), rss;
	char		 why[96];
	unsigned	 serving = 0;

	TAILQ_FOREACH(w, &p->workers, entry) {
		if (w->state != W_STOPPING && w->retire != RETIRE_NOW)
			serving++;
	}
	for (w = TAILQ_FIRST(&p->workers); w != NULL; w = next) {
		next = TAILQ_NEXT(w, entry);
		if (w->state == W_STOPPING || !w->ready)
			continue;
		if (p->cfg.max_rss > 0 && w->nrun > 0 &&
		    (rss = pool_worker_rss(w->pid)) > p->cfg.max_rss) {
			snprintf(why, sizeof why, "max_rss exceeded: %llu KiB "
			    "while running job %llu",
			    (unsigned long long)(rss >> 10), (unsigned long long)
			    TAILQ_FIRST(&w->running)->id);
			pool_worker_kill(w, SIGKILL, why);
			continue;
		}
		if (p->cfg.max_lifetime_ms > 0 && now - w->start_ns >
		    (uint64_t)p->cfg.max_lifetime_ms * 1000000u)
			pool_retire(w, RETIRE_WANTED, "max_lifetime_ms reached");
		if (p->cfg.mode == POOL_MODE_ONDEMAND && w->state == W_IDLE &&
		    w->retire == RETIRE_NONE && serving > p->cfg.min_workers &&
		    now - w->idle_ns > (uint64_t)p->cfg.idle_timeout_ms *
		    1000000u) {
			pool_retire(w, RETIRE_NOW, "idle_timeout_ms reached");
			serving--;
		}
	}
	pool_fair_prune(p);
	pool_maintain(p);
}

/* Reads a worker's resident set size from /proc; 0 if unknown. */
uint64_t
pool_worker_rss(pid_t pid)
{
	char			 path[64];
	unsigned long long	 size, rss = 0;
	FILE			*f;

	snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

int
pool_scale(struct pool *p, unsigned n, char *why, size_t whylen)
{
	struct worker	*w;

	if (n < 1 || n > 1024) {
		snprintf(why, whylen, "size %u is out of range 1..1024", n);
		return -1;
	}
	if (p->cfg.mode != POOL_MODE_STATIC && n < p->cfg.min_workers) {
		snprintf(why, whylen, "size %u is below min_workers (%u)", n,
		    p->cfg.min_workers);
		return -1;
	}
	if (p->cfg.isolation == ISOLATION_THREAD) {
		/* A new host with n threads replaces the old one. */
		log_pool(LOG_LVL_INFO, p->cfg.name, "scaled from %u to %u "
		    "threads", p->cfg.workers, n);
		p->cfg.workers = n;
		p->generation++;
		TAILQ_FOREACH(w, &p->workers, entry)
			pool_retire(w, RETIRE_WANTED, "scale");
		pool_maintain(p);
		return 0;
	}
	log_pool(LOG_LVL_INFO, p->cfg.name, "scaled from %u to %u workers%s",
	    p->target, n, p->cfg.mode == POOL_MODE_STATIC ? "" : " at most");
	p->target = n;
	pool_maintain(p);
	return 0;
}

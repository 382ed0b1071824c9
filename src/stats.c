/*
 * Stats rendering: reads the supervisor, its pools and their workers and
 * writes JSON (the schema in docs/operations.md is stable: fields are only
 * ever added) or a table. Counts only; this module changes nothing.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "control.h"
#include "durable.h"
#include "hist.h"
#include "idem.h"
#include "job.h"
#include "pool.h"
#include "stats.h"
#include "sup.h"
#include "version.h"

#define NS_PER_MS	1000000u

static const char *
stats_pool_state(const struct pool *p)
{
	if (p->draining)
		return "draining";
	if (p->failed)
		return "failed";
	if (p->down)
		return "down";
	return "running";
}

static const char *
stats_retire_name(enum worker_retire r)
{
	return r == RETIRE_NONE ? "no" : r == RETIRE_WANTED ? "replacing" :
	    "retiring";
}

void
stats_json_str(struct evbuffer *eb, const char *s)
{
	evbuffer_add(eb, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			evbuffer_add_printf(eb, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			evbuffer_add_printf(eb, "\\u%04x", (unsigned char)*s);
		else
			evbuffer_add(eb, s, 1);
	}
	evbuffer_add(eb, "\"", 1);
}

/* A process's user + system CPU time in ms, from /proc/PID/stat. */
static uint64_t
stats_cpu_ms(pid_t pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long long	 ut = 0, st = 0;
	FILE			*f;
	int			 i;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	p = fgets(buf, sizeof buf, f);
	fclose(f);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return 0;
	/* Fields 14 and 15 (utime, stime), counting from 1; ')' ends 2. */
	for (i = 2; i < 14 && p != NULL; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %llu %llu", &ut, &st) != 2)
		return 0;
	return (ut + st) * 1000 / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* Job slots: workers, or a thread pool's threads. */
unsigned
stats_pool_size(const struct pool *p)
{
	return p->cfg.isolation == ISOLATION_THREAD ? p->cfg.workers :
	    p->target;
}

/* Free job slots on ready workers that take jobs. */
unsigned
stats_pool_available(const struct pool *p)
{
	const struct worker	*w;
	unsigned		 n = 0;

	TAILQ_FOREACH(w, &p->workers, entry) {
		if (!w->ready || w->state == W_STOPPING ||
		    w->retire == RETIRE_NOW || w->nrun + w->nsent >= w->capacity)
			continue;
		n += w->capacity - w->nrun - w->nsent;
	}
	return n;
}

static void
stats_json_worker(struct evbuffer *eb, const struct worker *w, uint64_t now)
{
	const struct job	*job = TAILQ_FIRST(&w->running);

	evbuffer_add_printf(eb, "{\"id\":%u,\"pid\":%ld,\"state\":\"%s\","
	    "\"generation\":%u,\"retire\":\"%s\",\"age_ms\":%llu,"
	    "\"jobs_done\":%llu,\"threads\":%u,\"running\":%u,"
	    "\"prefetched\":%u,\"rss_kb\":%llu,\"cpu_ms\":%llu,", w->id,
	    (long)w->pid,
	    pool_worker_state_name(w->state), w->generation,
	    stats_retire_name(w->retire),
	    (unsigned long long)((now - w->start_ns) / NS_PER_MS),
	    (unsigned long long)w->jobs_done, w->capacity, w->nrun, w->nsent,
	    (unsigned long long)(pool_worker_rss(w->pid) / 1024),
	    (unsigned long long)stats_cpu_ms(w->pid));
	/* The oldest running job (threads may run more). */
	if (job != NULL)
		evbuffer_add_printf(eb, "\"job\":%llu,\"job_age_ms\":%llu}",
		    (unsigned long long)job->id,
		    (unsigned long long)((now - job->start_ns) / NS_PER_MS));
	else
		evbuffer_add_printf(eb, "\"job\":null,\"job_age_ms\":null}");
}

/* p50, p90, p99, max and count of a histogram, in microseconds. */
static void
stats_json_hist(struct evbuffer *eb, const char *name, const struct hist *h)
{
	evbuffer_add_printf(eb, "\"%s\":{\"p50\":%llu,\"p90\":%llu,"
	    "\"p99\":%llu,\"max\":%llu,\"count\":%llu}", name,
	    (unsigned long long)hist_quantile(h, 0.50),
	    (unsigned long long)hist_quantile(h, 0.90),
	    (unsigned long long)hist_quantile(h, 0.99),
	    (unsigned long long)hist_max(h),
	    (unsigned long long)hist_count(h));
}

/* "latency" (the whole run) and "latency_1m" (the last minute). */
static void
stats_json_latency(struct evbuffer *eb, const struct pool *p, uint64_t now)
{
	const struct histw	*hw[] = { p->h_queue, p->h_run, p->h_e2e };
	static const char	*names[] = { "queue", "run", "e2e" };
	struct hist		*recent = hist_new();
	size_t			 i;

	evbuffer_add_printf(eb, "\"latency\":{");
	for (i = 0; i < 3; i++) {
		if (i > 0)
			evbuffer_add(eb, ",", 1);
		stats_json_hist(eb, names[i], histw_total(hw[i]));
	}
	evbuffer_add_printf(eb, "},\"latency_1m\":{");
	for (i = 0; recent != NULL && i < 3; i++) {
		if (i > 0)
			evbuffer_add(eb, ",", 1);
		histw_recent(hw[i], now, recent);
		stats_json_hist(eb, names[i], recent);
	}
	evbuffer_add_printf(eb, "},");
	hist_free(recent);
}

static void
stats_json_pool(struct evbuffer *eb, const struct pool *p, uint64_t now)
{
	const struct pool_stats	*s = &p->st;
	const struct worker	*w;
	int			 first = 1;

	evbuffer_add_printf(eb, "{\"name\":\"%s\",\"isolation\":\"%s\","
	    "\"mode\":\"%s\",\"state\":\"%s\",\"generation\":%u,\"size\":%u,"
	    "\"workers\":%u,\"active\":%u,\"available\":%u,\"starting\":%u,"
	    "\"queued\":%zu,\"delayed\":%u,\"queue_max\":%u,", p->cfg.name,
	    p->cfg.isolation == ISOLATION_THREAD ? "thread" : "process",
	    pool_mode_name(p->cfg.mode), stats_pool_state(p), p->generation,
	    stats_pool_size(p), p->nworkers, p->nrunning, stats_pool_available(p),
	    pool_count(p, W_STARTING), queue_len(&p->queue), p->ndelayed,
	    p->cfg.queue_max);
	evbuffer_add_printf(eb, "\"jobs\":{\"submitted\":%llu,\"rejected\":%llu,"
	    "\"succeeded\":%llu,\"failed\":%llu,\"timedout\":%llu,"
	    "\"crashed\":%llu,\"cancelled\":%llu,\"expired\":%llu,"
	    "\"dead\":%llu,\"retried\":%llu,\"rebalanced\":%llu},"
	    "\"restarts\":%llu,\"recycled\":%llu,\"blast_events\":%llu,"
	    "\"blast_requeued\":%llu,",
	    (unsigned long long)s->submitted, (unsigned long long)s->rejected,
	    (unsigned long long)s->succeeded, (unsigned long long)s->failed,
	    (unsigned long long)s->timedout, (unsigned long long)s->crashed,
	    (unsigned long long)s->cancelled, (unsigned long long)s->expired,
	    (unsigned long long)s->dead, (unsigned long long)s->retried,
	    (unsigned long long)s->rebalanced, (unsigned long long)s->restarts,
	    (unsigned long long)s->recycled,
	    (unsigned long long)s->blast_events,
	    (unsigned long long)s->blast_requeued);
	evbuffer_add_printf(eb, "\"restarts_by_cause\":{\"crash\":%llu,"
	    "\"exit\":%llu,\"timeout\":%llu,\"max_rss\":%llu,"
	    "\"other\":%llu,\"startup\":%llu},",
	    (unsigned long long)s->restarts_crash,
	    (unsigned long long)s->restarts_exit,
	    (unsigned long long)s->restarts_timeout,
	    (unsigned long long)s->restarts_rss,
	    (unsigned long long)s->restarts_other,
	    (unsigned long long)s->restarts_startup);
	stats_json_latency(eb, p, now);
	durable_stats_json(p, eb);
	evbuffer_add_printf(eb, "\"worker_list\":[");
	TAILQ_FOREACH(w, &p->workers, entry) {
		if (!first)
			evbuffer_add(eb, ",", 1);
		first = 0;
		stats_json_worker(eb, w, now);
	}
	evbuffer_add_printf(eb, "]}");
}

void
stats_json(struct supervisor *sup, struct evbuffer *eb)
{
	uint64_t	now = sup_now_ns();
	size_t		i;

	evbuffer_add_printf(eb, "{\"version\":\"%s\",\"pid\":%ld,"
	    "\"uptime_ms\":%llu,\"connections\":%zu,\"dropped\":%llu,"
	    "\"refused\":%llu,"
	    "\"denied\":%llu,\"slow_clients\":%llu,\"throttled\":%zu,"
	    "\"output_bytes\":%zu,\"jobs\":%zu,"
	    "\"segments\":%zu,"
	    "\"results_kept\":%zu,\"results_bytes\":%zu,\"dead\":%zu,"
	    "\"idempotency_keys\":%zu,"
	    "\"reloads\":%llu,\"stopping\":%s,\"pools\":[", COMMIS_VERSION,
	    (long)sup->pid,
	    (unsigned long long)((now - sup->start_ns) / NS_PER_MS),
	    control_nconns(sup->control),
	    (unsigned long long)control_stats(sup->control)->dropped,
	    (unsigned long long)control_stats(sup->control)->refused,
	    (unsigned long long)control_stats(sup->control)->denied,
	    (unsigned long long)control_stats(sup->control)->slow,
	    control_throttled(sup->control),
	    control_pending(sup->control), job_active(sup->jobs),
	    job_seg_count(sup->jobs),
	    job_kept_count(sup->jobs), job_kept_bytes(sup->jobs),
	    job_dead_count(sup->jobs), idem_count(sup->idem),
	    (unsigned long long)sup->reloads,
	    sup->stopping ? "true" : "false");
	for (i = 0; i < sup->npools; i++) {
		if (i > 0)
			evbuffer_add(eb, ",", 1);
		stats_json_pool(eb, sup->pools[i], now);
	}
	evbuffer_add_printf(eb, "]}\n");
}

static void
stats_text_pool(struct evbuffer *eb, const struct pool *p, uint64_t now)
{
	const struct pool_stats	*s = &p->st;
	const struct worker	*w;
	const struct job	*job;

	evbuffer_add_printf(eb, "%-12s %-8s %4u %6u %9u %6zu %9llu %9llu "
	    "%6llu %8llu %7llu %5llu %7llu %8llu  %s\n", p->cfg.name,
	    pool_mode_name(p->cfg.mode), stats_pool_size(p), p->nrunning,
	    stats_pool_available(p), pool_queued(p),
	    (unsigned long long)s->submitted, (unsigned long long)s->succeeded,
	    (unsigned long long)s->failed, (unsigned long long)s->timedout,
	    (unsigned long long)s->crashed, (unsigned long long)s->dead,
	    (unsigned long long)s->retried, (unsigned long long)s->restarts,
	    stats_pool_state(p));
	TAILQ_FOREACH(w, &p->workers, entry) {
		evbuffer_add_printf(eb, "  worker %-4u pid %-8ld %-9s gen %-3u "
		    "jobs %-8llu", w->id, (long)w->pid,
		    pool_worker_state_name(w->state), w->generation,
		    (unsigned long long)w->jobs_done);
		if ((job = TAILQ_FIRST(&w->running)) != NULL)
			evbuffer_add_printf(eb, " job %llu for %llu ms%s",
			    (unsigned long long)job->id, (unsigned long long)
			    ((now - job->start_ns) / NS_PER_MS),
			    w->nrun > 1 ? " (+ more)" : "");
		if (w->capacity > 1)
			evbuffer_add_printf(eb, " threads %u running %u",
			    w->capacity, w->nrun);
		if (w->nsent > 0)
			evbuffer_add_printf(eb, " +%u prefetched", w->nsent);
		if (w->retire != RETIRE_NONE)
			evbuffer_add_printf(eb, " (%s: %s)",
			    stats_retire_name(w->retire), w->cause);
		evbuffer_add(eb, "\n", 1);
	}
}

void
stats_text(struct supervisor *sup, struct evbuffer *eb)
{
	uint64_t	now = sup_now_ns();
	size_t		i;

	evbuffer_add_printf(eb, "commisd %s pid %ld, up %.1f s, %zu "
	    "connection(s), %zu job(s) in flight, %zu result(s) kept "
	    "(%zu bytes), %zu dead%s\n\n", COMMIS_VERSION, (long)sup->pid,
	    (double)(now - sup->start_ns) / 1e9, control_nconns(sup->control),
	    job_active(sup->jobs), job_kept_count(sup->jobs),
	    job_kept_bytes(sup->jobs), job_dead_count(sup->jobs),
	    sup->stopping ? ", shutting down" : "");
	evbuffer_add_printf(eb, "%-12s %-8s %4s %6s %9s %6s %9s %9s %6s %8s "
	    "%7s %5s %7s %8s  %s\n", "POOL", "MODE", "SIZE", "ACTIVE",
	    "AVAILABLE", "QUEUED", "SUBMITTED", "SUCCEEDED", "FAILED",
	    "TIMEDOUT", "CRASHED", "DEAD", "RETRIED", "RESTARTS", "STATE");
	for (i = 0; i < sup->npools; i++)
		stats_text_pool(eb, sup->pools[i], now);
}

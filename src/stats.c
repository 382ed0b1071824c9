/*
 * Stats rendering: reads the supervisor, its pools and their workers and
 * writes JSON (the schema in docs/operations.md is stable) or a table.
 * Counts only; this module changes nothing.
 */
#include <event2/buffer.h>

#include "control.h"
#include "pool.h"
#include "stats.h"
#include "sup.h"
#include "version.h"

#define NS_PER_MS	1000000u

static unsigned
stats_count(const struct pool *p, enum worker_state st)
{
	unsigned	i, n = 0;

	for (i = 0; i < p->nslots; i++) {
		if (p->slots[i].w != NULL && p->slots[i].w->state == st)
			n++;
	}
	return n;
}

static void
stats_json_worker(struct evbuffer *eb, const struct worker *w, uint64_t now)
{
	evbuffer_add_printf(eb, "{\"slot\":%u,\"pid\":%ld,\"state\":\"%s\","
	    "\"age_ms\":%llu,\"jobs_done\":%llu,", w->slot, (long)w->pid,
	    pool_worker_state_name(w->state),
	    (unsigned long long)((now - w->start_ns) / NS_PER_MS),
	    (unsigned long long)w->jobs_done);
	if (w->job != NULL)
		evbuffer_add_printf(eb, "\"job\":%llu,\"job_age_ms\":%llu}",
		    (unsigned long long)w->job->id,
		    (unsigned long long)((now - w->job_start_ns) / NS_PER_MS));
	else
		evbuffer_add_printf(eb, "\"job\":null,\"job_age_ms\":null}");
}

static void
stats_json_pool(struct evbuffer *eb, const struct pool *p, uint64_t now)
{
	const struct pool_stats	*s = &p->st;
	unsigned		 i, first = 1;

	evbuffer_add_printf(eb, "{\"name\":\"%s\",\"isolation\":\"process\","
	    "\"size\":%u,\"alive\":%u,\"active\":%u,\"available\":%u,"
	    "\"starting\":%u,\"queued\":%zu,\"queue_max\":%u,\"down\":%s,",
	    p->cfg->name, p->nslots, p->nalive, p->nbusy, pool_idle_count(p),
	    stats_count(p, W_STARTING), queue_len(&p->queue),
	    p->cfg->queue_max, p->down ? "true" : "false");
	evbuffer_add_printf(eb, "\"jobs\":{\"submitted\":%llu,\"rejected\":%llu,"
	    "\"succeeded\":%llu,\"failed\":%llu,\"timedout\":%llu,"
	    "\"crashed\":%llu,\"cancelled\":%llu,\"retried\":%llu},"
	    "\"restarts\":%llu,\"workers\":[",
	    (unsigned long long)s->submitted, (unsigned long long)s->rejected,
	    (unsigned long long)s->succeeded, (unsigned long long)s->failed,
	    (unsigned long long)s->timedout, (unsigned long long)s->crashed,
	    (unsigned long long)s->cancelled, (unsigned long long)s->retried,
	    (unsigned long long)s->restarts);
	for (i = 0; i < p->nslots; i++) {
		if (p->slots[i].w == NULL)
			continue;
		if (!first)
			evbuffer_add(eb, ",", 1);
		first = 0;
		stats_json_worker(eb, p->slots[i].w, now);
	}
	evbuffer_add_printf(eb, "]}");
}

void
stats_json(struct supervisor *sup, struct evbuffer *eb)
{
	uint64_t	now = sup_now_ns();
	size_t		i;

	evbuffer_add_printf(eb, "{\"version\":\"%s\",\"pid\":%ld,"
	    "\"uptime_ms\":%llu,\"connections\":%zu,\"jobs\":%zu,\"pools\":[",
	    COMMIS_VERSION, (long)sup->pid,
	    (unsigned long long)((now - sup->start_ns) / NS_PER_MS),
	    control_nconns(sup->control), idmap_len(&sup->jobs));
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
	unsigned		 i;

	evbuffer_add_printf(eb, "%-16s %4u %6u %9u %6zu %9llu %9llu %6llu "
	    "%8llu %7llu %7llu %8llu%s\n", p->cfg->name, p->nslots, p->nbusy,
	    pool_idle_count(p), queue_len(&p->queue),
	    (unsigned long long)s->submitted, (unsigned long long)s->succeeded,
	    (unsigned long long)s->failed, (unsigned long long)s->timedout,
	    (unsigned long long)s->crashed, (unsigned long long)s->retried,
	    (unsigned long long)s->restarts, p->down ? "  DOWN" : "");
	for (i = 0; i < p->nslots; i++) {
		if ((w = p->slots[i].w) == NULL) {
			evbuffer_add_printf(eb, "  slot %-3u %-8s %-9s\n", i, "-",
			    "restarting");
			continue;
		}
		evbuffer_add_printf(eb, "  slot %-3u pid %-8ld %-9s jobs %-8llu",
		    i, (long)w->pid, pool_worker_state_name(w->state),
		    (unsigned long long)w->jobs_done);
		if (w->job != NULL)
			evbuffer_add_printf(eb, " job %llu for %llu ms",
			    (unsigned long long)w->job->id, (unsigned long long)
			    ((now - w->job_start_ns) / NS_PER_MS));
		evbuffer_add(eb, "\n", 1);
	}
}

void
stats_text(struct supervisor *sup, struct evbuffer *eb)
{
	uint64_t	now = sup_now_ns();
	size_t		i;

	evbuffer_add_printf(eb, "commisd %s pid %ld, up %.1f s, %zu "
	    "connection(s), %zu job(s) in flight\n\n", COMMIS_VERSION,
	    (long)sup->pid, (double)(now - sup->start_ns) / 1e9,
	    control_nconns(sup->control), idmap_len(&sup->jobs));
	evbuffer_add_printf(eb, "%-16s %4s %6s %9s %6s %9s %9s %6s %8s %7s "
	    "%7s %8s\n", "POOL", "SIZE", "ACTIVE", "AVAILABLE", "QUEUED",
	    "SUBMITTED", "SUCCEEDED", "FAILED", "TIMEDOUT", "CRASHED",
	    "RETRIED", "RESTARTS");
	for (i = 0; i < sup->npools; i++)
		stats_text_pool(eb, sup->pools[i], now);
}

/*
 * commis bench: the pools seen from outside. Reads one pool's part of
 * `commis stats --json` (the schema of docs/operations.md) with a small
 * scanner rather than a JSON library, which the CLI does not have and the
 * figures do not need, and polls it, with deadlines, until a pool is at
 * full capacity or runs a number of jobs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_bench.h"

#define BENCH_READY_MS		15000	/* a pool whole again */

/* Past the object or array that starts at p, or NULL if it does not end. */
static const char *
bench_json_skip(const char *p, const char *end)
{
	int	depth = 0, in_str = 0;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\')
				p++;
			else if (*p == '"')
				in_str = 0;
			continue;
		}
		if (*p == '"')
			in_str = 1;
		else if (*p == '{' || *p == '[')
			depth++;
		else if ((*p == '}' || *p == ']') && --depth == 0)
			return p + 1;
	}
	return NULL;
}

/* Where the value of "key" starts in [p, end), or NULL. */
static const char *
bench_json_at(const char *p, const char *end, const char *key)
{
	char		 pat[64];
	const char	*q;
	int		 n;

	n = snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((q = memmem(p, (size_t)(end - p), pat, (size_t)n)) == NULL)
		return NULL;
	return q + n;
}

static long long
bench_json_num(const char *p, const char *end, const char *key,
    long long def)
{
	const char	*v;

	if ((v = bench_json_at(p, end, key)) == NULL ||
	    ((*v < '0' || *v > '9') && *v != '-'))
		return def;
	return strtoll(v, NULL, 10);
}

static void
bench_json_strval(const char *p, const char *end, const char *key,
    char *buf, size_t size)
{
	const char	*v;
	size_t		 n = 0;

	if ((v = bench_json_at(p, end, key)) != NULL && *v == '"') {
		for (v++; v < end && *v != '"' && n + 1 < size; v++)
			buf[n++] = *v;
	}
	buf[n] = '\0';
}

/* The objects of a worker_list array at p. */
static void
bench_json_workers(const char *p, const char *end, struct bench_pstat *s)
{
	struct bench_wstat	*w;
	const char		*e;

	for (p++; p < end && *p != ']' && s->nw < BENCH_WMAX; p++) {
		if (*p != '{')
			continue;
		if ((e = bench_json_skip(p, end)) == NULL)
			return;
		w = &s->w[s->nw++];
		w->pid = (long)bench_json_num(p, e, "pid", 0);
		w->threads = (unsigned)bench_json_num(p, e, "threads", 1);
		w->running = (unsigned)bench_json_num(p, e, "running",
		    bench_json_num(p, e, "job", -1) >= 0);
		p = e - 1;
	}
}

/* Reads one pool's figures out of a stats text. */
static int
bench_parse_pool(const char *json, const char *name, struct bench_pstat *s)
{
	const char	*p, *end, *wl, *jend = json + strlen(json);
	char		 pat[64];

	memset(s, 0, sizeof *s);
	snprintf(pat, sizeof pat, "{\"name\":\"%s\"", name);
	if ((p = strstr(json, pat)) == NULL ||
	    (end = bench_json_skip(p, jend)) == NULL)
		return -1;
	/* Pool-level keys come before the worker list, which repeats some. */
	if ((wl = bench_json_at(p, end, "worker_list")) == NULL)
		wl = end;
	bench_json_strval(p, wl, "isolation", s->isolation,
	    sizeof s->isolation);
	bench_json_strval(p, wl, "state", s->state, sizeof s->state);
	s->size = bench_json_num(p, wl, "size", -1);
	s->workers = bench_json_num(p, wl, "workers", -1);
	s->active = bench_json_num(p, wl, "active", -1);
	s->available = bench_json_num(p, wl, "available", -1);
	s->starting = bench_json_num(p, wl, "starting", -1);
	s->queued = bench_json_num(p, wl, "queued", -1);
	s->retried = bench_json_num(p, wl, "retried", -1);
	s->blast_events = bench_json_num(p, wl, "blast_events", -1);
	s->blast_requeued = bench_json_num(p, wl, "blast_requeued", -1);
	if (wl != end && *wl == '[')
		bench_json_workers(wl, end, s);
	return 0;
}

int
bench_pstat(struct bench *b, enum bench_pool pool, struct bench_pstat *s)
{
	char	*json;
	int	 rc;

	if (commis_stats(b->cl, COMMIS_STATS_JSON, &json) != COMMIS_OK)
		return bench_err(b, "stats: %s", commis_client_error(b->cl));
	if (b->dversion[0] == '\0')
		bench_json_strval(json, json + strlen(json), "version",
		    b->dversion, sizeof b->dversion);
	rc = bench_parse_pool(json, bench_pool_name(pool), s);
	if (rc == -1)
		bench_err(b, "stats: no pool %s in %.200s",
		    bench_pool_name(pool), json);
	free(json);
	return rc;
}

/* Whether a pid of before is gone from now. */
static int
bench_pid_gone(const struct bench_pstat *before,
    const struct bench_pstat *now)
{
	unsigned	i, j;

	for (i = 0; i < before->nw; i++) {
		for (j = 0; j < now->nw; j++) {
			if (now->w[j].pid == before->w[i].pid)
				break;
		}
		if (j == now->nw)
			return 1;
	}
	return 0;
}

/*
 * Full capacity: the pool runs, nothing is starting, and its job slots
 * (worker processes, or a host's threads) are all either free or running
 * a job. With before, a worker of that snapshot must also have gone, so
 * that a death not yet noticed does not pass for a recovery.
 */
static int
bench_full(const struct bench *b, const struct bench_pstat *s,
    const struct bench_pstat *before)
{
	if (strcmp(s->state, "running") != 0 || s->starting != 0 ||
	    s->available < 0 || s->active < 0 ||
	    s->available + s->active < (long long)b->workers)
		return 0;
	return before == NULL || bench_pid_gone(before, s);
}

/* Polls until the pool is at full capacity; *ns: when it was seen so. */
int
bench_wait_ready(struct bench *b, enum bench_pool pool,
    const struct bench_pstat *before, uint64_t *ns)
{
	struct bench_pstat	s;
	uint64_t		deadline, now;

	deadline = bench_now_ns() + BENCH_READY_MS * 1000000ull;
	for (;;) {
		if (bench_interrupted(b) || bench_pstat(b, pool, &s) == -1)
			return -1;
		now = bench_now_ns();
		if (bench_full(b, &s, before)) {
			if (ns != NULL)
				*ns = now;
			return 0;
		}
		if (strcmp(s.state, "failed") == 0 ||
		    strcmp(s.state, "down") == 0)
			return bench_err(b, "pool %s is %s",
			    bench_pool_name(pool), s.state);
		if (now >= deadline)
			return bench_err(b, "pool %s: not back to %u job slots "
			    "within %d ms (%lld free, %lld running, %lld "
			    "starting)", bench_pool_name(pool), b->workers,
			    BENCH_READY_MS, s.available, s.active, s.starting);
		bench_nap();
	}
}

/* Polls until n jobs run in the pool. */
int
bench_wait_active(struct bench *b, enum bench_pool pool, long long n)
{
	struct bench_pstat	s;
	uint64_t		deadline;

	deadline = bench_now_ns() + BENCH_READY_MS * 1000000ull;
	for (;;) {
		if (bench_interrupted(b) || bench_pstat(b, pool, &s) == -1)
			return -1;
		if (s.active >= n)
			return 0;
		if (bench_now_ns() >= deadline)
			return bench_err(b, "pool %s: %lld of %lld jobs "
			    "running after %d ms", bench_pool_name(pool),
			    s.active, n, BENCH_READY_MS);
		bench_nap();
	}
}

/*
 * The chaos run (tests/chaos/): test.mark tokens submitted 256 at a
 * time on one async connection and their results collected; the stats,
 * polled on the other connection, for the workers' pids and the pool's
 * shape; and the disruptions, fired at the scheduled completion counts.
 * Reloads and scale changes return only once commisd has applied them,
 * so that the configured size the checker expects is commisd's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chaos.h"

static void
chaos_saw_pid(struct chaos *c, long pid)
{
	size_t	i;

	for (i = c->npids; i > 0; i--)
		if (c->pids[i - 1].pid == pid)
			return;
	if (c->npids == CHAOS_MAX_PIDS)
		chaos_fatal(c, "more than %d worker pids", CHAOS_MAX_PIDS);
	c->pids[c->npids].pid = pid;
	c->pids[c->npids].start = chaos_start_time(pid);
	c->npids++;
}

static long long
chaos_json_num(const char *json, const char *key)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof pat, "\"%s\":", key);
	if ((p = strstr(json, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* Reads the stats: totals, the pool's counters and its workers. */
void
chaos_poll(struct chaos *c, struct chaos_pool *pl)
{
	char		*json, *pool, *p;
	int		 i;

	memset(pl, 0, sizeof *pl);
	if (commis_stats(c->ctl, COMMIS_STATS_JSON, &json) != COMMIS_OK)
		chaos_fatal(c, "stats: %s", commis_client_error(c->ctl));
	pl->jobs = chaos_json_num(json, "jobs");
	pl->reloads = chaos_json_num(json, "reloads");
	if ((pool = strstr(json, "\"pools\":[")) == NULL)
		chaos_fatal(c, "stats without pools: %s", json);
	pl->queued = chaos_json_num(pool, "queued");
	pl->restarts = chaos_json_num(pool, "restarts");
	pl->recycled = chaos_json_num(pool, "recycled");
	pl->blast_events = chaos_json_num(pool, "blast_events");
	pl->blast_requeued = chaos_json_num(pool, "blast_requeued");
	for (p = pool; (p = strstr(p, "{\"id\":")) != NULL &&
	    pl->n < CHAOS_MAX_LISTED; p++) {
		i = pl->n;
		if (sscanf(p, "{\"id\":%*[0-9],\"pid\":%ld,"
		    "\"state\":\"%15[a-z]\",\"generation\":%*[0-9],"
		    "\"retire\":\"%15[a-z]\","
		    "\"age_ms\":%*[0-9],\"jobs_done\":%*[0-9],\"threads\":%u",
		    &pl->pid[i], pl->state[i], pl->retire[i],
		    &pl->threads[i]) != 4)
			continue;
		if (pl->pid[i] > 0)
			chaos_saw_pid(c, pl->pid[i]);
		pl->n++;
	}
	free(json);
	c->last = *pl;
	c->last_poll = chaos_now_ms();
}

/*
 * Whether the pool serves at its configured size: as many live workers
 * not being replaced as it should have (a thread pool: one host with
 * that many threads), none of them a pid we killed. Exact: nothing else
 * is listed either (no worker starting, retiring or stopping).
 */
int
chaos_pool_full(const struct chaos *c, const struct chaos_pool *pl,
    int exact)
{
	unsigned	procs = c->thread ? 1 : c->size;
	unsigned	threads = c->thread ? c->size : 1, up = 0;
	int		i, j, live;

	for (i = 0; i < pl->n; i++) {
		for (j = 0; j < c->nkilled; j++)
			if (pl->pid[i] == c->killed[j])
				return 0;
		live = strcmp(pl->state[i], "idle") == 0 ||
		    strcmp(pl->state[i], "busy") == 0;
		if (live && strcmp(pl->retire[i], "no") == 0 &&
		    pl->threads[i] == threads)
			up++;
		else if (exact)
			return 0;
	}
	return exact ? up == procs : up >= procs;
}

/* Polls the stats; closes an outstanding recovery once the pool is full. */
static void
chaos_watch(struct chaos *c)
{
	struct chaos_pool	pl;
	uint64_t		now;

	chaos_poll(c, &pl);
	if (c->kill_at == 0 || !chaos_pool_full(c, &pl, 0))
		return;
	now = chaos_now_ms();
	if (now - c->kill_at > c->max_recovery_ms)
		c->max_recovery_ms = now - c->kill_at;
	c->kill_at = 0;
	c->nkilled = 0;
}

/* Waits until the pool is exactly at its configured size and all idle. */
void
chaos_wait_shape(struct chaos *c, struct chaos_pool *pl)
{
	uint64_t	deadline = chaos_now_ms() + CHAOS_START_MS;
	int		i, st, idle;

	for (;;) {
		if (waitpid(c->pid, &st, WNOHANG) == c->pid) {
			c->pid = 0;
			chaos_fatal(c, "commisd exited while starting");
		}
		chaos_poll(c, pl);
		for (i = 0, idle = 0; i < pl->n; i++)
			idle += strcmp(pl->state[i], "idle") == 0;
		if (chaos_pool_full(c, pl, 1) && idle == pl->n)
			return;
		if (chaos_now_ms() >= deadline)
			chaos_fatal(c, "pool not idle at size %u after %d ms",
			    c->size, CHAOS_START_MS);
		chaos_sleep_ms(1);
	}
}

/* `scale chaos N`; commisd has its new target when it answers. */
void
chaos_scale(struct chaos *c, unsigned n)
{
	char		 num[16], *text = NULL;
	const char	*argv[] = { "scale", CHAOS_POOL, num };

	snprintf(num, sizeof num, "%u", n);
	if (commis_admin(c->ctl, 3, argv, &text) != COMMIS_OK)
		chaos_fatal(c, "scale %u: %s", n, commis_client_error(c->ctl));
	free(text);
	c->size = n;
	if (n > c->size_max)
		c->size_max = n;
}

/*
 * The next config variant at the current size, then SIGHUP and
 * `reload` in turn. SIGHUP is asynchronous: we wait until the stats
 * count it, so that a scale sent next cannot be undone by it.
 */
static void
chaos_reload(struct chaos *c)
{
	const char		*argv[] = { "reload" };
	struct chaos_pool	 pl;
	char			*text = NULL;
	uint64_t		 deadline;

	c->nreloads++;
	chaos_write_conf(c);
	if (c->nreloads % 2 == 0) {
		if (commis_admin(c->ctl, 1, argv, &text) != COMMIS_OK)
			chaos_fatal(c, "reload %u: %s", c->nreloads,
			    commis_client_error(c->ctl));
		free(text);
		return;
	}
	if (kill(c->pid, SIGHUP) == -1)
		chaos_fatal(c, "SIGHUP: %s", strerror(errno));
	deadline = chaos_now_ms() + CHAOS_START_MS;
	for (;;) {
		chaos_poll(c, &pl);
		if (pl.reloads >= (long long)c->nreloads)
			return;
		if (chaos_now_ms() >= deadline)
			chaos_fatal(c, "reload %u (SIGHUP) not applied after "
			    "%d ms", c->nreloads, CHAOS_START_MS);
		chaos_sleep_ms(1);
	}
}

static struct chaos_req *
chaos_req_slot(struct chaos *c, uint64_t id, int create)
{
	size_t	i, h = (size_t)(id * 0x9e3779b97f4a7c15ull) % CHAOS_REQ_SLOTS;

	for (i = 0; i < CHAOS_REQ_SLOTS; i++, h = (h + 1) % CHAOS_REQ_SLOTS) {
		if (c->req[h].id == id)
			return &c->req[h];
		if (c->req[h].id == 0 && create)
			return &c->req[h];
	}
	return NULL;
}

/*
 * Removes a slot keeping the probe chains intact: later entries of the
 * cluster are moved back into the hole when their home allows it.
 */
static void
chaos_req_del(struct chaos *c, struct chaos_req *r)
{
	size_t	hole = (size_t)(r - c->req), i, home;

	r->id = 0;
	for (i = (hole + 1) % CHAOS_REQ_SLOTS; c->req[i].id != 0;
	    i = (i + 1) % CHAOS_REQ_SLOTS) {
		home = (size_t)(c->req[i].id * 0x9e3779b97f4a7c15ull) %
		    CHAOS_REQ_SLOTS;
		if ((i > hole && (home <= hole || home > i)) ||
		    (i < hole && home <= hole && home > i)) {
			c->req[hole] = c->req[i];
			c->req[i].id = 0;
			hole = i;
		}
	}
}

static void
chaos_submit(struct chaos *c, const char *handler, const char *data,
    uint32_t timeout_ms, int fault, uint32_t token)
{
	struct commis_submit_opts	 o;
	struct chaos_req		*r;
	uint64_t			 id;

	memset(&o, 0, sizeof o);
	o.pool = CHAOS_POOL;
	o.timeout_ms = timeout_ms;
	if (commis_submit_async(c->cl, handler, data, strlen(data), &o,
	    &id) != COMMIS_OK)
		chaos_fatal(c, "submit %s: %s", handler,
		    commis_client_error(c->cl));
	if (id == 0 || (r = chaos_req_slot(c, id, 1)) == NULL || r->id != 0)
		chaos_fatal(c, "request id %llu: no slot or reused",
		    (unsigned long long)id);
	r->id = id;
	r->fault = fault;
	r->token = token;
	if (fault)
		c->faults_inflight++;
	else
		c->inflight++;
}

static void
chaos_submit_tokens(struct chaos *c)
{
	char	tok[32];

	while (c->inflight < CHAOS_INFLIGHT && c->submitted < c->njobs) {
		snprintf(tok, sizeof tok, "T%07u", c->submitted);
		chaos_submit(c, "test.mark", tok, 0, 0, c->submitted);
		c->submitted++;
	}
}

static void
chaos_result(struct chaos *c, struct commis_result *res)
{
	struct chaos_req	*r;
	uint32_t		 t;

	if ((r = chaos_req_slot(c, res->request_id, 0)) == NULL) {
		c->stray++;
		return;
	}
	if (r->fault) {
		c->faults_inflight--;
		c->fault_results++;
		c->fault_attempts += res->attempts;
		if (res->error != 0 || (res->status != COMMIS_ST_CRASHED &&
		    res->status != COMMIS_ST_TIMEDOUT))
			c->fault_bad++;
	} else {
		t = r->token;
		c->inflight--;
		c->done++;
		if (res->error != 0)
			c->rejected++;
		if (c->nresults[t] < UINT8_MAX)
			c->nresults[t]++;
		c->status[t] = res->error != 0 ? CHAOS_NO_STATUS - 1 :
		    (uint8_t)res->status;
		c->attempts[t] = (uint8_t)(res->attempts > 255 ? 255 :
		    res->attempts);
	}
	chaos_req_del(c, r);
}

/* Waits up to ms for a result, then takes every one that is ready. */
static void
chaos_collect(struct chaos *c, int ms)
{
	struct commis_result	res;
	int			rc;

	if (commis_pending(c->cl) == 0) {
		chaos_sleep_ms((unsigned)ms);
		return;
	}
	rc = commis_wait_result(c->cl, ms, &res);
	if (rc == COMMIS_ERR_TIMEOUT)
		return;
	if (rc != COMMIS_OK)
		chaos_fatal(c, "result: %s", commis_client_error(c->cl));
	do {
		chaos_result(c, &res);
		commis_result_free(&res);
	} while ((rc = commis_poll_result(c->cl, &res)) == 1);
	if (rc != 0)
		chaos_fatal(c, "result: %s", commis_client_error(c->cl));
}

/* A random worker pid (a thread pool's host) from the stats, or 0. */
static long
chaos_pick(struct chaos *c)
{
	long	cand[CHAOS_MAX_LISTED];
	int	i, n = 0;

	for (i = 0; i < c->last.n; i++)
		if (c->last.pid[i] > 0 && c->last.pid[i] != c->stopped &&
		    strcmp(c->last.state[i], "starting") != 0)
			cand[n++] = c->last.pid[i];
	return n == 0 ? 0 : cand[rand() % n];
}

/*
 * Which disruption a roll of 0..9 is. Without --reload: 40% SIGKILL, 30%
 * SIGSTOP, 10% each fault. With it: 30% SIGKILL, 20% SIGSTOP, 10% each
 * fault, 10% reload, 10% scale.
 */
static int
chaos_kind(const struct chaos *c, int roll)
{
	if (!c->reload)
		return roll < 4 ? K_KILL : roll < 7 ? K_STOP :
		    K_SEGV + (roll - 7);
	if (roll < 3)
		return K_KILL;
	if (roll < 5)
		return K_STOP;
	return roll < 8 ? K_SEGV + (roll - 5) : roll == 8 ? K_RELOAD :
	    K_SCALE;
}

/* Delivers one disruption; 0 when there was no target yet. */
static int
chaos_disrupt(struct chaos *c)
{
	static const char *const fault[] = { "segv", "abort", "hang" };
	int	 k = chaos_kind(c, rand() % 10);
	long	 pid = 0;

	if (k == K_STOP && c->stopped > 0)
		k = K_KILL;
	if (k == K_KILL || k == K_STOP) {
		chaos_poll(c, &c->last);
		if ((pid = chaos_pick(c)) == 0)
			return 0;
		if (kill((pid_t)pid, k == K_KILL ? SIGKILL : SIGSTOP) == -1)
			return 0;
	}
	switch (k) {
	case K_KILL:
		if (c->kill_at == 0)
			c->kill_at = chaos_now_ms();
		if (c->nkilled < (int)(sizeof c->killed / sizeof c->killed[0]))
			c->killed[c->nkilled++] = pid;
		break;
	case K_STOP:
		c->stopped = (pid_t)pid;
		c->cont_at = chaos_now_ms() + 1 + (uint64_t)(rand() % 20);
		break;
	case K_RELOAD:
		chaos_reload(c);
		break;
	case K_SCALE:
		/* Another size of 1..CHAOS_SIZE_MAX, at random. */
		chaos_scale(c, 1 + (c->size + (unsigned)rand() %
		    (CHAOS_SIZE_MAX - 1)) % CHAOS_SIZE_MAX);
		break;
	default:
		chaos_submit(c, "fault", fault[k - K_SEGV],
		    k == K_HANG ? CHAOS_HANG_TIMEOUT_MS : 0, 1, 0);
	}
	c->by_kind[k]++;
	c->fired++;
	return 1;
}

static int
chaos_cmp_u(const void *a, const void *b)
{
	unsigned	x = *(const unsigned *)a, y = *(const unsigned *)b;

	return x < y ? -1 : x > y;
}

/* Disruption k fires once this many tokens are done: sorted uniform. */
void
chaos_schedule(struct chaos *c)
{
	unsigned	i, span = c->njobs - c->njobs / 10;

	if ((c->thresholds = calloc(c->ndisrupt + 1, sizeof *c->thresholds))
	    == NULL)
		chaos_fatal(c, "out of memory");
	for (i = 0; i < c->ndisrupt; i++)
		c->thresholds[i] = span == 0 ? 0 :
		    (unsigned)(((unsigned long long)rand() << 16 ^
		    (unsigned)rand()) % span);
	qsort(c->thresholds, c->ndisrupt, sizeof *c->thresholds, chaos_cmp_u);
}

/* The run: tokens, disruptions and stats polls until all are done. */
void
chaos_run(struct chaos *c)
{
	uint64_t	now, last_result = chaos_now_ms();
	unsigned	before;

	while (c->done < c->njobs || c->fired < c->ndisrupt ||
	    c->faults_inflight > 0 || c->stopped > 0) {
		chaos_submit_tokens(c);
		now = chaos_now_ms();
		if (c->stopped > 0 && now >= c->cont_at) {
			kill(c->stopped, SIGCONT);
			c->stopped = 0;
		}
		if (c->fired < c->ndisrupt &&
		    (c->thresholds[c->fired] <= c->done ||
		    c->done == c->njobs))
			chaos_disrupt(c);
		if (c->kill_at != 0 || now - c->last_poll >= CHAOS_POLL_MS)
			chaos_watch(c);
		before = c->done + c->fault_results;
		chaos_collect(c, 1);
		if (c->done + c->fault_results != before)
			last_result = chaos_now_ms();
		else if (commis_pending(c->cl) > 0 &&
		    chaos_now_ms() - last_result > CHAOS_RESULT_MS)
			chaos_fatal(c, "no result for %d ms (%u of %u done)",
			    CHAOS_RESULT_MS, c->done, c->njobs);
	}
	while (c->kill_at != 0) {
		chaos_watch(c);
		if (c->kill_at != 0 && chaos_now_ms() - c->kill_at >
		    CHAOS_SETTLE_MS)
			chaos_fatal(c, "pool not back after a SIGKILL");
		chaos_sleep_ms(1);
	}
}

/*
 * The chaos checker (tests/chaos/): what the run left behind, against
 * what commisd promises. Results against tokens and the marks log; the
 * pool settled at its last configured size with the fds of that size;
 * and after SIGTERM, nothing left running. It reads the run's records and
 * commisd's stats; it changes nothing but commisd's life at the end.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "chaos.h"

/* Reads the log: per-token attempt lines; bad lines are counted. */
static unsigned
chaos_read_log(struct chaos *c)
{
	FILE		*f;
	char		 line[256], *end;
	unsigned long	 t;
	long		 pid;
	unsigned	 bad = 0;

	if ((f = fopen(c->log, "r")) == NULL)
		return c->njobs > 0;
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] != 'T' || (t = strtoul(line + 1, &end, 10),
		    *end != ' ') || t >= c->njobs ||
		    sscanf(end, " %ld", &pid) != 1 || pid <= 0) {
			bad++;
			continue;
		}
		if (c->logged[t] < UINT16_MAX)
			c->logged[t]++;
	}
	fclose(f);
	return bad;
}

/*
 * The reruns the pool's deaths explain. A process worker runs one job,
 * so a death reruns at most one: the pool's restarts, plus our SIGKILLs
 * (a worker killed while retiring is not a restart). A thread host runs
 * up to size_max jobs: a crash that names its job charges that one and
 * requeues the others uncharged (blast_requeued); a SIGKILL names none,
 * so every job it was running is charged and may run again.
 */
static unsigned long long
chaos_explained(const struct chaos *c, const struct chaos_pool *pl)
{
	unsigned	per_kill = c->thread ? c->size_max : 1;

	return (unsigned long long)pl->restarts +
	    (unsigned long long)pl->blast_requeued +
	    (unsigned long long)c->by_kind[K_KILL] * per_kill;
}

/* Exactly one result per token, statuses, and the log against them. */
void
chaos_check_tokens(struct chaos *c, const struct chaos_pool *pl)
{
	unsigned	 by_status[COMMIS_ST_LAST + 2], i, missing = 0;
	unsigned	 multi = 0, unlogged = 0, bad = 0;
	unsigned	 retried = 0, badlines;
	unsigned long long overlogged = 0;

	memset(by_status, 0, sizeof by_status);
	badlines = chaos_read_log(c);
	for (i = 0; i < c->njobs; i++) {
		if (c->nresults[i] == 0) {
			missing++;
			continue;
		}
		multi += c->nresults[i] > 1;
		by_status[c->status[i] <= COMMIS_ST_LAST ? c->status[i] :
		    COMMIS_ST_LAST + 1]++;
		if (c->status[i] == COMMIS_ST_SUCCEEDED && c->logged[i] == 0)
			unlogged++;
		if (c->logged[i] > c->attempts[i])
			overlogged += c->logged[i] - c->attempts[i];
		if (c->logged[i] > 1)
			c->duplicates += c->logged[i] - 1u;
		retried += c->attempts[i] > 1;
		if (c->status[i] != COMMIS_ST_SUCCEEDED &&
		    !((c->status[i] == COMMIS_ST_CRASHED ||
		    c->status[i] == COMMIS_ST_TIMEDOUT) &&
		    c->attempts[i] >= CHAOS_ATTEMPTS))
			bad++;
	}
	printf("chaos: results succeeded=%u failed=%u timedout=%u "
	    "crashed=%u cancelled=%u expired=%u rejected=%u retried=%u\n",
	    by_status[COMMIS_ST_SUCCEEDED], by_status[COMMIS_ST_FAILED],
	    by_status[COMMIS_ST_TIMEDOUT], by_status[COMMIS_ST_CRASHED],
	    by_status[COMMIS_ST_CANCELLED], by_status[COMMIS_ST_EXPIRED],
	    c->rejected, retried);
	c->lost = missing;
	chaos_check(c, missing == 0, "lost: %u tokens without a result",
	    missing);
	chaos_check(c, multi == 0 && c->stray == 0, "%u tokens with more "
	    "than one result, %u stray results", multi, c->stray);
	chaos_check(c, bad == 0 && c->rejected == 0, "%u tokens ended "
	    "neither succeeded nor out of attempts", bad);
	chaos_check(c, badlines == 0, "%u malformed log lines", badlines);
	chaos_check(c, unlogged == 0, "%u succeeded tokens never logged",
	    unlogged);
	/*
	 * A run costs an attempt, except a rerun after another thread's
	 * crash (the attempt is given back): only those may log more.
	 */
	chaos_check(c, overlogged <= (unsigned long long)pl->blast_requeued,
	    "%llu runs logged beyond the tokens' attempts, blast_requeued "
	    "%lld", overlogged, pl->blast_requeued);
	chaos_check(c, c->duplicates <= chaos_explained(c, pl), "duplicates "
	    "%llu > worker deaths %lld + blast_requeued %lld + SIGKILLs %u x "
	    "%u", c->duplicates, pl->restarts, pl->blast_requeued,
	    c->by_kind[K_KILL], c->thread ? c->size_max : 1);
	chaos_check(c, c->fault_bad == 0 && c->fault_results ==
	    c->by_kind[K_SEGV] + c->by_kind[K_ABORT] + c->by_kind[K_HANG],
	    "fault jobs: %u of %u results, %u not crashed/timedout",
	    c->fault_results, c->by_kind[K_SEGV] + c->by_kind[K_ABORT] +
	    c->by_kind[K_HANG], c->fault_bad);
}

/*
 * Queue drained, pool exactly at its configured size, fds back at that
 * size's baseline (retried to settle); *pl: the last stats read.
 */
void
chaos_check_settled(struct chaos *c, struct chaos_pool *pl)
{
	uint64_t	deadline = chaos_now_ms() + CHAOS_SETTLE_MS;
	int		sup, wbad, i, ok;
	int		base_sup = c->fd_base_sup[c->size];
	int		base_worker = c->fd_base_worker[c->size];

	for (;;) {
		chaos_poll(c, pl);
		sup = chaos_fd_count(c->pid);
		for (i = 0, wbad = 0; i < pl->n; i++)
			if (chaos_fd_count(pl->pid[i]) != base_worker)
				wbad++;
		ok = pl->queued == 0 && pl->jobs == 0 &&
		    chaos_pool_full(c, pl, 1) && sup == base_sup && wbad == 0;
		if (ok || chaos_now_ms() >= deadline)
			break;
		chaos_sleep_ms(10);
	}
	chaos_check(c, pl->queued == 0 && pl->jobs == 0, "queue not drained: "
	    "queued=%lld jobs=%lld", pl->queued, pl->jobs);
	chaos_check(c, chaos_pool_full(c, pl, 1), "pool not back at %u %s",
	    c->size, c->thread ? "threads" : "workers");
	chaos_check(c, sup == base_sup, "commisd has %d fds, %d at start "
	    "at size %u", sup, base_sup, c->size);
	chaos_check(c, wbad == 0, "%d workers not at %d fds", wbad,
	    base_worker);
	printf("chaos: fds commisd=%d (baseline %d) worker=%d; restarts=%lld "
	    "worker_pids=%zu\n", sup, base_sup, base_worker, pl->restarts,
	    c->npids);
	printf("chaos: size=%u (max %u) reloads=%lld recycled=%lld "
	    "blast_events=%lld blast_requeued=%lld\n", c->size, c->size_max,
	    pl->reloads, pl->recycled, pl->blast_events, pl->blast_requeued);
}

/* After SIGTERM: commisd exits 0, no worker alive, no child left. */
void
chaos_check_gone(struct chaos *c)
{
	uint64_t	deadline;
	size_t		i, alive;
	int		st;

	chaos_stop_daemon(c, &st);
	chaos_check(c, st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "commisd did not exit 0 on SIGTERM (status %d)", st);
	deadline = chaos_now_ms() + 3000;
	for (;;) {
		for (i = 0, alive = 0; i < c->npids; i++)
			if (kill((pid_t)c->pids[i].pid, 0) == 0 &&
			    chaos_start_time(c->pids[i].pid) ==
			    c->pids[i].start)
				alive++;
		if (alive == 0 || chaos_now_ms() >= deadline)
			break;
		chaos_sleep_ms(10);
	}
	chaos_check(c, alive == 0, "%zu of %zu worker pids still alive",
	    alive, c->npids);
	errno = 0;
	chaos_check(c, waitpid(-1, &st, WNOHANG) == -1 && errno == ECHILD,
	    "a child remains after commisd exited");
}

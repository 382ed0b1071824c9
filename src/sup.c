/*
 * The supervisor: one thread, one libevent loop. It owns the config, the
 * pools, the control socket and the job table, turns signals into loop
 * events (SIGCHLD is reaped in a WNOHANG loop), and ends every job in
 * exactly one terminal state through sup_job_finish(). It never runs job
 * code: handlers run only in forked workers.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "exitcode.h"
#include "log.h"
#include "pool.h"
#include "sup.h"

/* Longest a shutdown waits for workers after SIGKILL before giving up. */
#define SUP_STOP_TIMEOUT_MS	10000

uint64_t
sup_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct pool *
sup_pool(struct supervisor *sup, const char *name)
{
	size_t	i;

	if (name == NULL)
		return sup->npools > 0 ? sup->pools[0] : NULL;
	for (i = 0; i < sup->npools; i++) {
		if (strcmp(sup->pools[i]->cfg->name, name) == 0)
			return sup->pools[i];
	}
	return NULL;
}

struct job *
sup_job_new(struct supervisor *sup, struct pool *p, const char *handler,
    int32_t priority, uint32_t timeout_ms, const void *data, size_t len,
    uint64_t conn_id, uint64_t req_id)
{
	struct job	*job;

	if ((job = calloc(1, sizeof *job)) == NULL)
		return NULL;
	if (len > 0 && (job->data = malloc(len)) == NULL) {
		free(job);
		return NULL;
	}
	if (len > 0)
		memcpy(job->data, data, len);
	job->len = len;
	job->id = ++sup->next_job_id;
	job->pool = p;
	snprintf(job->handler, sizeof job->handler, "%s", handler);
	job->qi.priority = priority;
	job->qi.idx = SIZE_MAX;
	job->timeout_ms = timeout_ms ? timeout_ms : p->cfg->timeout_ms;
	job->conn_id = conn_id;
	job->req_id = req_id;
	job->submit_ns = sup_now_ns();
	if (idmap_put(&sup->jobs, job->id, job) == -1) {
		free(job->data);
		free(job);
		return NULL;
	}
	return job;
}

void
sup_job_free(struct supervisor *sup, struct job *job)
{
	idmap_del(&sup->jobs, job->id);
	free(job->data);
	free(job);
}

void
sup_job_finish(struct supervisor *sup, struct job *job,
    enum commis_status st, const char *cause, const void *out, size_t len)
{
	struct pool_stats	*ps = &job->pool->st;

	switch (st) {
	case COMMIS_ST_SUCCEEDED:
		ps->succeeded++;
		break;
	case COMMIS_ST_FAILED:
		ps->failed++;
		break;
	case COMMIS_ST_TIMEDOUT:
		ps->timedout++;
		break;
	case COMMIS_ST_CRASHED:
		ps->crashed++;
		break;
	default:
		ps->cancelled++;
		break;
	}
	if (st != COMMIS_ST_SUCCEEDED)
		log_info("pool %s: job %llu %s after %u attempt(s): %s",
		    job->pool->cfg->name, (unsigned long long)job->id,
		    st == COMMIS_ST_FAILED ? "failed" :
		    st == COMMIS_ST_TIMEDOUT ? "timed out" :
		    st == COMMIS_ST_CRASHED ? "crashed" : "was cancelled",
		    job->attempts, cause);
	control_result(sup->control, job, st, cause, out, len);
	control_untrack(sup->control, job);
	sup_job_free(sup, job);
}

static unsigned
sup_nalive(const struct supervisor *sup)
{
	unsigned	n = 0;
	size_t		i;

	for (i = 0; i < sup->npools; i++)
		n += sup->pools[i]->nalive;
	return n;
}

/* The loop ends once every worker is reaped and replies are written. */
static void
sup_check_done(struct supervisor *sup)
{
	if (sup->stopping && sup_nalive(sup) == 0 &&
	    control_pending(sup->control) == 0)
		event_base_loopexit(sup->base, NULL);
}

static void
sup_reap(struct supervisor *sup)
{
	pid_t	pid;
	int	status;
	size_t	i;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < sup->npools; i++) {
			if (pool_reap(sup->pools[i], pid, status))
				break;
		}
		if (i == sup->npools)
			log_debug("reaped unknown child %ld", (long)pid);
	}
	if (pid == -1 && errno != ECHILD)
		log_warn("waitpid");
}

static void
sup_stop_timeout(evutil_socket_t fd, short ev, void *arg)
{
	struct supervisor	*sup = arg;
	unsigned		 n = sup_nalive(sup);

	if (n > 0) {
		log_warnx("shutdown: %u worker(s) still not reaped; exiting", n);
		sup->exit_code = EXIT_SUP_FAIL;
	}
	event_base_loopexit(sup->base, NULL);
}

void
sup_shutdown(struct supervisor *sup, const char *why)
{
	struct timeval	tv, tick = tv_ms(10);
	size_t		i;

	if (sup->stopping)
		return;
	log_info("shutting down: %s", why);
	sup->stopping = 1;
	control_close_listener(sup->control);
	for (i = 0; i < sup->npools; i++)
		pool_stop(sup->pools[i], SIGTERM);
	tv = tv_ms(SUP_STOP_TIMEOUT_MS);
	evtimer_add(sup->ev_stop, &tv);
	/* Replies may still be draining once the last worker is reaped. */
	event_add(sup->ev_idle, &tick);
	sup_check_done(sup);
}

static void
sup_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct supervisor	*sup = arg;

	switch (sig) {
	case SIGCHLD:
		sup_reap(sup);
		break;
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		sup_shutdown(sup, sig == SIGTERM ? "SIGTERM" :
		    sig == SIGINT ? "SIGINT" : "SIGQUIT");
		break;
	case SIGHUP:
		log_warnx("SIGHUP: configuration reload is not supported by "
		    "this version; ignored");
		break;
	}
	sup_check_done(sup);
}

/* Rechecks the end condition while replies drain at shutdown. */
static void
sup_idle_check(evutil_socket_t fd, short ev, void *arg)
{
	sup_check_done(arg);
}

struct supervisor *
sup_new(struct config *cfg, int listen_fd, char **cause)
{
	static const int	 sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
				    SIGHUP };
	struct supervisor	*sup;
	size_t			 i;

	if ((sup = calloc(1, sizeof *sup)) == NULL) {
		*cause = strdup("out of memory");
		config_free(cfg);
		return NULL;
	}
	sup->cfg = cfg;
	sup->pid = getpid();
	sup->start_ns = sup_now_ns();
	idmap_init(&sup->jobs);
	signal(SIGPIPE, SIG_IGN);
	if ((sup->base = event_base_new()) == NULL ||
	    (sup->pools = calloc(cfg->npools, sizeof *sup->pools)) == NULL ||
	    (sup->ev_stop = evtimer_new(sup->base, sup_stop_timeout, sup)) == NULL ||
	    (sup->ev_idle = event_new(sup->base, -1, EV_PERSIST, sup_idle_check,
	    sup)) == NULL) {
		*cause = strdup("cannot set up the event loop");
		goto fail;
	}
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sup->ev_sig[i] = evsignal_new(sup->base, sigs[i], sup_signal, sup);
		if (sup->ev_sig[i] == NULL ||
		    evsignal_add(sup->ev_sig[i], NULL) == -1) {
			*cause = strdup("cannot watch signals");
			goto fail;
		}
	}
	for (i = 0; i < cfg->npools; i++) {
		if ((sup->pools[i] = pool_new(sup, &cfg->pools[i], cause)) == NULL)
			goto fail;
		sup->npools++;
	}
	if ((sup->control = control_new(sup, listen_fd, cause)) == NULL)
		goto fail;
	return sup;
fail:
	sup_free(sup);
	return NULL;
}

int
sup_run(struct supervisor *sup)
{
	size_t	i;

	for (i = 0; i < sup->npools; i++)
		pool_start(sup->pools[i]);
	log_info("commisd running: %zu pool(s)", sup->npools);
	if (event_base_dispatch(sup->base) == -1)
		return EXIT_SUP_FAIL;
	/* Anything reaped since the last SIGCHLD event. */
	sup_reap(sup);
	log_info("commisd stopped");
	return sup->exit_code;
}

void
sup_free(struct supervisor *sup)
{
	struct job	*job;
	size_t		 i, pos = 0;

	if (sup == NULL)
		return;
	control_free(sup->control);
	for (i = 0; i < sup->npools; i++)
		pool_free(sup->pools[i]);
	free(sup->pools);
	while ((job = idmap_next(&sup->jobs, &pos)) != NULL) {
		free(job->data);
		free(job);
	}
	idmap_free(&sup->jobs);
	for (i = 0; i < sizeof sup->ev_sig / sizeof sup->ev_sig[0]; i++) {
		if (sup->ev_sig[i] != NULL)
			event_free(sup->ev_sig[i]);
	}
	if (sup->ev_stop != NULL)
		event_free(sup->ev_stop);
	if (sup->ev_idle != NULL)
		event_free(sup->ev_idle);
	if (sup->base != NULL)
		event_base_free(sup->base);
	config_free(sup->cfg);
	free(sup);
}

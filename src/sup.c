/*
 * The supervisor: one thread, one libevent loop. It owns the config, the
 * pools, the job table and the control socket, turns signals into loop
 * events (SIGCHLD is reaped in a WNOHANG loop), reloads the config, and
 * shuts down: SIGTERM drains (queued and running jobs finish, within
 * shutdown_timeout_ms), SIGINT and SIGQUIT stop fast. It never runs job
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
#include "durable.h"
#include "idem.h"
#include "exitcode.h"
#include "handlers.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "pool.h"
#include "sup.h"

/* After a fast stop, the longest wait for workers to be reaped. */
#define SUP_STOP_TIMEOUT_MS	10000
/* While stopping or draining pools: how often to look for the end. */
#define SUP_TICK_MS		20

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

	for (i = 0; i < sup->npools; i++) {
		if (sup->pools[i]->draining)
			continue;
		if (name == NULL || strcmp(sup->pools[i]->cfg.name, name) == 0)
			return sup->pools[i];
	}
	return NULL;
}

/* systemd's STATUS=: "2 pools, 4 workers". */
static void
sup_status(struct supervisor *sup, const char *what, char *buf, size_t len)
{
	size_t		i, npools = 0;
	unsigned	nworkers = 0;

	for (i = 0; i < sup->npools; i++) {
		if (!sup->pools[i]->draining)
			npools++;
		nworkers += sup->pools[i]->nworkers;
	}
	snprintf(buf, len, "%s%zu pool%s, %u worker%s", what, npools,
	    npools == 1 ? "" : "s", nworkers, nworkers == 1 ? "" : "s");
}

/* Frees drained pools; ends the loop once a shutdown has nothing left. */
static void
sup_check(struct supervisor *sup)
{
	size_t	i, j, left = 0;
	int	busy = 0;

	for (i = j = 0; i < sup->npools; i++) {
		struct pool	*p = sup->pools[i];

		pool_drain(p);
		if (p->draining && pool_empty(p)) {
			log_pool(LOG_LVL_INFO, p->cfg.name, "removed");
			pool_free(p);
			continue;
		}
		if (p->draining)
			busy = 1;
		if (!pool_empty(p))
			left++;
		sup->pools[j++] = p;
	}
	sup->npools = j;
	if (sup->stopping && left == 0 && control_pending(sup->control) == 0)
		event_base_loopexit(sup->base, NULL);
	else if (!sup->stopping && !busy)
		event_del(sup->ev_tick);
}

static void
sup_tick(evutil_socket_t fd, short ev, void *arg)
{
	sup_check(arg);
}

static void
sup_tick_start(struct supervisor *sup)
{
	struct timeval	tv = tv_ms(SUP_TICK_MS);

	event_add(sup->ev_tick, &tv);
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
	size_t			 i;
	unsigned		 n = 0;

	if (sup->stopping == SUP_STOP_DRAIN) {
		sup_shutdown(sup, SUP_STOP_FAST,
		    "shutdown_timeout_ms reached with jobs left");
		return;
	}
	for (i = 0; i < sup->npools; i++)
		n += sup->pools[i]->nworkers;
	log_warnx("shutdown: %u worker(s) still not reaped; exiting", n);
	sup->exit_code = EXIT_SUP_FAIL;
	event_base_loopexit(sup->base, NULL);
}

void
sup_shutdown(struct supervisor *sup, enum sup_stop how, const char *why)
{
	struct timeval	tv;
	size_t		i;

	if (how <= sup->stopping)
		return;
	log_info("shutting down (%s): %s", how == SUP_STOP_DRAIN ?
	    "finishing jobs" : "fast", why);
	notify_send("STOPPING=1\nSTATUS=shutting down (%s): %s",
	    how == SUP_STOP_DRAIN ? "finishing jobs" : "fast", why);
	if (sup->stopping == SUP_RUNNING)
		control_close_listener(sup->control);
	sup->stopping = how;
	for (i = 0; i < sup->npools; i++) {
		if (how == SUP_STOP_DRAIN)
			pool_drain(sup->pools[i]);
		else
			pool_stop(sup->pools[i]);
	}
	tv = tv_ms(how == SUP_STOP_DRAIN ? sup->cfg->shutdown_timeout_ms :
	    SUP_STOP_TIMEOUT_MS);
	evtimer_add(sup->ev_stop, &tv);
	sup_tick_start(sup);
	sup_check(sup);
}

static void
sup_signal(evutil_socket_t sig, short ev, void *arg)
{
	struct supervisor	*sup = arg;
	char			*errors = NULL;

	switch (sig) {
	case SIGCHLD:
		sup_reap(sup);
		break;
	case SIGTERM:
		sup_shutdown(sup, SUP_STOP_DRAIN, "SIGTERM");
		break;
	case SIGINT:
	case SIGQUIT:
		sup_shutdown(sup, SUP_STOP_FAST, sig == SIGINT ? "SIGINT" :
		    "SIGQUIT");
		break;
	case SIGHUP:
		if (sup_reload(sup, &errors) == -1)
			free(errors);	/* sup_reload logged them */
		break;
	}
	if (sup->stopping)
		sup_check(sup);
}

/* Handler sets for every pool of cfg, or -1 with *errors. */
static struct handler_set **
sup_reload_handlers(const struct config *cfg, char **errors)
{
	struct handler_set	**hs;
	char			 *cause = NULL;
	size_t			  i, j;

	if ((hs = calloc(cfg->npools, sizeof *hs)) == NULL) {
		*errors = strdup("out of memory");
		return NULL;
	}
	for (i = 0; i < cfg->npools; i++) {
		if ((hs[i] = pool_handlers(&cfg->pools[i], &cause)) != NULL)
			continue;
		if (asprintf(errors, "%s: pool %s: %s", cfg->path,
		    cfg->pools[i].name, cause) == -1)
			*errors = NULL;
		free(cause);
		for (j = 0; j < i; j++)
			handlers_free(hs[j]);
		free(hs);
		return NULL;
	}
	return hs;
}

/* Applies a validated config: pools updated, added, or drained. */
static void
sup_reload_apply(struct supervisor *sup, struct config *cfg,
    struct handler_set **hs)
{
	struct pool	**pools, *p;
	char		 *cause = NULL;
	size_t		  i, j, n = 0;

	if ((pools = calloc(cfg->npools + sup->npools, sizeof *pools)) == NULL)
		fatalx("reload: out of memory");
	for (i = 0; i < cfg->npools; i++) {
		if ((p = sup_pool(sup, cfg->pools[i].name)) != NULL)
			pool_reconfigure(p, &cfg->pools[i], hs[i]);
		else if ((p = pool_new(sup, &cfg->pools[i], hs[i], &cause)) ==
		    NULL)
			fatalx("reload: pool %s: %s", cfg->pools[i].name, cause);
		else {
			if (p->cfg.durable && durable_open(p, &cause) == -1) {
				log_pool(LOG_LVL_ERROR, p->cfg.name, "durable: "
				    "%s; the pool runs without a journal",
				    cause ? cause : "out of memory");
				free(cause);
				cause = NULL;
			}
			pool_maintain(p);
		}
		pools[n++] = p;
	}
	/* Pools the new config drops finish their jobs, then go. */
	for (i = 0; i < sup->npools; i++) {
		for (j = 0; j < n && pools[j] != sup->pools[i]; j++)
			;
		if (j < n)
			continue;
		p = sup->pools[i];
		if (!p->draining)
			log_pool(LOG_LVL_INFO, p->cfg.name, "not in the new "
			    "config; draining");
		p->draining = 1;
		pools[n++] = p;
		pool_drain(p);
	}
	free(sup->pools);
	sup->pools = pools;
	sup->npools = n;
	sup_tick_start(sup);
}

static int
sup_reload_config(struct supervisor *sup, char **errors)
{
	struct handler_set	**hs;
	struct config		 *cfg;

	if ((cfg = config_load(sup->cfg->path, errors)) == NULL) {
		log_warnx("reload refused, the running configuration stays:\n%s",
		    *errors);
		return -1;
	}
	if ((hs = sup_reload_handlers(cfg, errors)) == NULL) {
		log_warnx("reload refused, the running configuration stays: %s",
		    *errors);
		config_free(cfg);
		return -1;
	}
	if (strcmp(cfg->socket, sup->cfg->socket) != 0 ||
	    cfg->socket_mode != sup->cfg->socket_mode) {
		log_warnx("reload: socket and socket_mode change only on a "
		    "restart; keeping %s", sup->cfg->socket);
		memcpy(cfg->socket, sup->cfg->socket, sizeof cfg->socket);
		cfg->socket_mode = sup->cfg->socket_mode;
	}
	if (strcmp(cfg->metrics_listen, sup->cfg->metrics_listen) != 0) {
		log_warnx("reload: metrics_listen changes only on a restart; "
		    "keeping \"%s\"", sup->cfg->metrics_listen);
		memcpy(cfg->metrics_listen, sup->cfg->metrics_listen,
		    sizeof cfg->metrics_listen);
	}
	sup_reload_apply(sup, cfg, hs);
	free(hs);
	config_free(sup->cfg);
	sup->cfg = cfg;
	log_set_level(cfg->log_level);
	sup->reloads++;
	log_info("reloaded %s: %zu pool(s)", cfg->path, sup->npools);
	return 0;
}

/* systemd hears RELOADING=1 before and READY=1 after, refused or not. */
int
sup_reload(struct supervisor *sup, char **errors)
{
	char	status[256];
	int	r;

	if (sup->stopping) {
		*errors = strdup("commisd is shutting down");
		return -1;
	}
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading %s",
	    (unsigned long long)(sup_now_ns() / 1000), sup->cfg->path);
	if ((r = sup_reload_config(sup, errors)) == 0)
		sup_status(sup, "reloaded: ", status, sizeof status);
	else
		snprintf(status, sizeof status, "reload refused, the running "
		    "configuration stays: %.*s", *errors != NULL ?
		    (int)strcspn(*errors, "\n") : 0, *errors != NULL ?
		    *errors : "");
	notify_send("READY=1\nSTATUS=%s", status);
	control_event(sup->control, "{\"type\":\"reload\",\"ok\":%s,"
	    "\"reloads\":%llu}", r == 0 ? "true" : "false",
	    (unsigned long long)sup->reloads);
	return r;
}

static void
sup_watchdog(evutil_socket_t fd, short ev, void *arg)
{
	notify_send("WATCHDOG=1");
}

struct supervisor *
sup_new(struct config *cfg, int listen_fd, char **cause)
{
	static const int	 sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGQUIT,
				    SIGHUP };
	struct supervisor	*sup;
	struct timeval		 tv;
	uint64_t		 wd;
	size_t			 i;

	if ((sup = calloc(1, sizeof *sup)) == NULL) {
		*cause = strdup("out of memory");
		config_free(cfg);
		return NULL;
	}
	sup->cfg = cfg;
	sup->pid = getpid();
	sup->start_ns = sup_now_ns();
	srandom((unsigned)(sup->start_ns ^ (uint64_t)sup->pid));
	signal(SIGPIPE, SIG_IGN);
	/* A journal write past RLIMIT_FSIZE fails with EFBIG instead. */
	signal(SIGXFSZ, SIG_IGN);
	if ((sup->base = event_base_new()) == NULL ||
	    (sup->idem = idem_new()) == NULL ||
	    (sup->pools = calloc(cfg->npools, sizeof *sup->pools)) == NULL ||
	    (sup->ev_stop = evtimer_new(sup->base, sup_stop_timeout, sup)) ==
	    NULL || (sup->ev_tick = event_new(sup->base, -1, EV_PERSIST,
	    sup_tick, sup)) == NULL ||
	    (sup->jobs = job_table_new(sup)) == NULL) {
		*cause = strdup("cannot set up the event loop");
		goto fail;
	}
	for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		sup->ev_sig[i] = evsignal_new(sup->base, sigs[i], sup_signal,
		    sup);
		if (sup->ev_sig[i] == NULL ||
		    evsignal_add(sup->ev_sig[i], NULL) == -1) {
			*cause = strdup("cannot watch signals");
			goto fail;
		}
	}
	/* Every WATCHDOG_USEC/2, from the loop: a stuck loop stops it. */
	if ((wd = notify_watchdog_usec()) > 0) {
		wd = wd / 2 > 0 ? wd / 2 : 1;
		tv.tv_sec = (time_t)(wd / 1000000);
		tv.tv_usec = (suseconds_t)(wd % 1000000);
		if ((sup->ev_watchdog = event_new(sup->base, -1, EV_PERSIST,
		    sup_watchdog, sup)) == NULL ||
		    event_add(sup->ev_watchdog, &tv) == -1) {
			*cause = strdup("cannot set up the watchdog timer");
			goto fail;
		}
	}
	for (i = 0; i < cfg->npools; i++) {
		if ((sup->pools[i] = pool_new(sup, &cfg->pools[i], NULL,
		    cause)) == NULL)
			goto fail;
		sup->npools++;
	}
	if ((sup->control = control_new(sup, listen_fd, cause)) == NULL)
		goto fail;
	/* Recovery may end jobs, which tells the control side. */
	for (i = 0; i < sup->npools; i++) {
		if (sup->pools[i]->cfg.durable &&
		    durable_open(sup->pools[i], cause) == -1)
			goto fail;
	}
	if (cfg->metrics_listen[0] != '\0' && (sup->metrics =
	    metrics_new(sup, cfg->metrics_listen, cause)) == NULL)
		goto fail;
	return sup;
fail:
	/* The socket systemd passed is ours once control_new has it. */
	if (sup->control == NULL && listen_fd >= 0)
		close(listen_fd);
	sup_free(sup);
	return NULL;
}

int
sup_run(struct supervisor *sup)
{
	char	status[256];
	size_t	i;

	for (i = 0; i < sup->npools; i++)
		pool_maintain(sup->pools[i]);
	log_info("commisd running: %zu pool(s)", sup->npools);
	/* The control socket listens (sup_new) and the workers are forked. */
	sup_status(sup, "", status, sizeof status);
	notify_send("READY=1\nSTATUS=%s", status);
	if (event_base_dispatch(sup->base) == -1)
		return EXIT_SUP_FAIL;
	sup_reap(sup);
	log_info("commisd stopped");
	return sup->exit_code;
}

void
sup_free(struct supervisor *sup)
{
	size_t	i;

	if (sup == NULL)
		return;
	metrics_free(sup->metrics);
	control_free(sup->control);
	job_table_free(sup->jobs);
	for (i = 0; i < sup->npools; i++)
		pool_free(sup->pools[i]);
	free(sup->pools);
	idem_free(sup->idem);
	for (i = 0; i < sizeof sup->ev_sig / sizeof sup->ev_sig[0]; i++) {
		if (sup->ev_sig[i] != NULL)
			event_free(sup->ev_sig[i]);
	}
	if (sup->ev_stop != NULL)
		event_free(sup->ev_stop);
	if (sup->ev_tick != NULL)
		event_free(sup->ev_tick);
	if (sup->ev_watchdog != NULL)
		event_free(sup->ev_watchdog);
	if (sup->base != NULL)
		event_base_free(sup->base);
	config_free(sup->cfg);
	free(sup);
}

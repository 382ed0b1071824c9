/*
 * The metrics endpoint: libevent's evhttp on the supervisor's own loop (no
 * thread), on a TCP address or a Unix socket, answering GET /metrics in the
 * Prometheus text exposition format 0.0.4 and GET /healthz for probes. It
 * reads the supervisor, its pools and their histograms and changes
 * nothing; since the supervisor never runs job code, it answers even when
 * every worker is busy. What a counter means is pool.c's and job.c's
 * business: this module only names and formats them.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include "control.h"
#include "hist.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "stats.h"
#include "sup.h"
#include "usock.h"

#define METRICS_BACKLOG		64
#define METRICS_TIMEOUT_S	10	/* a scrape's whole request */
#define METRICS_HEADERS_MAX	8192
#define METRICS_PAUSE_MS	1000	/* accept failed (EMFILE): wait */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4"

struct metrics {
	struct supervisor	*sup;
	struct evhttp		*http;
	char			 path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Rendering. */

static void
metrics_family(struct evbuffer *eb, const char *name, const char *type,
    const char *help)
{
	evbuffer_add_printf(eb, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

/* A label value, quoted: backslash, double quote and newline escaped. */
static void
metrics_label_value(struct evbuffer *eb, const char *s)
{
	evbuffer_add(eb, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			evbuffer_add_printf(eb, "\\%c", *s);
		else if (*s == '\n')
			evbuffer_add(eb, "\\n", 2);
		else
			evbuffer_add(eb, s, 1);
	}
	evbuffer_add(eb, "\"", 1);
}

/* name{pool="P" then the caller's labels and "} value". */
static void
metrics_pool_sample(struct evbuffer *eb, const char *name,
    const struct pool *p)
{
	evbuffer_add_printf(eb, "%s{pool=", name);
	metrics_label_value(eb, p->cfg.name);
}

/*
 * A pool removed by a reload drains under its name; if a later reload
 * brings the name back while it drains, only the serving pool (pools come
 * serving first) is shown, so no two samples have the same labels.
 */
static int
metrics_pool_shown(const struct supervisor *sup, size_t i)
{
	size_t	j;

	for (j = 0; j < i; j++) {
		if (strcmp(sup->pools[j]->cfg.name, sup->pools[i]->cfg.name) ==
		    0)
			return 0;
	}
	return 1;
}

/* Per-pool values, one family each; -Wswitch keeps the two in step. */
enum metrics_pool_value {
	MP_WORKERS,
	MP_ACTIVE,
	MP_AVAILABLE,
	MP_QUEUED,
	MP_SUBMITTED,
	MP_REJECTED,
	MP_RETRIED,
	MP_RESTARTS,
	MP_COUNT
};

static const struct {
	const char	*name;
	const char	*type;
	const char	*help;
} metrics_pool_families[MP_COUNT] = {
	[MP_WORKERS] = { "commis_pool_workers", "gauge",
	  "Worker processes forked and not yet reaped." },
	[MP_ACTIVE] = { "commis_pool_active_jobs", "gauge", "Jobs running." },
	[MP_AVAILABLE] = { "commis_pool_available_slots", "gauge",
	  "Free job slots on ready workers." },
	[MP_QUEUED] = { "commis_pool_queued_jobs", "gauge",
	  "Jobs waiting in the pool's queue (not counting delayed ones)." },
	[MP_SUBMITTED] = { "commis_jobs_submitted_total", "counter",
	  "Jobs accepted into the pool." },
	[MP_REJECTED] = { "commis_jobs_rejected_total", "counter",
	  "Submissions refused (queue full, pool not serving)." },
	[MP_RETRIED] = { "commis_jobs_retried_total", "counter",
	  "Jobs put back in the queue after their worker died." },
	[MP_RESTARTS] = { "commis_worker_restarts_total", "counter",
	  "Workers forked again after one died." },
};

static uint64_t
metrics_pool_value(const struct pool *p, enum metrics_pool_value v)
{
	switch (v) {
	case MP_WORKERS:
		return p->nworkers;
	case MP_ACTIVE:
		return p->nrunning;
	case MP_AVAILABLE:
		return stats_pool_available(p);
	case MP_QUEUED:
		return queue_len(&p->queue);
	case MP_SUBMITTED:
		return p->st.submitted;
	case MP_REJECTED:
		return p->st.rejected;
	case MP_RETRIED:
		return p->st.retried;
	case MP_RESTARTS:
		return p->st.restarts;
	case MP_COUNT:
		break;
	}
	return 0;
}

static const struct {
	const char	*status;
	size_t		 off;		/* in struct pool_stats */
} metrics_statuses[] = {
	{ "succeeded", offsetof(struct pool_stats, succeeded) },
	{ "failed", offsetof(struct pool_stats, failed) },
	{ "timedout", offsetof(struct pool_stats, timedout) },
	{ "crashed", offsetof(struct pool_stats, crashed) },
	{ "cancelled", offsetof(struct pool_stats, cancelled) },
	{ "expired", offsetof(struct pool_stats, expired) },
};

enum metrics_hist {
	MH_QUEUE,
	MH_RUN,
	MH_E2E,
	MH_COUNT
};

static const struct {
	const char	*name;
	const char	*help;
} metrics_hist_families[MH_COUNT] = {
	[MH_QUEUE] = { "commis_job_queue_wait_seconds",
	  "Time jobs waited in the queue before they started." },
	[MH_RUN] = { "commis_job_run_seconds", "Time jobs ran on a worker." },
	[MH_E2E] = { "commis_job_e2e_seconds",
	  "Time from submission to the end of jobs." },
};

/* NULL when the pool keeps no such histogram. */
static const struct histw *
metrics_pool_hist(const struct pool *p, enum metrics_hist h)
{
	switch (h) {
	case MH_QUEUE:
		return p->h_queue;
	case MH_RUN:
		return p->h_run;
	case MH_E2E:
		return p->h_e2e;
	case MH_COUNT:
		break;
	}
	return NULL;
}

/* Bucket bounds: microseconds for hist_cumulative, text for le="". */
static const uint64_t metrics_le_us[] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,
	60000000,
};
static const char *const metrics_le[] = {
	"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
	"0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30",
	"60",
};
#define METRICS_NLE	(sizeof metrics_le_us / sizeof metrics_le_us[0])
_Static_assert(METRICS_NLE == sizeof metrics_le / sizeof metrics_le[0],
    "one label per bound");

static void
metrics_hist(struct evbuffer *eb, const char *name, const struct pool *p,
    const struct hist *h)
{
	uint64_t	counts[METRICS_NLE], sum;
	char		sample[128];
	size_t		i;

	hist_cumulative(h, metrics_le_us, METRICS_NLE, counts);
	snprintf(sample, sizeof sample, "%s_bucket", name);
	for (i = 0; i < METRICS_NLE; i++) {
		metrics_pool_sample(eb, sample, p);
		evbuffer_add_printf(eb, ",le=\"%s\"} %llu\n", metrics_le[i],
		    (unsigned long long)counts[i]);
	}
	metrics_pool_sample(eb, sample, p);
	evbuffer_add_printf(eb, ",le=\"+Inf\"} %llu\n",
	    (unsigned long long)hist_count(h));
	/* Microseconds: six decimals of seconds are exact. */
	sum = hist_sum(h);
	snprintf(sample, sizeof sample, "%s_sum", name);
	metrics_pool_sample(eb, sample, p);
	evbuffer_add_printf(eb, "} %llu.%06llu\n",
	    (unsigned long long)(sum / 1000000),
	    (unsigned long long)(sum % 1000000));
	snprintf(sample, sizeof sample, "%s_count", name);
	metrics_pool_sample(eb, sample, p);
	evbuffer_add_printf(eb, "} %llu\n", (unsigned long long)hist_count(h));
}

static void
metrics_render_pools(struct supervisor *sup, struct evbuffer *eb)
{
	const struct histw	*hw;
	const struct pool	*p;
	size_t			 f, i, s;

	for (f = 0; f < MP_COUNT; f++) {
		metrics_family(eb, metrics_pool_families[f].name,
		    metrics_pool_families[f].type, metrics_pool_families[f].help);
		for (i = 0; i < sup->npools; i++) {
			if (!metrics_pool_shown(sup, i))
				continue;
			p = sup->pools[i];
			metrics_pool_sample(eb, metrics_pool_families[f].name, p);
			evbuffer_add_printf(eb, "} %llu\n", (unsigned long long)
			    metrics_pool_value(p, (enum metrics_pool_value)f));
		}
	}
	metrics_family(eb, "commis_jobs_total", "counter",
	    "Jobs ended, by final status.");
	for (i = 0; i < sup->npools; i++) {
		if (!metrics_pool_shown(sup, i))
			continue;
		p = sup->pools[i];
		for (s = 0; s < sizeof metrics_statuses /
		    sizeof metrics_statuses[0]; s++) {
			metrics_pool_sample(eb, "commis_jobs_total", p);
			evbuffer_add_printf(eb, ",status=\"%s\"} %llu\n",
			    metrics_statuses[s].status, (unsigned long long)
			    *(const uint64_t *)(const void *)((const char *)
			    &p->st + metrics_statuses[s].off));
		}
	}
	for (f = 0; f < MH_COUNT; f++) {
		metrics_family(eb, metrics_hist_families[f].name, "histogram",
		    metrics_hist_families[f].help);
		for (i = 0; i < sup->npools; i++) {
			if (!metrics_pool_shown(sup, i) ||
			    (hw = metrics_pool_hist(sup->pools[i],
			    (enum metrics_hist)f)) == NULL)
				continue;
			metrics_hist(eb, metrics_hist_families[f].name,
			    sup->pools[i], histw_total(hw));
		}
	}
}

void
metrics_render(struct supervisor *sup, struct evbuffer *eb)
{
	uint64_t	up = sup_now_ns() - sup->start_ns;

	metrics_family(eb, "commis_up", "gauge",
	    "1 while commisd answers.");
	evbuffer_add_printf(eb, "commis_up 1\n");
	metrics_family(eb, "commis_uptime_seconds", "gauge",
	    "Seconds since commisd started.");
	evbuffer_add_printf(eb, "commis_uptime_seconds %llu.%03llu\n",
	    (unsigned long long)(up / 1000000000u),
	    (unsigned long long)(up % 1000000000u / 1000000u));
	metrics_family(eb, "commis_connections", "gauge",
	    "Client connections open on the control socket.");
	evbuffer_add_printf(eb, "commis_connections %zu\n",
	    sup->control != NULL ? control_nconns(sup->control) : 0);
	metrics_family(eb, "commis_jobs_in_flight", "gauge",
	    "Jobs accepted and not ended, in every pool.");
	evbuffer_add_printf(eb, "commis_jobs_in_flight %zu\n",
	    sup->jobs != NULL ? job_active(sup->jobs) : 0);
	metrics_render_pools(sup, eb);
}

/* HTTP. */

static void
metrics_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	evhttp_add_header(h, "Content-Type", type);
	evhttp_add_header(h, "Cache-Control", "no-store");
	if (body != NULL &&
	    evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(evhttp_request_get_output_buffer(req), body,
		    strlen(body));
	evhttp_send_reply(req, code, reason, NULL);
}

static void
metrics_request(struct evhttp_request *req, void *arg)
{
	struct metrics		*m = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = uri != NULL ? evhttp_uri_get_path(uri) :
				    NULL;
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	int			 metrics, healthz;

	metrics = path != NULL && strcmp(path, "/metrics") == 0;
	healthz = path != NULL && strcmp(path, "/healthz") == 0;
	if (!metrics && !healthz) {
		metrics_reply(req, HTTP_NOTFOUND, "Not Found", "text/plain",
		    "not found\n");
		return;
	}
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD");
		metrics_reply(req, 405, "Method Not Allowed", "text/plain",
		    "method not allowed\n");
		return;
	}
	if (healthz) {
		if (m->sup->stopping)
			metrics_reply(req, 503, "Service Unavailable",
			    "text/plain", "stopping\n");
		else
			metrics_reply(req, HTTP_OK, "OK", "text/plain", "ok\n");
		return;
	}
	/* evhttp 2.1 would send a HEAD reply's body: leave it empty. */
	if (cmd == EVHTTP_REQ_GET)
		metrics_render(m->sup, evhttp_request_get_output_buffer(req));
	metrics_reply(req, HTTP_OK, "OK", METRICS_CONTENT_TYPE, NULL);
}

/* Listening. */

static void
metrics_resume(evutil_socket_t fd, short ev, void *arg)
{
	evconnlistener_enable(arg);
}

/*
 * accept() failed for something other than a transient error: out of fds,
 * most likely. The pending connection would wake the loop again at once,
 * so stop accepting for a while. The callback's argument is evhttp's, not
 * ours, hence a one-shot timer on the listener itself; metrics_free runs
 * only once the loop has stopped (sup_free), so it cannot fire after.
 */
static void
metrics_accept_error(struct evconnlistener *l, void *arg)
{
	struct timeval	tv = tv_ms(METRICS_PAUSE_MS);

	log_warn("metrics: accept");
	evconnlistener_disable(l);
	if (event_base_once(evconnlistener_get_base(l), -1, EV_TIMEOUT,
	    metrics_resume, l, &tv) == -1)
		evconnlistener_enable(l);
}

/* HOST:PORT, an IPv6 host in brackets; the first address that binds. */
static int
metrics_listen_tcp(const char *listen_on, char **cause)
{
	struct addrinfo	 hints, *res, *ai;
	char		 host[128];
	const char	*colon = strrchr(listen_on, ':');
	size_t		 hlen;
	int		 fd = -1, one = 1, rv, err = 0;

	if (colon == NULL || colon == listen_on ||
	    (hlen = (size_t)(colon - listen_on)) >= sizeof host) {
		asprintf(cause, "metrics_listen: %s: expected HOST:PORT",
		    listen_on);
		return -1;
	}
	if (listen_on[0] == '[' && hlen >= 2 && listen_on[hlen - 1] == ']')
		snprintf(host, sizeof host, "%.*s", (int)hlen - 2,
		    listen_on + 1);
	else
		snprintf(host, sizeof host, "%.*s", (int)hlen, listen_on);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rv = getaddrinfo(host, colon + 1, &hints, &res)) != 0) {
		asprintf(cause, "metrics_listen: %s: %s", listen_on,
		    gai_strerror(rv));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, ai->ai_protocol)) == -1) {
			err = errno;
			continue;
		}
		/* A restart must not wait out TIME_WAIT. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    listen(fd, METRICS_BACKLOG) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		asprintf(cause, "metrics_listen: %s: %s", listen_on,
		    strerror(err != 0 ? err : EADDRNOTAVAIL));
	return fd;
}

struct metrics *
metrics_new(struct supervisor *sup, const char *listen_on, char **cause)
{
	struct metrics			*m;
	struct evhttp_bound_socket	*bound;
	int				 fd;

	if ((m = calloc(1, sizeof *m)) == NULL) {
		*cause = strdup("out of memory");
		return NULL;
	}
	m->sup = sup;
	if (listen_on[0] == '/') {
		fd = usock_listen("metrics_listen", listen_on,
		    sup->cfg->socket_mode, sup->cfg->socket_group,
		    METRICS_BACKLOG, cause);
		if (fd != -1)
			snprintf(m->path, sizeof m->path, "%s", listen_on);
	} else
		fd = metrics_listen_tcp(listen_on, cause);
	if (fd == -1) {
		free(m);
		return NULL;
	}
	if ((m->http = evhttp_new(sup->base)) == NULL) {
		close(fd);
		goto fail;
	}
	evhttp_set_timeout(m->http, METRICS_TIMEOUT_S);
	evhttp_set_max_headers_size(m->http, METRICS_HEADERS_MAX);
	evhttp_set_max_body_size(m->http, 1024);
	evhttp_set_gencb(m->http, metrics_request, m);
	/* From here on evhttp owns fd and closes it on evhttp_free. */
	if ((bound = evhttp_accept_socket_with_handle(m->http, fd)) ==
	    NULL) {
		close(fd);
		goto fail;
	}
	evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(bound),
	    metrics_accept_error);
	log_info("metrics: listening on %s", listen_on);
	return m;
fail:
	*cause = strdup("metrics_listen: cannot set up the HTTP listener");
	metrics_free(m);
	return NULL;
}

void
metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http);
	if (m->path[0] != '\0')
		unlink(m->path);
	free(m);
}

/*
 * The metrics endpoint: an HTTP listener (libevent's evhttp) on the
 * supervisor's loop answering GET /metrics in the Prometheus text format
 * and GET /healthz.
 */
#ifndef COMMIS_METRICS_H
#define COMMIS_METRICS_H

struct supervisor;
struct evbuffer;

/*
 * Listens on listen: "HOST:PORT" (TCP; an IPv6 host in brackets) or an
 * absolute path (a Unix socket, given the control socket's socket_mode and
 * socket_group). NULL with *cause (malloc'd) on failure.
 */
struct metrics	*metrics_new(struct supervisor *, const char *listen,
		    char **cause);
/* Stops listening (and unlinks the Unix socket); NULL is a no-op. Only
 * once the loop has stopped: a paused listener's timer may be pending. */
void		 metrics_free(struct metrics *);
/* The /metrics body: the text exposition format, version 0.0.4. */
void		 metrics_render(struct supervisor *, struct evbuffer *);

#endif

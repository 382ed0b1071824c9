/*
 * libcommis: one control connection to commisd. This module owns the
 * connection's request ids, the decoder for replies, and the queue of
 * results that arrived while the caller was waiting for something else
 * (replies come in any order: the answer to any blocking call -- PING,
 * STATS, a submit, STATUS, WAIT, CANCEL_JOB, ADMIN -- may come after
 * results of earlier asynchronous submits). It knows the control messages
 * of proto.h and nothing of how the supervisor runs jobs. The calls about
 * a job id, ADMIN and the event stream are client_jobs.c; segment submits
 * and the segment pool are client_seg.c; both reach the connection only
 * through the helpers of client_int.h.
 *
 * A library must not take decisions for its host program: no global
 * state, no logging, no exit or abort, no signal handlers (frame_send uses
 * MSG_NOSIGNAL). Every failure is a return code plus a message kept in the
 * client. Once the stream cannot be trusted (I/O error, malformed frame,
 * a connection-level ERROR) the client is "broken" and every later call
 * returns the same code, so callers do not have to track it themselves.
 *
 * Readiness: results may sit decoded in the client's buffers while the
 * socket itself is quiet. A caller driving commis_fd() from its own poll
 * loop should call commis_poll_result() until it returns 0 before polling
 * again.
 *
 * Segments (seg.h): a received fd belongs to its frame until a RESULT
 * takes it as its output, checked and mapped read-only before anyone
 * reads it; client_dispatch closes whatever was not taken. A queued
 * result keeps its mapping and fd until it is collected or the client is
 * closed. An outgoing segment (client_seg.c) travels with its SUBMIT as
 * a reference: client_send never closes it.
 *
 * Events (client_jobs.c): once subscribed, the connection is a one-way
 * stream of EVENT frames, and client_send refuses anything more on it so
 * that no reply can come mixed with the events.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "client_int.h"
#include "frame.h"
#include "msg.h"
#include "seg.h"

/* Largest reply payload accepted: any output a config may allow. */
#define CLIENT_REPLY_MAX	(COMMIS_PAYLOAD_HARD_MAX + COMMIS_FRAME_OVERHEAD)
/* Largest result segment libcommis maps (commisd's max_segment is lower). */
#define CLIENT_SEG_MAX		(64ull << 30)

static const char *const client_status_names[] = {
	[COMMIS_ST_SUCCEEDED] = "succeeded",
	[COMMIS_ST_FAILED] = "failed",
	[COMMIS_ST_TIMEDOUT] = "timedout",
	[COMMIS_ST_CRASHED] = "crashed",
	[COMMIS_ST_CANCELLED] = "cancelled",
	[COMMIS_ST_EXPIRED] = "expired",
};

static const char *const client_err_names[] = {
	[COMMIS_E_PROTO] = "protocol error",
	[COMMIS_E_VERSION] = "version mismatch",
	[COMMIS_E_TOOBIG] = "payload too large",
	[COMMIS_E_QUEUE_FULL] = "queue full",
	[COMMIS_E_NO_POOL] = "no such pool",
	[COMMIS_E_NO_HANDLER] = "no such handler",
	[COMMIS_E_SHUTDOWN] = "shutting down",
	[COMMIS_E_UNSUPPORTED] = "unsupported",
	[COMMIS_E_POOL_DOWN] = "pool down",
	[COMMIS_E_NO_JOB] = "no such job",
	[COMMIS_E_TIMEOUT] = "wait timed out",
	[COMMIS_E_BAD_ARGS] = "bad arguments",
	[COMMIS_E_CONFIG] = "configuration rejected",
	[COMMIS_E_STATE] = "not possible in this state",
	[COMMIS_E_SEGMENT] = "segment refused",
	[COMMIS_E_DENIED] = "permission denied",
	[COMMIS_E_JOURNAL] = "journal write failed",
};

#define NITEMS(a)	(sizeof (a) / sizeof (a)[0])

const char *
commis_strerror(int rc)
{
	switch (rc) {
	case COMMIS_OK:
		return "success";
	case COMMIS_ERR_CONNECT:
		return "cannot connect to commisd";
	case COMMIS_ERR_IO:
		return "connection to commisd failed";
	case COMMIS_ERR_PROTO:
		return "protocol error";
	case COMMIS_ERR_REJECTED:
		return "request rejected by commisd";
	case COMMIS_ERR_TIMEOUT:
		return "timed out";
	case COMMIS_ERR_INVAL:
		return "invalid argument";
	case COMMIS_ERR_NOMEM:
		return "out of memory";
	}
	return "unknown error";
}

const char *
commis_status_name(int status)
{
	if (status == COMMIS_ST_ACCEPTED)
		return "accepted";
	if (status < 0 || (size_t)status >= NITEMS(client_status_names))
		return "unknown";
	return client_status_names[status];
}

const char *
commis_err_name(int error)
{
	if (error <= 0 || (size_t)error >= NITEMS(client_err_names))
		return "unknown error";
	return client_err_names[error];
}

static uint64_t
client_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Records why; I/O and protocol failures leave the stream unusable. */
int
client_fail(struct commis_client *c, int rc, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->errbuf, sizeof c->errbuf, fmt, ap);
	va_end(ap);
	c->errcode = 0;
	if (rc == COMMIS_ERR_IO || rc == COMMIS_ERR_PROTO)
		c->broken = rc;
	return rc;
}

/* commisd refused a blocking call: keep its code for the caller. */
static int
client_rejected(struct commis_client *c, int code, const char *cause)
{
	client_fail(c, COMMIS_ERR_REJECTED, "rejected: %s: %s",
	    commis_err_name(code), cause);
	c->errcode = code;
	return COMMIS_ERR_REJECTED;
}

int
commis_connect(const char *path, commis_client **out)
{
	struct sockaddr_un	 sa;
	struct commis_client	*c;
	int			 fd, saved;

	if (out == NULL) {
		errno = EINVAL;
		return COMMIS_ERR_INVAL;
	}
	*out = NULL;
	if (path == NULL)
		path = getenv("COMMIS_SOCKET");
	if (path == NULL || *path == '\0') {
		errno = EINVAL;
		return COMMIS_ERR_INVAL;
	}
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return COMMIS_ERR_INVAL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);

	if ((c = calloc(1, sizeof *c)) == NULL) {
		errno = ENOMEM;
		return COMMIS_ERR_NOMEM;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		free(c);
		errno = saved;	/* the caller's only way to learn why */
		return COMMIS_ERR_CONNECT;
	}
	c->fd = fd;
	c->next_id = 1;
	c->tail = &c->head;
	frame_dec_init(&c->dec, CLIENT_REPLY_MAX);
	mbuf_init(&c->out);
	*out = c;
	return COMMIS_OK;
}

void
commis_close(commis_client *c)
{
	struct client_done	*d;

	if (c == NULL)
		return;
	while ((d = c->head) != NULL) {
		c->head = d->next;
		commis_result_free(&d->res);
		free(d);
	}
	/* Like fclose: what is corked still goes, if it can. */
	if (c->out.len > 0 && !c->broken)
		client_flush(c);
	mbuf_free(&c->out);
	frame_dec_free(&c->dec);
	if (c->fd != -1)
		close(c->fd);
	free(c);
}

const char *
commis_client_error(const commis_client *c)
{
	if (c == NULL)
		return "no client";
	if (c->errbuf[0] == '\0')
		return "no error";
	return c->errbuf;
}

int
commis_client_errcode(const commis_client *c)
{
	return c == NULL ? 0 : c->errcode;
}

int
commis_fd(const commis_client *c)
{
	return c == NULL ? -1 : c->fd;
}

size_t
commis_pending(const commis_client *c)
{
	return c == NULL ? 0 : c->inflight + c->nqueued;
}

/* Every result the library fills starts empty: no output, no fd. */
void
client_result_init(struct commis_result *r)
{
	memset(r, 0, sizeof *r);
	r->output_fd = -1;
}

void
commis_result_free(struct commis_result *r)
{
	if (r == NULL)
		return;
	if (r->output_mapped) {
		seg_unmap(r->output, r->output_len);
		if (r->output_fd != -1)
			close(r->output_fd);
	} else
		free(r->output);
	r->output = NULL;
	r->output_len = 0;
	r->output_fd = -1;
	r->output_mapped = 0;
}

/* A str field of cause or message text: cut at the buffer, never fail. */
static void
client_text(struct mreader *mr, char *dst, size_t dstsz)
{
	const uint8_t	*p;
	size_t		 n;

	dst[0] = '\0';
	if ((p = mr_bytes(mr, &n)) == NULL)
		return;
	if (n > dstsz - 1)
		n = dstsz - 1;
	n = strnlen((const char *)p, n);
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/*
 * A RESULT whose output came as a segment: its bytes field must be empty,
 * and the fd a sealed memfd within our limit. Maps it read-only and takes
 * the fd from the frame; on failure the fd stays with the frame.
 */
static int
client_map_output(struct commis_client *c, struct frame *f,
    struct commis_result *r, size_t inline_len)
{
	char		 why[160];
	uint64_t	 size;
	void		*p;

	if (inline_len != 0)
		return client_fail(c, COMMIS_ERR_PROTO,
		    "RESULT for request %llu has a segment and %zu bytes of "
		    "output", (unsigned long long)f->hdr.id, inline_len);
	if (seg_check(f->fd, SEG_INPUT, CLIENT_SEG_MAX, &size, why,
	    sizeof why) == -1)
		return client_fail(c, COMMIS_ERR_PROTO,
		    "bad result segment for request %llu: %s",
		    (unsigned long long)f->hdr.id, why);
	if ((p = seg_map(f->fd, (size_t)size, 0)) == NULL)
		return client_fail(c, COMMIS_ERR_NOMEM,
		    "cannot map a %llu-byte result segment: %s",
		    (unsigned long long)size, strerror(errno));
	r->output = p;
	r->output_len = (size_t)size;
	r->output_fd = f->fd;
	r->output_mapped = 1;
	f->fd = -1;
	return COMMIS_OK;
}

/*
 * Decodes a RESULT or an ERROR into r. COMMIS_OK for a RESULT,
 * COMMIS_ERR_REJECTED for a well-formed ERROR. A RESULT's segment, if it
 * is good, moves from f to r.
 */
static int
client_decode_result(struct commis_client *c, struct frame *f,
    struct commis_result *r)
{
	struct mreader	 mr;
	const uint8_t	*p;
	size_t		 n;

	client_result_init(r);
	r->request_id = f->hdr.id;
	mr_init(&mr, f->payload, f->hdr.len);
	if (f->hdr.type == COMMIS_MSG_ERROR) {
		r->status = -1;
		r->error = (int)mr_u32(&mr);
		client_text(&mr, r->cause, sizeof r->cause);
		if (mr_end(&mr) == -1 || r->error <= 0)
			return client_fail(c, COMMIS_ERR_PROTO,
			    "malformed ERROR for request %llu",
			    (unsigned long long)f->hdr.id);
		return COMMIS_ERR_REJECTED;
	}
	r->job_id = mr_u64(&mr);
	r->status = mr_u8(&mr);
	r->attempts = mr_u16(&mr);
	client_text(&mr, r->cause, sizeof r->cause);
	r->queue_us = mr_u64(&mr);
	r->run_us = mr_u64(&mr);
	r->cpu_us = mr_u64(&mr);
	r->maxrss_kb = mr_u64(&mr);
	p = mr_bytes(&mr, &n);
	if (mr_end(&mr) == -1 || r->status > COMMIS_ST_LAST) {
		r->queue_us = r->run_us = r->cpu_us = r->maxrss_kb = 0;
		return client_fail(c, COMMIS_ERR_PROTO,
		    "malformed RESULT for request %llu",
		    (unsigned long long)f->hdr.id);
	}
	if (f->fd != -1)
		return client_map_output(c, f, r, n);
	if (n > 0) {
		if ((r->output = malloc(n)) == NULL)
			return client_fail(c, COMMIS_ERR_NOMEM,
			    "no memory for a %zu-byte result", n);
		memcpy(r->output, p, n);
		r->output_len = n;
	}
	return COMMIS_OK;
}

/* An ERROR with request id 0: commisd is about to close the connection. */
static int
client_conn_error(struct commis_client *c, struct frame *f)
{
	struct commis_result	r;
	int			rc;

	if (f->hdr.type != COMMIS_MSG_ERROR)
		return client_fail(c, COMMIS_ERR_PROTO,
		    "message type %u without a request id", f->hdr.type);
	if ((rc = client_decode_result(c, f, &r)) != COMMIS_ERR_REJECTED)
		return rc;
	rc = (r.error == COMMIS_E_PROTO || r.error == COMMIS_E_VERSION) ?
	    COMMIS_ERR_PROTO : COMMIS_ERR_IO;
	return client_fail(c, rc, "commisd closed the connection: %s: %s",
	    commis_err_name(r.error), r.cause);
}

/* STATS_REPLY, OK and EVENT: one bytes field, returned NUL-terminated.
 * An EVENT is JSON text: a NUL in it would cut it short unseen. */
static int
client_decode_text(struct commis_client *c, const struct frame *f,
    char **text)
{
	struct mreader	 mr;
	const uint8_t	*p;
	size_t		 n;

	mr_init(&mr, f->payload, f->hdr.len);
	p = mr_bytes(&mr, &n);
	if (mr_end(&mr) == -1 || (f->hdr.type == COMMIS_MSG_EVENT &&
	    n > 0 && memchr(p, '\0', n) != NULL))
		return client_fail(c, COMMIS_ERR_PROTO, "malformed %s",
		    f->hdr.type == COMMIS_MSG_OK ? "OK" :
		    f->hdr.type == COMMIS_MSG_EVENT ? "EVENT" : "STATS_REPLY");
	if (text == NULL)
		return COMMIS_OK;
	if ((*text = malloc(n + 1)) == NULL)
		return client_fail(c, COMMIS_ERR_NOMEM,
		    "no memory for a %zu-byte reply", n);
	memcpy(*text, p, n);
	(*text)[n] = '\0';
	return COMMIS_OK;
}

/* ACCEPTED: the job id of a SUBMIT with COMMIS_SUBMIT_NOWAIT. */
static int
client_decode_accepted(struct commis_client *c, const struct frame *f,
    uint64_t *job_id)
{
	struct mreader	mr;
	uint64_t	job;

	mr_init(&mr, f->payload, f->hdr.len);
	job = mr_u64(&mr);
	if (mr_end(&mr) == -1 || job == 0)
		return client_fail(c, COMMIS_ERR_PROTO, "malformed ACCEPTED");
	if (job_id != NULL)
		*job_id = job;
	return COMMIS_OK;
}

/* JOB_INFO, which must be about the job that STATUS asked for. */
static int
client_decode_info(struct commis_client *c, const struct frame *f,
    uint64_t job, struct commis_job_info *info)
{
	struct mreader	mr;

	memset(info, 0, sizeof *info);
	mr_init(&mr, f->payload, f->hdr.len);
	info->job_id = mr_u64(&mr);
	info->state = mr_u8(&mr);
	info->status = mr_u8(&mr);
	info->attempts = mr_u16(&mr);
	mr_str(&mr, info->pool, sizeof info->pool);
	mr_str(&mr, info->handler, sizeof info->handler);
	client_text(&mr, info->cause, sizeof info->cause);
	if (mr_end(&mr) == -1 || info->job_id != job ||
	    info->state > COMMIS_JOB_DONE || info->status > COMMIS_ST_LAST) {
		memset(info, 0, sizeof *info);
		return client_fail(c, COMMIS_ERR_PROTO,
		    "malformed JOB_INFO for job %llu",
		    (unsigned long long)job);
	}
	return COMMIS_OK;
}

/* The reply a blocking call waits for. */
static int
client_reply(struct commis_client *c, struct frame *f, struct client_wait *w)
{
	struct commis_result	r;
	int			rc;

	w->done = 1;
	if (w->type == COMMIS_MSG_RESULT && (f->hdr.type == COMMIS_MSG_RESULT ||
	    f->hdr.type == COMMIS_MSG_ERROR)) {
		rc = client_decode_result(c, f, w->res);
		if (rc == COMMIS_ERR_REJECTED)
			rc = client_rejected(c, w->res->error, w->res->cause);
		return rc;
	}
	if (f->hdr.type == COMMIS_MSG_ERROR) {
		if ((rc = client_decode_result(c, f, &r)) != COMMIS_ERR_REJECTED)
			return rc;
		return client_rejected(c, r.error, r.cause);
	}
	if (f->hdr.type != w->type)
		return client_fail(c, COMMIS_ERR_PROTO,
		    "unexpected message type %u for request %llu",
		    f->hdr.type, (unsigned long long)f->hdr.id);
	switch (w->type) {
	case COMMIS_MSG_PONG:
		if (f->hdr.len != 0)
			return client_fail(c, COMMIS_ERR_PROTO,
			    "PONG with a payload");
		return COMMIS_OK;
	case COMMIS_MSG_ACCEPTED:
		return client_decode_accepted(c, f, w->job_id);
	case COMMIS_MSG_JOB_INFO:
		return client_decode_info(c, f, w->job, w->info);
	}
	return client_decode_text(c, f, w->text);
}

/* A result for an asynchronous submit: queue it for the caller. */
static int
client_queue(struct commis_client *c, struct frame *f)
{
	struct client_done	*d;
	int			 rc;

	if ((f->hdr.type != COMMIS_MSG_RESULT &&
	    f->hdr.type != COMMIS_MSG_ERROR &&
	    (f->hdr.type != COMMIS_MSG_ACCEPTED || c->nowait_inflight == 0)) ||
	    c->inflight == 0 || f->hdr.id >= c->next_id)
		return client_fail(c, COMMIS_ERR_PROTO,
		    "unexpected message type %u for request %llu",
		    f->hdr.type, (unsigned long long)f->hdr.id);
	if ((d = calloc(1, sizeof *d)) == NULL)
		rc = client_fail(c, COMMIS_ERR_NOMEM, "no memory for a result");
	else if (f->hdr.type == COMMIS_MSG_ACCEPTED) {
		/* commis_submit_nowait_async's answer. */
		client_result_init(&d->res);
		d->res.request_id = f->hdr.id;
		d->res.status = COMMIS_ST_ACCEPTED;
		rc = client_decode_accepted(c, f, &d->res.job_id);
		c->nowait_inflight--;
	} else
		rc = client_decode_result(c, f, &d->res);
	if (rc != COMMIS_OK && rc != COMMIS_ERR_REJECTED) {
		/* A lost result would leave commis_pending() wrong forever. */
		free(d);
		c->broken = rc;
		return rc;
	}
	d->next = NULL;
	*c->tail = d;
	c->tail = &d->next;
	c->nqueued++;
	c->inflight--;
	return COMMIS_OK;
}

static int
client_dispatch(struct commis_client *c, struct frame *f,
    struct client_wait *w)
{
	int	rc;

	if (f->fd != -1 && f->hdr.type != COMMIS_MSG_RESULT)
		rc = client_fail(c, COMMIS_ERR_PROTO,
		    "message type %u with an fd", f->hdr.type);
	else if (f->hdr.id == 0)
		rc = client_conn_error(c, f);
	else if (w != NULL && f->hdr.id == w->id)
		rc = client_reply(c, f, w);
	else
		rc = client_queue(c, f);
	/* Not taken by a result: the fd dies with its frame. */
	if (f->fd != -1) {
		close(f->fd);
		f->fd = -1;
	}
	return rc;
}

/* Waits up to timeout_ms for the socket and reads once. */
static int
client_fill(struct commis_client *c, int timeout_ms)
{
	struct pollfd	pfd;
	ssize_t		n;

	pfd.fd = c->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	if ((n = poll(&pfd, 1, timeout_ms)) == -1) {
		if (errno == EINTR)
			return COMMIS_OK;
		return client_fail(c, COMMIS_ERR_IO, "poll: %s", strerror(errno));
	}
	if (n == 0)
		return COMMIS_ERR_TIMEOUT;
	if ((n = frame_dec_read(&c->dec, c->fd)) > 0)
		return COMMIS_OK;
	if (n == 0)
		return client_fail(c, COMMIS_ERR_IO,
		    "commisd closed the connection");
	if (errno == EINTR || errno == EAGAIN)
		return COMMIS_OK;
	if (c->dec.err != FRAME_OK)
		return client_fail(c, COMMIS_ERR_PROTO, "bad frame from commisd: %s",
		    frame_strerror(c->dec.err));
	if (errno == ENOMEM)
		return client_fail(c, COMMIS_ERR_NOMEM, "no memory for a reply");
	return client_fail(c, COMMIS_ERR_IO, "read from commisd: %s",
	    strerror(errno));
}

/*
 * Decodes what is buffered and reads more until w is answered, or, with w
 * NULL, until a result is queued. timeout_ms: -1 no limit, 0 only what is
 * readable now; COMMIS_ERR_TIMEOUT (no message set) when it runs out.
 */
int
client_pump(struct commis_client *c, struct client_wait *w, int timeout_ms)
{
	struct frame	f;
	uint64_t	deadline = 0, now;
	int		r, rc, ms = timeout_ms;

	if (timeout_ms > 0)
		deadline = client_now_ns() / 1000000 + (uint64_t)timeout_ms;
	/* Corked requests go before any wait for their replies. */
	if (c->out.len > 0 && (rc = client_flush(c)) != COMMIS_OK)
		return rc;
	for (;;) {
		if (c->broken)
			return c->broken;
		while ((r = frame_dec_next(&c->dec, &f)) == 1) {
			rc = client_dispatch(c, &f, w);
			if (c->broken || (w != NULL && w->done))
				return rc;
			if (w == NULL && c->head != NULL)
				return COMMIS_OK;
		}
		if (r == -1)
			return client_fail(c, COMMIS_ERR_PROTO,
			    "bad frame from commisd: %s",
			    frame_strerror(c->dec.err));
		if (timeout_ms > 0) {
			now = client_now_ns() / 1000000;
			ms = now >= deadline ? 0 : (int)(deadline - now);
		}
		if ((rc = client_fill(c, ms)) != COMMIS_OK)
			return rc;
	}
}

static int
client_check_name(struct commis_client *c, const char *what, const char *s,
    int empty_ok)
{
	size_t	n = strlen(s);

	if (n == 0 && !empty_ok)
		return client_fail(c, COMMIS_ERR_INVAL, "empty %s name", what);
	if (n > COMMIS_NAME_MAX - 1)
		return client_fail(c, COMMIS_ERR_INVAL,
		    "%s name longer than %d bytes", what, COMMIS_NAME_MAX - 1);
	return COMMIS_OK;
}

/*
 * Checks, encodes and sends a SUBMIT; *id gets its request id. With a
 * segment (fd != -1) the data field is empty and the fd travels along.
 */
int
client_submit(struct commis_client *c, const char *handler, const void *data,
    size_t len, const struct commis_submit_opts *opts, uint32_t flags,
    int fd, uint64_t *id)
{
	static const struct commis_submit_opts	 none;
	struct mbuf				 m;
	const char				*pool = "", *key;
	int					 rc;

	if (opts == NULL)
		opts = &none;
	if (opts->pool != NULL)
		pool = opts->pool;
	if (handler == NULL)
		return client_fail(c, COMMIS_ERR_INVAL, "no handler name");
	if ((rc = client_check_name(c, "handler", handler, 0)) != COMMIS_OK ||
	    (rc = client_check_name(c, "pool", pool, 1)) != COMMIS_OK)
		return rc;
	if (data == NULL && len > 0)
		return client_fail(c, COMMIS_ERR_INVAL, "no data");
	if (len > COMMIS_PAYLOAD_HARD_MAX)
		return client_fail(c, COMMIS_ERR_INVAL,
		    "data longer than %u bytes", COMMIS_PAYLOAD_HARD_MAX);
	key = opts->idempotency_key;
	if (key != NULL && (key[0] == '\0' || strlen(key) > 128))
		return client_fail(c, COMMIS_ERR_INVAL, "an idempotency key "
		    "has 1 to 128 bytes");
	if (key != NULL)
		flags |= COMMIS_SUBMIT_KEY;

	/* The data goes as the frame's second part, never copied. */
	mbuf_init(&m);
	mbuf_i32(&m, opts->priority);
	mbuf_u32(&m, opts->timeout_ms);
	mbuf_u32(&m, flags);
	mbuf_u32(&m, opts->delay_ms);
	mbuf_u32(&m, opts->deadline_ms);
	mbuf_str(&m, pool);
	mbuf_str(&m, handler);
	mbuf_u32(&m, (uint32_t)len);
	/* The key follows the data: then the data is copied in too. */
	if (key != NULL) {
		mbuf_add(&m, data, len);
		mbuf_str(&m, key);
	}
	if (m.err) {
		mbuf_free(&m);
		return client_fail(c, COMMIS_ERR_NOMEM, "out of memory");
	}
	*id = c->next_id++;
	rc = client_send(c, COMMIS_MSG_SUBMIT, *id, m.data, m.len,
	    key != NULL ? NULL : data, key != NULL ? 0 : len, fd);
	mbuf_free(&m);
	return rc;
}

/* A SUBMIT, then its RESULT (or ERROR) into out. */
int
client_submit_sync(struct commis_client *c, const char *handler,
    const void *data, size_t len, const struct commis_submit_opts *opts,
    uint32_t flags, int fd, struct commis_result *out)
{
	struct client_wait	w;
	int			rc;

	memset(&w, 0, sizeof w);
	if ((rc = client_submit(c, handler, data, len, opts, flags, fd,
	    &w.id)) != COMMIS_OK)
		return rc;
	w.type = COMMIS_MSG_RESULT;
	w.res = out;
	return client_pump(c, &w, -1);
}

int
commis_submit_wait(commis_client *c, const char *handler, const void *data,
    size_t len, const struct commis_submit_opts *opts,
    struct commis_result *out)
{
	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	return client_submit_sync(c, handler, data, len, opts, 0, -1, out);
}

int
commis_submit_async(commis_client *c, const char *handler, const void *data,
    size_t len, const struct commis_submit_opts *opts, uint64_t *request_id)
{
	uint64_t	id;
	int		rc;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	if ((rc = client_submit(c, handler, data, len, opts, 0, -1, &id)) != 0)
		return rc;
	c->inflight++;
	if (request_id != NULL)
		*request_id = id;
	return COMMIS_OK;
}

int
commis_submit_nowait_async(commis_client *c, const char *handler,
    const void *data, size_t len, const struct commis_submit_opts *opts,
    uint64_t *request_id)
{
	uint64_t	id;
	int		rc;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	if ((rc = client_submit(c, handler, data, len, opts,
	    COMMIS_SUBMIT_NOWAIT, -1, &id)) != 0)
		return rc;
	c->inflight++;
	c->nowait_inflight++;
	if (request_id != NULL)
		*request_id = id;
	return COMMIS_OK;
}

static void
client_pop(struct commis_client *c, struct commis_result *out)
{
	struct client_done	*d = c->head;

	if ((c->head = d->next) == NULL)
		c->tail = &c->head;
	c->nqueued--;
	*out = d->res;
	free(d);
}

int
commis_poll_result(commis_client *c, struct commis_result *out)
{
	int	rc;

	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	/* On an event stream the buffered frames are events, not results. */
	if (c->head == NULL && c->events_id != 0)
		return c->broken ? c->broken : 0;
	if (c->head == NULL) {
		rc = client_pump(c, NULL, 0);
		if (rc == COMMIS_ERR_TIMEOUT)
			return 0;
		if (rc != COMMIS_OK)
			return rc;
	}
	client_pop(c, out);
	return 1;
}

/* COMMIS_OK for any result, rejected ones included: check out->error. */
int
commis_wait_result(commis_client *c, int timeout_ms, struct commis_result *out)
{
	int	rc;

	if (c == NULL || out == NULL)
		return COMMIS_ERR_INVAL;
	client_result_init(out);
	if (c->head == NULL) {
		if (c->broken)
			return c->broken;
		if (c->inflight == 0)
			return client_fail(c, COMMIS_ERR_INVAL,
			    "no request pending");
		rc = client_pump(c, NULL, timeout_ms < 0 ? -1 : timeout_ms);
		if (rc == COMMIS_ERR_TIMEOUT)
			return client_fail(c, rc, "no result within %d ms",
			    timeout_ms);
		if (rc != COMMIS_OK)
			return rc;
	}
	client_pop(c, out);
	return COMMIS_OK;
}

/* Sends a request without data and waits for its reply. */
int
client_call(struct commis_client *c, struct client_wait *w, uint8_t type,
    const void *p, size_t n)
{
	int	rc;

	w->id = c->next_id++;
	if ((rc = client_send(c, type, w->id, p, n, NULL, 0, -1)) != COMMIS_OK)
		return rc;
	return client_pump(c, w, -1);
}

int
commis_ping(commis_client *c, uint64_t *rtt_ns)
{
	struct client_wait	w;
	uint64_t		t0;
	int			rc;

	if (c == NULL)
		return COMMIS_ERR_INVAL;
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_PONG;
	t0 = client_now_ns();
	if ((rc = client_call(c, &w, COMMIS_MSG_PING, NULL, 0)) != COMMIS_OK)
		return rc;
	if (rtt_ns != NULL)
		*rtt_ns = client_now_ns() - t0;
	return COMMIS_OK;
}

int
commis_stats(commis_client *c, int format, char **text)
{
	struct client_wait	w;
	uint8_t			fmt;

	if (c == NULL || text == NULL)
		return COMMIS_ERR_INVAL;
	*text = NULL;
	if (format != COMMIS_STATS_JSON && format != COMMIS_STATS_TEXT)
		return client_fail(c, COMMIS_ERR_INVAL,
		    "unknown stats format %d", format);
	fmt = (uint8_t)format;
	memset(&w, 0, sizeof w);
	w.type = COMMIS_MSG_STATS_REPLY;
	w.text = text;
	return client_call(c, &w, COMMIS_MSG_STATS, &fmt, 1);
}

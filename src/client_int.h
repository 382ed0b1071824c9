/*
 * libcommis's insides, shared by its modules: client.c (the connection,
 * I/O and the matching of replies), client_jobs.c (the calls about a job
 * id, ADMIN and events), client_out.c (sending, corking) and client_seg.c (segment submits and the segment
 * pool). Not installed: the public API is commis/client.h, and a
 * commis_client stays opaque to every program that links libcommis.
 */
#ifndef COMMIS_CLIENT_INT_H
#define COMMIS_CLIENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "commis/client.h"
#include "frame.h"
#include "msg.h"

/* A result that came in and was not collected yet. */
struct client_done {
	struct client_done	*next;
	struct commis_result	 res;
};

struct commis_client {
	int			 fd;
	uint64_t		 next_id;	/* request ids start at 1 */
	size_t			 inflight;	/* async submits not answered */
	size_t			 nowait_inflight; /* of which --no-wait */
	struct client_done	*head;		/* answered, not collected */
	struct client_done	**tail;
	size_t			 nqueued;
	struct frame_dec	 dec;
	struct mbuf		 out;		/* corked frames (client_out.c) */
	int			 corked;
	int			 broken;	/* sticky rc, 0 while usable */
	int			 errcode;	/* enum commis_err of the last
						   failure if a rejection */
	uint64_t		 events_id;	/* the EVENTS request, once
						   subscribed; else 0 */
	char			 errbuf[COMMIS_TEXT_MAX + 256];
};

/* What a blocking call waits for: the reply to one request id. */
struct client_wait {
	uint64_t		 id;
	uint8_t			 type;		/* reply type on success */
	uint64_t		 job;		/* JOB_INFO: the job asked about */
	struct commis_result	*res;		/* RESULT: also gets an ERROR */
	char			**text;		/* STATS_REPLY, OK, EVENT */
	uint64_t		*job_id;	/* ACCEPTED (NULL: not wanted) */
	struct commis_job_info	*info;		/* JOB_INFO */
	int			 done;
};

/* Records why (a message in c) and returns rc; I/O and protocol
 * failures leave the stream unusable. */
int	client_fail(struct commis_client *c, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Every result the library fills starts empty: no output, no fd. */
void	client_result_init(struct commis_result *);
/* Reads and dispatches until w is answered (w NULL: until a result is
 * queued); timeout_ms -1 for no limit, 0 for what is readable now. */
int	client_pump(struct commis_client *, struct client_wait *w,
	    int timeout_ms);
/* Checks, encodes and sends a SUBMIT (fd: a segment, or -1); *id gets
 * its request id. */
int	client_submit(struct commis_client *, const char *handler,
	    const void *data, size_t len, const struct commis_submit_opts *,
	    uint32_t flags, int fd, uint64_t *id);
/* A SUBMIT, then its RESULT (or ERROR) into out. */
int	client_submit_sync(struct commis_client *, const char *handler,
	    const void *data, size_t len, const struct commis_submit_opts *,
	    uint32_t flags, int fd, struct commis_result *out);
/* Sends one frame, or corks it (client_out.c); fd (or -1) goes with
 * it as a reference, not closed. */
int	client_send(struct commis_client *, uint8_t type, uint64_t id,
	    const void *p1, size_t n1, const void *p2, size_t n2, int fd);
/* Writes every corked frame, taking in replies while the socket is full. */
int	client_flush(struct commis_client *);
/* Sends a request without data and waits for its reply to w. */
int	client_call(struct commis_client *, struct client_wait *w,
	    uint8_t type, const void *p, size_t n);

#endif

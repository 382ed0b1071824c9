/*
 * libcommis: submit jobs to commisd over its control socket.
 *
 * No global state: everything hangs off a commis_client. The library never
 * exits, aborts or installs signal handlers; every call returns a code
 * (COMMIS_OK or a negative COMMIS_ERR_*) and commis_client_error() gives
 * the message of the last failure. A client is not thread-safe: use one per
 * thread, or lock around it.
 */
#ifndef COMMIS_CLIENT_H
#define COMMIS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "commis/proto.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct commis_client commis_client;

enum commis_rc {
	COMMIS_OK		=  0,
	COMMIS_ERR_CONNECT	= -1,	/* cannot reach the socket */
	COMMIS_ERR_IO		= -2,	/* connection failed or closed */
	COMMIS_ERR_PROTO	= -3,	/* peer sent something malformed */
	COMMIS_ERR_REJECTED	= -4,	/* commisd refused the request */
	COMMIS_ERR_TIMEOUT	= -5,	/* a wait ran out (not the job) */
	COMMIS_ERR_INVAL	= -6,	/* bad argument */
	COMMIS_ERR_NOMEM	= -7,
};

struct commis_submit_opts {
	const char	*pool;		/* NULL: the first pool */
	int32_t		 priority;	/* higher runs first; default 0 */
	uint32_t	 timeout_ms;	/* 0: the pool's timeout_ms */
	uint32_t	 delay_ms;	/* start no sooner than this from now */
	uint32_t	 deadline_ms;	/* expire unless started within this
					   (0: the pool's queue_timeout_ms) */
	/* NULL, or up to 128 bytes: a second submit with the same key
	 * (from the same uid, within idempotency_ttl_ms) gets the first
	 * job's id, or its result, instead of a new job. */
	const char	*idempotency_key;
};

struct commis_job_info {
	uint64_t	 job_id;
	int		 state;		/* enum commis_job_state */
	int		 status;	/* enum commis_status, when DONE */
	unsigned	 attempts;
	char		 pool[COMMIS_NAME_MAX];
	char		 handler[COMMIS_NAME_MAX];
	char		 cause[COMMIS_TEXT_MAX];
};

struct commis_result {
	uint64_t	 request_id;
	/* When the result came as a segment, output is a read-only mapping
	 * of it and output_fd its fd (else -1): do not write to it;
	 * commis_result_free unmaps and closes it. */
	int		 output_fd;
	int		 output_mapped;	/* the library's: output is a map */
	uint64_t	 job_id;	/* 0 when rejected */
	int		 error;		/* 0, or enum commis_err if rejected */
	int		 status;	/* enum commis_status when not rejected */
	unsigned	 attempts;
	char		 cause[COMMIS_TEXT_MAX];	/* why, when not succeeded */
	uint8_t		*output;	/* result bytes (malloc'd), or NULL */
	size_t		 output_len;
	/* Of the last attempt (0 when the job never ran): time queued,
	 * time running, CPU time used and the worker's peak RSS. */
	uint64_t	 queue_us;
	uint64_t	 run_us;
	uint64_t	 cpu_us;
	uint64_t	 maxrss_kb;
};

/* Connects to the socket at path (NULL: $COMMIS_SOCKET). */
int		 commis_connect(const char *path, commis_client **out);
void		 commis_close(commis_client *);
const char	*commis_client_error(const commis_client *);
const char	*commis_strerror(int rc);
const char	*commis_status_name(int status);
const char	*commis_err_name(int error);

/* Submits a job and waits for its terminal state. COMMIS_OK means a result
 * came back (check out->status); COMMIS_ERR_REJECTED fills out->error and
 * out->cause. */
int		 commis_submit_wait(commis_client *, const char *handler,
		    const void *data, size_t len,
		    const struct commis_submit_opts *, struct commis_result *out);

/* Asynchronous use: submit many, then collect results as they complete,
 * driven by the caller's own poll loop on commis_fd() (POLLIN). */
int		 commis_submit_async(commis_client *, const char *handler,
		    const void *data, size_t len,
		    const struct commis_submit_opts *, uint64_t *request_id);
int		 commis_fd(const commis_client *);
/*
 * The asynchronous --no-wait submit: its answer comes through
 * commis_wait_result / commis_poll_result like a result, with status
 * COMMIS_ST_ACCEPTED and job_id set (or a rejection, as usual). Pipelined
 * with commis_cork, this is how a producer hands over many jobs fast.
 */
#define COMMIS_ST_ACCEPTED	100
int		 commis_submit_nowait_async(commis_client *, const char *handler,
		    const void *data, size_t len,
		    const struct commis_submit_opts *, uint64_t *request_id);
/* Non-blocking: 1 and *out filled when a result is ready, 0 when none. */
int		 commis_poll_result(commis_client *, struct commis_result *out);
/* Blocks up to timeout_ms (-1: no limit) for the next result. */
int		 commis_wait_result(commis_client *, int timeout_ms,
		    struct commis_result *out);
/*
 * Batching, like a corked socket: after commis_cork(), requests without
 * a segment collect in the library and leave together in one write when
 * 64 KiB wait, on commis_flush() or commis_uncork(), and before any call
 * that waits for commisd (commis_wait_result, commis_submit_wait, ...)
 * or sends a segment. A caller that polls commis_fd() itself calls
 * commis_flush() before it polls. Off by default.
 */
int		 commis_cork(commis_client *);
int		 commis_uncork(commis_client *);
int		 commis_flush(commis_client *);
/* Requests submitted and not yet collected. */
size_t		 commis_pending(const commis_client *);
void		 commis_result_free(struct commis_result *);

/* Submits without waiting: *job_id is the id commisd gave the job, whose
 * result is kept for result_ttl_ms for commis_status/commis_wait. */
int		 commis_submit_nowait(commis_client *, const char *handler,
		    const void *data, size_t len,
		    const struct commis_submit_opts *, uint64_t *job_id);
/* Where a job is. COMMIS_ERR_REJECTED (code COMMIS_E_NO_JOB) for an id
 * commisd does not know or no longer keeps. */
int		 commis_status(commis_client *, uint64_t job_id,
		    struct commis_job_info *);
/* Waits for a job's terminal state (any client's job), up to timeout_ms
 * (0: no limit) on the commisd side. Like commis_submit_wait otherwise;
 * a wait that runs out is COMMIS_ERR_REJECTED with out->error
 * COMMIS_E_TIMEOUT. */
int		 commis_wait(commis_client *, uint64_t job_id,
		    uint32_t timeout_ms, struct commis_result *out);
/* Cancels a queued, delayed or running job (running: soft, then hard). */
int		 commis_cancel(commis_client *, uint64_t job_id);
/* An operator command (reload, scale, reset, dead, retry, purge) as an
 * argument vector; *text (malloc'd) is commisd's answer. */
int		 commis_admin(commis_client *, int argc, const char *const *argv,
		    char **text);
/* The enum commis_err of the last COMMIS_ERR_REJECTED, else 0. */
int		 commis_client_errcode(const commis_client *);

/*
 * Bulk data as segments (docs/protocol.md): the payload goes to the
 * worker as a sealed memfd, without passing through commisd's memory, and
 * a large result comes back the same way (see output_fd above).
 */
/* Copies len bytes into a fresh sealed segment and submits it. */
int		 commis_submit_copy(commis_client *, const char *handler,
		    const void *data, size_t len,
		    const struct commis_submit_opts *, struct commis_result *out);
/* Submits a memfd as it is: the library adds the input seals if they are
 * missing (so fd must allow sealing) and sends a reference; the caller
 * still owns fd and closes it. */
int		 commis_submit_fd(commis_client *, const char *handler, int fd,
		    const struct commis_submit_opts *, struct commis_result *out);
int		 commis_submit_fd_async(commis_client *, const char *handler,
		    int fd, const struct commis_submit_opts *,
		    uint64_t *request_id);

/*
 * In-place jobs, the analogue of a SharedArrayBuffer: a segment whose size
 * is sealed but whose contents stay writable, transformed in place by a
 * handler flagged COMMIS_HANDLER_INPLACE. Such segments can be reused, so
 * a pool keeps them (their pages stay faulted in).
 */
struct commis_seg {
	int		 fd;
	uint8_t		*data;		/* writable mapping of size bytes */
	size_t		 size;
};
typedef struct commis_segpool commis_segpool;

/* A pool that keeps up to max_bytes of idle segments for reuse. */
commis_segpool	*commis_segpool_new(size_t max_bytes);
void		 commis_segpool_free(commis_segpool *);
/* An in-place segment of exactly size bytes (from the pool if it has
 * one), or NULL with errno. */
struct commis_seg *commis_seg_get(commis_segpool *, size_t size);
/* Gives a segment back to the pool (or frees it beyond max_bytes). */
void		 commis_seg_put(commis_segpool *, struct commis_seg *);
/* Runs handler on seg in place; when it succeeds seg->data holds the
 * result (out->output is NULL). */
int		 commis_submit_inplace(commis_client *, const char *handler,
		    struct commis_seg *, const struct commis_submit_opts *,
		    struct commis_result *out);

/*
 * Events: after commis_events() succeeds, the connection only delivers
 * events; commis_next_event() returns each as a malloc'd JSON object
 * (no newline), blocking up to timeout_ms (-1: no limit); 0 and *json
 * NULL when the time ran out.
 */
int		 commis_events(commis_client *);
int		 commis_next_event(commis_client *, int timeout_ms, char **json);

/* Round trip of a PING, in nanoseconds. */
int		 commis_ping(commis_client *, uint64_t *rtt_ns);
/* Stats as JSON (COMMIS_STATS_JSON) or a table (COMMIS_STATS_TEXT);
 * *text is NUL-terminated and malloc'd. */
int		 commis_stats(commis_client *, int format, char **text);

#ifdef __cplusplus
}
#endif

#endif /* COMMIS_CLIENT_H */

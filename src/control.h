/*
 * The control socket: accepts clients, decodes their requests through a
 * command table, and routes replies back by connection id.
 */
#ifndef COMMIS_CONTROL_H
#define COMMIS_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct supervisor;
struct job;

struct control_stats {
	uint64_t	accepted;	/* connections */
	uint64_t	dropped;	/* closed for a protocol error */
	uint64_t	refused;	/* not admitted (access, caps, EMFILE) */
	uint64_t	denied;		/* requests beyond the peer's role */
	uint64_t	slow;		/* no first frame in time */
};

/* listen_fd >= 0: an inherited listening socket (systemd LISTEN_FDS). */
struct control	*control_new(struct supervisor *, int listen_fd, char **cause);
void		 control_free(struct control *);
/* Stops accepting and closes the listening socket (and unlinks it). */
void		 control_close_listener(struct control *);
/* A job's RESULT (id = req_id) to a connection, if it is still there;
 * with out_fd >= 0 the output is that segment (a reference is sent). */
void		 control_result_to(struct control *, uint64_t conn_id,
		    uint64_t req_id, const struct job *, const void *out,
		    size_t outlen, int out_fd);
/* A job counted against its submitter's uid (jobs_per_uid) has ended. */
void		 control_uid_job_done(struct control *, uid_t);
/* Sends one event (a JSON object, printf-style) to every subscriber. */
void		 control_event(struct control *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
/* A job that counted a segment on conn_id has ended. */
void		 control_seg_done(struct control *, uint64_t conn_id);
/* ACCEPTED with job_id, to the request req_id of connection conn_id. */
void		 control_accepted_to(struct control *, uint64_t conn_id,
		    uint64_t req_id, uint64_t job_id);
void		 control_error_to(struct control *, uint64_t conn_id,
		    uint64_t req_id, uint32_t code, const char *msg);
/* Bytes waiting to go out to clients. */
size_t		 control_pending(const struct control *);
size_t		 control_nconns(const struct control *);
/* Connections whose reading is paused (backpressure). */
size_t		 control_throttled(const struct control *);
const struct control_stats *control_stats(const struct control *);

#endif

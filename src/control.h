/*
 * The control socket: accepts clients, decodes their requests through a
 * command table, and routes replies back by connection id.
 */
#ifndef COMMIS_CONTROL_H
#define COMMIS_CONTROL_H

#include <stddef.h>
#include <stdint.h>

struct supervisor;
struct job;

struct control_stats {
	uint64_t	accepted;	/* connections */
	uint64_t	dropped;	/* closed for a protocol error */
};

/* listen_fd >= 0: an inherited listening socket (systemd LISTEN_FDS). */
struct control	*control_new(struct supervisor *, int listen_fd, char **cause);
void		 control_free(struct control *);
/* Stops accepting and closes the listening socket (and unlinks it). */
void		 control_close_listener(struct control *);
/* Sends a job's RESULT to its submitter if it is still connected. */
void		 control_result(struct control *, const struct job *,
		    int status, const char *cause, const void *out, size_t);
/* Forgets a finished job from its connection's list. */
void		 control_untrack(struct control *, struct job *);
/* Bytes waiting to go out to clients. */
size_t		 control_pending(const struct control *);
size_t		 control_nconns(const struct control *);
const struct control_stats *control_stats(const struct control *);

#endif

/*
 * Durable pools (docs/durability.md): what a pool's journal records and
 * when, and how it is read back when commisd starts.
 */
#ifndef COMMIS_DURABLE_H
#define COMMIS_DURABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct evbuffer;
struct job;
struct pool;

/*
 * Opens the pool's journal (state_dir/NAME.journal) and recovers it:
 * jobs not ended are queued again with their attempts, kept results and
 * idempotency keys come back; then the journal is rewritten with just
 * that. -1 with *cause (malloc'd) on failure.
 */
int	durable_open(struct pool *, char **cause);
void	durable_close(struct pool *);
/*
 * A job accepted by a durable pool: its ACCEPT record (with key, the
 * idempotency key or NULL) goes to the journal, and the job waits,
 * pending, for the commit, which queues it and answers its client. -1
 * when out of memory (the job is the caller's to drop).
 */
int	durable_accept(struct pool *, struct job *, const char *key);
/* A pending job cancelled or dropped before its commit. */
void	durable_unpend(struct pool *, struct job *);
/* Accepted jobs waiting for their commit. */
size_t	durable_npending(const struct pool *);
void	durable_started(struct pool *, struct job *);
/* A job's end; its output when the result is kept (else NULL, 0). */
void	durable_finished(struct pool *, struct job *, const void *out,
	    size_t outlen);
/* The pool's "journal" object for the JSON stats. */
void	durable_stats_json(const struct pool *, struct evbuffer *);
/* CLOCK_REALTIME in nanoseconds: the journal's clock. */
uint64_t durable_wall_ns(void);

#endif

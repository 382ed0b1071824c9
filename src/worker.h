/*
 * The worker process: what runs in a forked child. It reads JOB frames
 * from its channel, runs the handler, and answers DONE. It never returns.
 * Input and output may be sealed memfd segments (docs/protocol.md).
 */
#ifndef COMMIS_WORKER_H
#define COMMIS_WORKER_H

#include <stdint.h>
#include <sys/types.h>

struct handler_set;
struct pool_config;

struct worker_args {
	const struct pool_config	*cfg;
	struct handler_set		*handlers;
	int				 fd;		/* channel */
	pid_t				 parent;
	uint32_t			 max_payload;
	/* Largest segment the worker maps as input or returns as output. */
	uint64_t			 max_segment;
	/* Outputs longer than this go back as a segment; above
	 * max_payload it acts as max_payload. 0: every non-empty output. */
	uint32_t			 segment_threshold;
	/* Thread pools (host_main): the number of job threads, and a page
	 * shared with the supervisor (MAP_SHARED, mapped before fork) where
	 * a crashing thread stores the id of its job before the host dies,
	 * so that only that job is charged an attempt. */
	unsigned			 threads;
	volatile uint64_t		*crash_note;
};

void	worker_main(const struct worker_args *) __attribute__((noreturn));
/* The host process of an `isolation: thread` pool (host.c). */
void	host_main(const struct worker_args *) __attribute__((noreturn));

#endif

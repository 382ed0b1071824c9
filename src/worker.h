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
};

void	worker_main(const struct worker_args *) __attribute__((noreturn));

#endif

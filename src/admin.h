/* Operator commands (ADMIN messages): reload, scale, reset, dead-letters. */
#ifndef COMMIS_ADMIN_H
#define COMMIS_ADMIN_H

#include <stdint.h>

#define ADMIN_MAX_ARGS	8
#define ADMIN_ARG_MAX	256

struct supervisor;
struct evbuffer;

/*
 * Runs argv[0] with its arguments. 0: out holds the answer. -1: out holds
 * why, and *code the enum commis_err for the ERROR reply.
 */
int	admin_run(struct supervisor *, int argc, char **argv,
	    struct evbuffer *out, uint32_t *code);

#endif

/*
 * The exec handler: an external program per job (src/exec.c,
 * docs/cookbook-exec.md).
 */
#ifndef COMMIS_EXEC_H
#define COMMIS_EXEC_H

#include <stddef.h>

#include "commis/handler.h"

struct pool_config;

extern const struct commis_module exec_module;

/* In a worker, after fork: the pool whose exec_* keys the handler uses. */
void	exec_configure(const struct pool_config *);

#endif

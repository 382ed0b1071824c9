/* Worker confinement: privileges dropped, no_new_privs, rlimits. */
#ifndef COMMIS_CONFINE_H
#define COMMIS_CONFINE_H

#include <stddef.h>
#include <sys/types.h>

struct pool_config;

/*
 * In a freshly forked worker: sets no_new_privs, the pool's rlimits, and,
 * when running as root with `user`/`group` set, drops to them
 * (setgroups, setresgid, setresuid, each checked), then sets the parent
 * death signal again (a uid change clears it). 0, or -1 with why.
 */
int	confine_worker(const struct pool_config *, pid_t parent, char *why,
	    size_t whylen);

#endif

/* Listening Unix sockets, created the careful way (control, metrics). */
#ifndef COMMIS_USOCK_H
#define COMMIS_USOCK_H

#include <sys/types.h>

/*
 * Binds and listens on path (non-blocking, CLOEXEC): refuses a
 * world-writable directory, replaces a stale socket (nobody answers) and
 * refuses a live one, binds under umask 0177, then gives it group (name,
 * or "" to keep ours) and mode. The fd, or -1 with *cause (malloc'd),
 * each message starting with what (e.g. "metrics_listen").
 */
int	usock_listen(const char *what, const char *path, mode_t mode,
	    const char *group, int backlog, char **cause);

#endif

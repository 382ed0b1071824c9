/*
 * systemd's notification protocol (sd_notify(3)), spoken directly: one
 * datagram of "KEY=value" lines to $NOTIFY_SOCKET. Everything is a no-op
 * when commisd does not run under a Type=notify service.
 */
#ifndef COMMIS_NOTIFY_H
#define COMMIS_NOTIFY_H

#include <stdint.h>

/*
 * Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once, then removes
 * them from the environment (notify_unsetenv), so that no worker sees
 * them. Call it before anything forks.
 */
void		 notify_init(void);
/* 1 when there is a socket to notify. */
int		 notify_enabled(void);
/* WATCHDOG_USEC when the watchdog is for this process, else 0. */
uint64_t	 notify_watchdog_usec(void);
/*
 * Sends one datagram, e.g. notify_send("READY=1\nSTATUS=%s", s); never
 * blocks. 0, or -1 when it could not be sent (the first failure is
 * logged).
 */
int		 notify_send(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
/*
 * unsetenv(name), and if the variable came with the process (exec), its
 * bytes in the original environment block are wiped too: unsetenv alone
 * leaves them there, and forked workers would show them in
 * /proc/PID/environ.
 */
void		 notify_unsetenv(const char *name);

#endif

/*
 * systemd notifications without libsystemd: the protocol is one AF_UNIX
 * datagram of "KEY=value" lines to the socket named by $NOTIFY_SOCKET
 * ("/path" or "@abstract"). The address and the watchdog interval are
 * read once at start, before any fork, and removed from the environment
 * so that workers (and whatever handlers exec) never see them: the
 * environment is process-wide, which is why this module keeps them in
 * statics rather than in struct supervisor.
 *
 * A socket is opened per message, as sd_notify(3) does, so that no fd is
 * held across the forks of workers. Sending never blocks: if systemd's
 * queue is full the message is dropped, as the event loop must not wait.
 * This module knows nothing of pools or the supervisor; sup.c decides
 * what to say and when.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

static struct sockaddr_un	notify_addr;
static socklen_t		notify_addrlen;	/* 0: not under systemd */
static uint64_t			notify_wd_usec;
static int			notify_failed;

/* Where the process's original environment block lies (from
 * /proc/self/stat, fields 50 and 51), or 0 and 0. */
static void
notify_env_block(unsigned long *start, unsigned long *end)
{
	char		 buf[2048], *p;
	FILE		*f;
	size_t		 n;
	int		 field;

	*start = *end = 0;
	if ((f = fopen("/proc/self/stat", "re")) == NULL)
		return;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* The command name, field 2, is in parentheses and may hold spaces. */
	if ((p = strrchr(buf, ')')) == NULL)
		return;
	p++;
	for (field = 3; field < 50 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu", start, end) != 2)
		*start = *end = 0;
}

void
notify_unsetenv(const char *name)
{
	char		*found[8], **e;
	size_t		 nlen = strlen(name), nfound = 0, i;
	unsigned long	 start, end, a;

	for (e = environ; e != NULL && *e != NULL && nfound < 8; e++) {
		if (strncmp(*e, name, nlen) == 0 && (*e)[nlen] == '=')
			found[nfound++] = *e;
	}
	unsetenv(name);
	if (nfound == 0)
		return;
	/*
	 * Only bytes inside the block the kernel set up at exec: a string
	 * setenv() made lives on the heap, and glibc may still own it.
	 */
	notify_env_block(&start, &end);
	for (i = 0; i < nfound; i++) {
		a = (unsigned long)found[i];
		if (a >= start && a + strlen(found[i]) < end)
			memset(found[i], 0, strlen(found[i]));
	}
}

void
notify_init(void)
{
	const char		*s, *pid;
	unsigned long long	 usec = 0;
	size_t			 len;
	char			*endp;

	notify_addrlen = 0;
	notify_wd_usec = 0;
	notify_failed = 0;
	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	if ((s = getenv("NOTIFY_SOCKET")) != NULL && (len = strlen(s)) > 1 &&
	    (s[0] == '/' || s[0] == '@') && len < sizeof notify_addr.sun_path) {
		memcpy(notify_addr.sun_path, s, len);
		if (s[0] == '@')
			notify_addr.sun_path[0] = '\0';	/* abstract */
		notify_addrlen = (socklen_t)(offsetof(struct sockaddr_un,
		    sun_path) + len + (s[0] == '/'));
	} else if (s != NULL)
		log_warnx("NOTIFY_SOCKET=%s: not a socket address commisd "
		    "can use; no systemd notifications", s);

	if ((s = getenv("WATCHDOG_USEC")) != NULL) {
		errno = 0;
		usec = strtoull(s, &endp, 10);
		if (errno != 0 || endp == s || *endp != '\0')
			usec = 0;
	}
	/* WATCHDOG_PID names the process the watchdog is for. */
	if ((pid = getenv("WATCHDOG_PID")) != NULL &&
	    strtol(pid, NULL, 10) != (long)getpid())
		usec = 0;
	if (notify_addrlen > 0)
		notify_wd_usec = usec;

	notify_unsetenv("NOTIFY_SOCKET");
	notify_unsetenv("WATCHDOG_USEC");
	notify_unsetenv("WATCHDOG_PID");
}

int
notify_enabled(void)
{
	return notify_addrlen > 0;
}

uint64_t
notify_watchdog_usec(void)
{
	return notify_wd_usec;
}

int
notify_send(const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;
	int	fd, n, r = 0;

	if (notify_addrlen == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n >= sizeof msg)
		n = sizeof msg - 1;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
	    sendto(fd, msg, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT,
	    (struct sockaddr *)&notify_addr, notify_addrlen) != n) {
		if (!notify_failed)
			log_warn("cannot notify systemd (%.*s)",
			    (int)strcspn(msg, "\n"), msg);
		else
			log_debug("cannot notify systemd (%.*s): %s",
			    (int)strcspn(msg, "\n"), msg, strerror(errno));
		notify_failed = 1;
		r = -1;
	}
	if (fd != -1)
		close(fd);
	return r;
}

/*
 * Logging: one record per event, to stderr or to syslog(3). On stderr a
 * record is "commisd[pid]: level: message", or, when stderr is systemd's
 * journal (JOURNAL_STREAM) or --log-format=journal asks for it, "<N>message"
 * with the syslog priority N, since the journal adds the time and the
 * ident itself. log_warn and fatal append strerror(errno). libevent's own
 * messages are routed here too. Forked workers inherit all of this and
 * log through the same code.
 *
 * A record is written with one write(2), so that the lines of commisd and
 * of its workers, which share stderr, never interleave mid-line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

#define LOG_MSG_MAX	2048

static const char	*log_ident = "commis";
static enum log_level	 log_lvl = LOG_LVL_INFO;
static enum log_format	 log_fmt = LOG_FMT_HUMAN;
static int		 log_syslog;

static const char *const log_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

/* syslog(3) priorities, which are also the journal's "<N>" prefixes. */
static const int log_prio[] = {
	[LOG_LVL_ERROR] = LOG_ERR,
	[LOG_LVL_WARN] = LOG_WARNING,
	[LOG_LVL_INFO] = LOG_INFO,
	[LOG_LVL_DEBUG] = LOG_DEBUG,
};

static const char *const log_fmt_names[] = {
	[LOG_FMT_HUMAN] = "human",
	[LOG_FMT_JOURNAL] = "journal",
};

static void
log_write(const char *buf, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(STDERR_FILENO, buf, len)) == -1) {
			if (errno == EINTR)
				continue;
			return;		/* nowhere left to complain */
		}
		buf += n;
		len -= (size_t)n;
	}
}

/* Journal format: every line of a multi-line message gets the prefix,
 * or the journal would file the continuation lines as info. */
static void
log_emit_journal(enum log_level lvl, const char *msg)
{
	char		 out[LOG_MSG_MAX * 2];
	size_t		 len = 0, n;
	const char	*nl;
	int		 w;

	do {
		nl = strchr(msg, '\n');
		n = nl != NULL ? (size_t)(nl - msg) : strlen(msg);
		w = snprintf(out + len, sizeof out - len, "<%d>%.*s\n",
		    log_prio[lvl], (int)n, msg);
		if (w < 0 || (size_t)w >= sizeof out - len)
			break;
		len += (size_t)w;
		msg = nl != NULL ? nl + 1 : NULL;
	} while (msg != NULL && *msg != '\0');
	log_write(out, len);
}

static void
log_emit(enum log_level lvl, const char *msg)
{
	char	out[LOG_MSG_MAX + 128];
	int	n;

	if (log_syslog) {
		syslog(LOG_DAEMON | log_prio[lvl], "%s", msg);
		return;
	}
	if (log_fmt == LOG_FMT_JOURNAL) {
		log_emit_journal(lvl, msg);
		return;
	}
	n = snprintf(out, sizeof out, "%s[%ld]: %s: %s\n", log_ident,
	    (long)getpid(), log_names[lvl], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof out) {
		n = sizeof out - 1;
		out[n - 1] = '\n';
	}
	log_write(out, (size_t)n);
}

/* ctx (or NULL) goes before the message, with a space. */
static void
log_vlog(enum log_level lvl, int with_errno, const char *ctx, const char *fmt,
    va_list ap)
{
	char	msg[LOG_MSG_MAX];
	size_t	len = 0;
	int	saved = errno;

	if (lvl > log_lvl)
		return;
	if (ctx != NULL)
		len = (size_t)snprintf(msg, sizeof msg, "%s ", ctx);
	if (len < sizeof msg)
		vsnprintf(msg + len, sizeof msg - len, fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof msg - len, ": %s", strerror(saved));
	}
	log_emit(lvl, msg);
	errno = saved;
}

static void
log_event_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

int
log_journal_stream(int fd)
{
	const char		*s = getenv("JOURNAL_STREAM");
	unsigned long long	 dev, ino;
	struct stat		 st;
	int			 end = 0;

	if (s == NULL || sscanf(s, "%llu:%llu%n", &dev, &ino, &end) != 2 ||
	    s[end] != '\0' || fstat(fd, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_init(const char *ident, enum log_level lvl)
{
	log_ident = ident;
	log_lvl = lvl;
	log_fmt = log_journal_stream(STDERR_FILENO) ? LOG_FMT_JOURNAL :
	    LOG_FMT_HUMAN;
	event_set_log_callback(log_event_cb);
}

void
log_set_level(enum log_level lvl)
{
	log_lvl = lvl;
}

void
log_set_format(enum log_format fmt)
{
	log_fmt = fmt;
}

enum log_format
log_get_format(void)
{
	return log_fmt;
}

int
log_format_parse(const char *s, enum log_format *fmt)
{
	size_t	i;

	for (i = 0; i < sizeof log_fmt_names / sizeof log_fmt_names[0]; i++) {
		if (strcmp(s, log_fmt_names[i]) == 0) {
			*fmt = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

/*
 * glibc's syslog keeps a socket open. A forked worker closes every fd
 * above its channel, and the number may then be reused by a job's
 * segment, which syslog would write to and close. The child drops the
 * connection at fork instead; its next record opens its own.
 */
static void
log_atfork_child(void)
{
	closelog();
}

void
log_open_syslog(void)
{
	static int	registered;

	if (!registered && pthread_atfork(NULL, NULL, log_atfork_child) == 0)
		registered = 1;
	openlog(log_ident, LOG_PID, LOG_DAEMON);
	log_syslog = 1;
}

int
log_level_parse(const char *s, enum log_level *lvl)
{
	size_t	i;

	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*lvl = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level lvl)
{
	return log_names[lvl];
}

#define LOG_FN(name, lvl, err)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
								\
	va_start(ap, fmt);					\
	log_vlog(lvl, err, NULL, fmt, ap);			\
	va_end(ap);						\
}
LOG_FN(log_errorx, LOG_LVL_ERROR, 0)
LOG_FN(log_warn, LOG_LVL_WARN, 1)
LOG_FN(log_warnx, LOG_LVL_WARN, 0)
LOG_FN(log_info, LOG_LVL_INFO, 0)
LOG_FN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_ERROR, 1, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vlog(LOG_LVL_ERROR, 0, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

/* "pool=NAME": a value with a space, quote, backslash, '=' or control
 * character is quoted, so that a record splits on spaces unambiguously. */
static size_t
log_kv(char *buf, size_t size, size_t len, const char *key, const char *v)
{
	const char	*p;
	int		 plain = *v != '\0';

	if (len >= size)
		return len;
	for (p = v; *p != '\0' && plain; p++) {
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\' ||
		    *p == '=' || *p == 0x7f)
			plain = 0;
	}
	len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", len ? " " :
	    "", key, plain ? v : "\"");
	if (plain)
		return len;
	for (p = v; *p != '\0' && len + 3 < size; p++) {
		if (*p == '"' || *p == '\\')
			buf[len++] = '\\';
		buf[len++] = (unsigned char)*p < ' ' || *p == 0x7f ? '?' : *p;
	}
	if (len + 1 < size)
		buf[len++] = '"';
	buf[len < size ? len : size - 1] = '\0';
	return len;
}

#define LOG_CTX_MAX	256

void
log_pool(enum log_level lvl, const char *pool, const char *fmt, ...)
{
	char	ctx[LOG_CTX_MAX];
	va_list	ap;

	if (lvl > log_lvl)
		return;
	log_kv(ctx, sizeof ctx, 0, "pool", pool != NULL ? pool : "-");
	va_start(ap, fmt);
	log_vlog(lvl, 0, ctx, fmt, ap);
	va_end(ap);
}

void
log_worker(enum log_level lvl, const char *pool, unsigned id, long pid,
    const char *fmt, ...)
{
	char	ctx[LOG_CTX_MAX];
	size_t	len;
	va_list	ap;

	if (lvl > log_lvl)
		return;
	len = log_kv(ctx, sizeof ctx, 0, "pool", pool != NULL ? pool : "-");
	if (len < sizeof ctx)
		snprintf(ctx + len, sizeof ctx - len, " worker=%u pid=%ld", id,
		    pid);
	va_start(ap, fmt);
	log_vlog(lvl, 0, ctx, fmt, ap);
	va_end(ap);
}

void
log_job(enum log_level lvl, const char *pool, unsigned long long job,
    const char *fmt, ...)
{
	char	ctx[LOG_CTX_MAX];
	size_t	len;
	va_list	ap;

	if (lvl > log_lvl)
		return;
	len = log_kv(ctx, sizeof ctx, 0, "pool", pool != NULL ? pool : "-");
	if (len < sizeof ctx)
		snprintf(ctx + len, sizeof ctx - len, " job=%llu", job);
	va_start(ap, fmt);
	log_vlog(lvl, 0, ctx, fmt, ap);
	va_end(ap);
}

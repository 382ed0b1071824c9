/*
 * Logging, one record per event: to stderr in a human format or in the
 * journal's "<N>message" format, or through syslog(3). The only global
 * state of the daemon besides the signal bridge (and the systemd
 * environment notify.c reads once).
 */
#ifndef COMMIS_LOG_H
#define COMMIS_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_format {
	LOG_FMT_HUMAN = 0,	/* "commisd[pid]: level: message" */
	LOG_FMT_JOURNAL,	/* "<N>message": systemd adds time and ident */
};

/* Human format, unless JOURNAL_STREAM says stderr is the journal. */
void	log_init(const char *ident, enum log_level);
void	log_set_level(enum log_level);
int	log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
void	log_set_format(enum log_format);
enum log_format log_get_format(void);
/* "human" or "journal"; 0 or -1. */
int	log_format_parse(const char *, enum log_format *);
/* 1 when $JOURNAL_STREAM holds fd's "device:inode" (systemd.exec(5)). */
int	log_journal_stream(int fd);
/* From now on through syslog(3), facility daemon, instead of stderr. */
void	log_open_syslog(void);

void	log_errorx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/*
 * Records about a pool, a worker or a job start with key=value context,
 * in this order: "pool=NAME worker=ID pid=PID job=ID message". A record
 * about a job on a worker is log_worker() with a message that starts
 * "job=%llu ". A value that is not plain (space, quote, '=') is quoted.
 */
void	log_pool(enum log_level, const char *pool, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
void	log_worker(enum log_level, const char *pool, unsigned id, long pid,
	    const char *, ...) __attribute__((format(printf, 5, 6)));
void	log_job(enum log_level, const char *pool, unsigned long long job,
	    const char *, ...) __attribute__((format(printf, 4, 5)));

#endif

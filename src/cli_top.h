/*
 * commis top: a live view of the workers, built on the JSON stats
 * (docs/operations.md, "Stats"). cli_admin.c owns the command (options,
 * the connection); cli_top.c owns the snapshot, its rendering and the
 * terminal, and reads the JSON with cli_json.c. Parsing and rendering are
 * apart from the terminal so that the tests can drive them with a JSON
 * text.
 */
#ifndef COMMIS_CLI_TOP_H
#define COMMIS_CLI_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "commis/client.h"

#define TOP_INTERVAL_DEFAULT	1000	/* ms */
#define TOP_INTERVAL_MIN	10
#define TOP_INTERVAL_MAX	3600000

struct top_opts {
	int		 interval_ms;
	long long	 count;		/* refreshes; 0: until q or a signal */
};

/* One worker; -1 marks a figure the stats did not have. */
struct top_worker {
	char		 pool[COMMIS_NAME_MAX];
	long long	 pid;
	char		 state[16];
	long long	 job;		/* the job running, or -1 */
	long long	 job_age_ms;
	long long	 rss_kb;
	long long	 cpu_ms;
	long long	 jobs_done;
	long long	 timeout_ms;	/* its pool's job timeout */
};

struct top_snap {
	char		 version[32];
	long long	 pid;		/* commisd's */
	long long	 uptime_ms;
	size_t		 npools;
	long long	 queued;	/* sums over the pools */
	long long	 succeeded;
	long long	 restarts;
	double		 e2e_p99_us;	/* the largest of the pools, or -1 */
	int		 e2e_recent;	/* of the last minute, not the run */
	uint64_t	 at_ms;		/* when it was taken (monotonic) */
	double		 throughput;	/* succeeded jobs/s since the
					   snapshot before, or -1 */
	size_t		 nw;
	struct top_worker *w;
};

enum top_sort {
	TOP_SORT_PID = 0,
	TOP_SORT_AGE,		/* longest-running job first */
	TOP_SORT_RSS,		/* largest first */
	TOP_SORT_JOBS,		/* most jobs done first */
	TOP_NSORTS
};

struct top_view {
	enum top_sort	 sort;
	int		 tty;		/* bars and the sort key; else plain */
	int		 cols;		/* screen size (tty) */
	int		 rows;
};

/* Runs the view on c until q, a signal or o->count refreshes. Returns
 * an EXIT_CLI_* code (>= 0) after saying why, or a negative libcommis
 * code for the caller to report. */
int		 top_run(commis_client *c, const struct top_opts *o);

/* A snapshot of a stats JSON text, or NULL with the reason in err. */
struct top_snap	*top_snap_parse(const char *json, char *err, size_t errsz);
void		 top_snap_free(struct top_snap *);
/* Sets now->throughput from the snapshot before (NULL: none). */
void		 top_snap_rate(struct top_snap *now,
		    const struct top_snap *prev);
void		 top_sort(struct top_snap *, enum top_sort);
const char	*top_sort_name(enum top_sort);
/* One screen: the header line, (tty) the keys, the column titles and
 * one line per worker. */
void		 top_render(FILE *, const struct top_snap *,
		    const struct top_view *);

#endif

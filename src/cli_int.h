/*
 * The commis command line's insides, shared by its modules: cli.c (the
 * command table, the dispatch and the common helpers declared here),
 * cli_jobs.c and cli_admin.c (the commands, each an entry's handler;
 * bench's is in cli_bench.h). Not for anything outside the CLI.
 */
#ifndef COMMIS_CLI_INT_H
#define COMMIS_CLI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "commis/client.h"

struct cli_ctx {
	const char	*sock_opt;	/* -s SOCKET */
	const char	*path;		/* the socket connected to */
	char		 sock[108];	/* from the config file */
};

/* The positional arguments of an operator command (cli_admin). */
enum cli_arg {
	CLI_ARG_NONE = 0,
	CLI_ARG_POOL,		/* a pool name */
	CLI_ARG_COUNT,		/* a number of workers */
	CLI_ARG_JOB,		/* a job id */
};

struct cli_cmd {
	const char	*name;
	const char	*args;
	const char	*help;
	int		(*exec)(struct cli_ctx *, const struct cli_cmd *, int,
			    char **);
	enum cli_arg	 admin[2];	/* cli_admin: what follows the name */
};

/* A command's option: "--name VALUE" (or "--name=VALUE"), or a flag. */
struct cli_opt {
	const char	*name;
	const char	**arg;		/* NULL for a flag */
	int		*flag;
};

/* cli.c: prints "commis: why" and the usage line; returns EXIT_CLI_USAGE. */
int	cli_usage_error(const struct cli_cmd *, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Options anywhere among the arguments, "--" ends them: the number of
 * arguments put in pos (at most npos), or -1 after the usage error. */
int	cli_getopt(const struct cli_cmd *, int argc, char **argv,
	    const struct cli_opt *opts, char **pos, int npos);
/* Strict decimal within [min, max]; -1 after the usage error. */
int	cli_number(const struct cli_cmd *, const char *what, const char *s,
	    long long min, long long max, long long *out);
/* A job id: plain decimal, 1 or more; -1 after the usage error. */
int	cli_job_id(const struct cli_cmd *, const char *s, uint64_t *id);
/* Connects to the socket (-s, $COMMIS_SOCKET, the config, the default);
 * an EXIT_CLI_* code, after saying why on failure. */
int	cli_connect(struct cli_ctx *, commis_client **);
/* The exit code for a libcommis failure, after saying why. */
int	cli_failure(commis_client *, int rc);
/* Writes and flushes stdout; an EXIT_CLI_* code. */
int	cli_write(const void *, size_t);

/* cli_jobs.c */
int	cli_submit(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_status(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_wait(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_cancel(struct cli_ctx *, const struct cli_cmd *, int, char **);

/* cli_admin.c */
int	cli_admin(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_dead(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_stats(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_top(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_events(struct cli_ctx *, const struct cli_cmd *, int, char **);
int	cli_ping(struct cli_ctx *, const struct cli_cmd *, int, char **);

#endif
